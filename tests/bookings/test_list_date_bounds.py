"""Booking lists refuse dates they cannot compute with: 400, never 500 (issue 13 #5)."""

import pytest

from conftest import authed_client
from tests.common.test_problem_details import assert_problem


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "date=9999-12-31",
        "date=0001-01-01",
        "from=9999-12-31T23:00:00Z",
        "to=0001-01-01T00:00:00%2B05:30",
        "from=0001-01-01T00:00:00%2B05:30",
    ],
)
@pytest.mark.parametrize("who", ["customer", "provider"])
def test_a_date_out_of_range_is_a_400_validation_error(customer_client, partner, who, query):
    client, path = (
        (customer_client, "/api/v1/bookings")
        if who == "customer"
        else (authed_client(partner.user), "/api/v1/provider/bookings")
    )

    body = assert_problem(client.get(f"{path}?{query}"), 400, "validation_error")

    assert "between 2000-01-01 and 2999-12-31" in body["detail"]


@pytest.mark.django_db
def test_a_date_in_range_still_filters(customer_client):
    response = customer_client.get("/api/v1/bookings?date=2030-01-01")

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["from=9999-12-31T23:00:00Z", "to=0001-01-01T00:00:00%2B05:30"])
def test_public_slot_windows_are_bounded_too(api_client, partner, query):
    assert_problem(
        api_client.get(f"/api/v1/partners/{partner.pk}/slots?{query}"), 400, "validation_error"
    )
