"""A customer lists their own refunds and disputes; another customer's is a 404."""

import pytest

from conftest import authed_client
from tests.factories.accounts import CustomerFactory
from tests.factories.refunds import CapturedPaymentFactory, DisputeFactory, create_refund_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine_and_theirs(customer):
    other = CustomerFactory()
    my_payment = CapturedPaymentFactory(booking__customer=customer)
    mine = [
        create_refund_of(my_payment, 1000, reason="first"),
        create_refund_of(my_payment, 2000, reason="second"),
    ]
    theirs = create_refund_of(CapturedPaymentFactory(booking__customer=other), 500)
    return {"other": other, "mine": mine, "theirs": theirs}


def test_a_customer_lists_only_their_own_refunds_newest_first(customer_client, mine_and_theirs):
    response = customer_client.get("/api/v1/refunds")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [r.pk for r in reversed(mine_and_theirs["mine"])]
    newest = body["results"][0]
    refund = mine_and_theirs["mine"][1]
    assert newest["booking_id"] == refund.booking_id
    assert (newest["amount"], newest["currency"]) == (2000, refund.currency)
    assert newest["status"] == refund.status
    # what is for support only stays out
    assert not {"gateway_refund_id", "attempts", "last_error", "payment_id"} & set(newest)


def test_one_own_refund_is_shown_and_another_customers_is_a_404(customer_client, mine_and_theirs):
    own = customer_client.get(f"/api/v1/refunds/{mine_and_theirs['mine'][0].pk}")
    theirs = customer_client.get(f"/api/v1/refunds/{mine_and_theirs['theirs'].pk}")
    missing = customer_client.get("/api/v1/refunds/99999999999999999999")

    assert own.status_code == 200
    assert own.json()["amount"] == 1000
    assert theirs.status_code == 404
    assert theirs["Content-Type"] == "application/problem+json"
    assert theirs.json()["code"] == "refund_not_found"
    assert missing.status_code == 404


def test_a_customer_lists_only_their_own_disputes(customer, customer_client):
    first = DisputeFactory(booking__customer=customer, reason="No show")
    second = DisputeFactory(booking__customer=customer, reason="Half done")
    DisputeFactory(booking__customer=CustomerFactory())

    response = customer_client.get("/api/v1/disputes")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["id"] for d in results] == [second.pk, first.pk]
    assert results[0]["reason"] == "Half done"
    assert results[0]["booking_id"] == second.booking_id


def test_another_customers_dispute_is_a_404(customer_client, customer):
    theirs = DisputeFactory(booking__customer=CustomerFactory())
    own = DisputeFactory(booking__customer=customer)

    assert customer_client.get(f"/api/v1/disputes/{own.pk}").status_code == 200
    response = customer_client.get(f"/api/v1/disputes/{theirs.pk}")

    assert response.status_code == 404
    assert response.json()["code"] == "dispute_not_found"


@pytest.mark.parametrize("path", ["/api/v1/refunds", "/api/v1/disputes"])
def test_the_lists_are_for_customers(path, partner_user, support_user, api_client):
    assert api_client.get(path).status_code == 401
    assert authed_client(partner_user).get(path).status_code == 403
    assert authed_client(support_user).get(path).status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/refunds/1", "/api/v1/disputes/1"])
def test_the_lists_are_read_only(path, customer_client):
    assert customer_client.delete(path).status_code == 405
    assert customer_client.patch(path, {}, format="json").status_code == 405
