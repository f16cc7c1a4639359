import pytest

from partners.models import Staff
from tests.factories.partners import StaffFactory

URL = "/api/v1/provider/staff"


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


@pytest.mark.django_db
def test_partner_adds_and_lists_own_staff(partner_client, partner, other_partner):
    StaffFactory(partner=other_partner)

    created = partner_client.post(
        URL, {"name": "Ravi Kumar", "phone": "+919800000000"}, format="json"
    )
    listed = partner_client.get(URL)

    assert created.status_code == 201
    staff = Staff.objects.get(partner=partner)
    assert created.json()["id"] == staff.pk
    assert created.json()["active"] is True
    assert staff.name == "Ravi Kumar"
    assert [s["id"] for s in listed.json()["results"]] == [staff.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,field",
    [({}, "name"), ({"name": ""}, "name"), ({"name": "A", "email": "nope"}, "email")],
)
def test_invalid_staff_is_a_400_and_nothing_is_written(partner_client, payload, field):
    body = _problem(partner_client.post(URL, payload, format="json"), 400, "validation_error")

    assert field in body["errors"]
    assert not Staff.objects.exists()


@pytest.mark.django_db
def test_partner_updates_and_deactivates_own_staff(partner_client, partner):
    staff = StaffFactory(partner=partner, name="Old")

    patched = partner_client.patch(f"{URL}/{staff.pk}", {"name": "New"}, format="json")
    deleted = partner_client.delete(f"{URL}/{staff.pk}")

    assert patched.status_code == 200
    assert patched.json()["name"] == "New"
    assert deleted.status_code == 204
    staff.refresh_from_db()
    assert (staff.name, staff.active) == ("New", False)


@pytest.mark.django_db
def test_partner_cannot_see_or_change_another_partners_staff(partner_client, other_partner):
    staff = StaffFactory(partner=other_partner, name="Theirs")

    _problem(partner_client.get(f"{URL}/{staff.pk}"), 404, "staff_not_found")
    _problem(
        partner_client.patch(f"{URL}/{staff.pk}", {"name": "Mine"}, format="json"),
        404,
        "staff_not_found",
    )
    _problem(partner_client.delete(f"{URL}/{staff.pk}"), 404, "staff_not_found")
    staff.refresh_from_db()
    assert (staff.name, staff.active) == ("Theirs", True)


@pytest.mark.django_db
def test_customer_cannot_use_the_staff_api(customer_client):
    _problem(customer_client.get(URL), 403, "permission_denied")
    _problem(customer_client.post(URL, {"name": "X"}, format="json"), 403, "permission_denied")
    assert not Staff.objects.exists()


@pytest.mark.django_db
def test_empty_patch_of_own_staff_changes_nothing_and_is_not_a_404(partner_client, partner):
    staff = StaffFactory(partner=partner, name="Same")

    response = partner_client.patch(f"{URL}/{staff.pk}", {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Same"
    staff.refresh_from_db()
    assert (staff.name, staff.active) == ("Same", True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": ""}, "name"),
        ({"email": "nope"}, "email"),
        ({"active": "maybe"}, "active"),
        ({"name": None}, "name"),
        ({"name": "x" * 1000}, "name"),
    ],
)
def test_invalid_staff_patch_is_a_400_and_changes_nothing(partner_client, partner, payload, field):
    staff = StaffFactory(partner=partner, name="Same", email="same@example.test")

    response = partner_client.patch(f"{URL}/{staff.pk}", payload, format="json")

    body = _problem(response, 400, "validation_error")
    assert field in body["errors"]
    staff.refresh_from_db()
    assert (staff.name, staff.email, staff.active) == ("Same", "same@example.test", True)


@pytest.mark.django_db
def test_empty_patch_of_another_partners_staff_is_still_a_404(partner_client, other_partner):
    staff = StaffFactory(partner=other_partner)

    _problem(partner_client.patch(f"{URL}/{staff.pk}", {}, format="json"), 404, "staff_not_found")
