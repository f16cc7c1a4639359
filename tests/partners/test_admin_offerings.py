"""The admin shows a partner's offerings and a slot's seat types, and support can edit
them without touching what bookings hold."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from bookings.models import BookingStatus
from partners.models import PartnerOffering, Slot, SlotSeatType
from tests.factories.bookings import BookingFactory
from tests.factories.partners import PartnerFactory, ServiceVariantFactory, SlotFactory, offer


@pytest.fixture
def admin_client(client, support_user):
    client.force_login(support_user)
    return client


def _posted_form(response) -> dict:
    """The change form as the browser would post it back, inlines included."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if hasattr(field.widget, "widgets"):  # split date/time
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = part
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, field in formset.management_form.fields.items():
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for inline_form in formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if isinstance(value, bool):
                    if value:
                        data[inline_form.add_prefix(name)] = "on"
                elif value is not None:
                    data[inline_form.add_prefix(name)] = value
    return data


@pytest.mark.django_db
def test_support_sees_a_partners_offerings_and_corrects_a_price(admin_client):
    partner = PartnerFactory()
    variant = ServiceVariantFactory(price_minor=49900)
    offering = offer(partner, variant, price_minor=45000)
    url = f"/admin/partners/partner/{partner.pk}/change/"

    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'value="450.00"' in page.content.decode()  # major units
    data = _posted_form(page)
    index = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.endswith("-id") and value == offering.pk
    )
    data[f"offerings-{index}-price"] = "475.00"  # major units, stored as 47500 paise

    response = admin_client.post(url, data)

    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else ""
    )
    offering.refresh_from_db()
    assert (offering.price_minor, offering.active) == (47500, True)


@pytest.mark.django_db
def test_support_cannot_set_a_price_above_the_maximum(admin_client, settings):
    settings.OFFERING_MAX_PRICE_MINOR = 100000
    partner = PartnerFactory()
    offering = offer(partner, ServiceVariantFactory(price_minor=49900))
    url = f"/admin/partners/partner/{partner.pk}/change/"
    data = _posted_form(admin_client.get(url))
    index = next(
        key.split("-")[1] for key, v in data.items() if key.endswith("-id") and v == offering.pk
    )
    data[f"offerings-{index}-price"] = "1000.01"  # 100001 paise

    response = admin_client.post(url, data)

    assert response.status_code == 200  # the form again, with the error
    offering.refresh_from_db()
    assert offering.price_minor == 49900
    assert PartnerOffering.objects.count() == 1


@pytest.mark.django_db
def test_slot_seat_types_are_edited_inline_and_never_overwrite_seats_booked_meanwhile(admin_client):
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(
        start=start,
        end=start + timedelta(hours=1),
        seat_types=[("regular", 10), ("front", 2, 79900)],
    )
    url = f"/admin/partners/slot/{slot.pk}/change/"
    page = admin_client.get(url)
    assert "Front" in page.content.decode() or "front" in page.content.decode()
    with timezone.override(ZoneInfo(slot.partner.city.time_zone)):  # the form's zone
        data = _posted_form(page)
    front_index = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.endswith("-code") and value == "front"
    )
    assert data[f"seat_types-{front_index}-price"] == "799.00"  # its own price, major units
    data[f"seat_types-{front_index}-capacity"] = "3"
    data[f"seat_types-{front_index}-price"] = "849.50"
    # A booking takes a regular seat between the admin loading the page and saving it.
    BookingFactory(slot=slot, seat_type="regular", status=BookingStatus.CONFIRMED)

    response = admin_client.post(url, data)

    assert response.status_code == 302, [f.errors for f in [response.context["adminform"].form]] + [
        fs.formset.errors for fs in response.context["inline_admin_formsets"]
    ]
    seats = dict(
        (code, (capacity, booked))
        for code, capacity, booked in SlotSeatType.objects.filter(slot=slot).values_list(
            "code", "capacity", "booked"
        )
    )
    assert seats == {"regular": (10, 1), "front": (3, 0)}
    prices = dict(SlotSeatType.objects.filter(slot=slot).values_list("code", "price_minor"))
    assert prices == {"regular": None, "front": 84950}
    slot = Slot.objects.get(pk=slot.pk)
    assert (slot.capacity, slot.booked) == (13, 1)


@pytest.mark.django_db
def test_a_seat_type_cannot_shrink_below_its_booked_seats_in_the_admin(admin_client):
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(
        start=start, end=start + timedelta(hours=1), seat_types=[("regular", 3), ("front", 2)]
    )
    BookingFactory(slot=slot, seat_type="front", quantity=2, status=BookingStatus.CONFIRMED)
    url = f"/admin/partners/slot/{slot.pk}/change/"
    with timezone.override(ZoneInfo(slot.partner.city.time_zone)):  # the form's zone
        data = _posted_form(admin_client.get(url))
    front_index = next(
        key.split("-")[1] for key, v in data.items() if key.endswith("-code") and v == "front"
    )
    data[f"seat_types-{front_index}-capacity"] = "1"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "2 seats are already booked." in response.content.decode()
    assert SlotSeatType.objects.get(slot=slot, code="front").capacity == 2
    assert Slot.objects.get(pk=slot.pk).capacity == 5
