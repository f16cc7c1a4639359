"""Demo catalog for the embedded default: cities, services, partners, staff, slots, logins.

Every function is idempotent (get_or_create / update_or_create, slots only where none
overlap), so ``load_demo_data`` can run on every ``make run``. Other apps add their own demo
rows by defining ``<app>/demo_data.py`` with ``load_demo_data(*, stdout)``; the management
command calls each after this one.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from common.roles import Role
from partners import services
from partners.models import City, Partner, PartnerOffering, Service, ServiceVariant, Slot, Staff

DEMO_PASSWORD = "slotwise-demo"  # noqa: S105 - printed demo credential, embedded mode only
CUSTOMER_EMAIL = "customer@example.com"
PARTNER_EMAIL = "partner@example.com"
SUPPORT_EMAIL = "support@example.com"

CITIES = [
    ("Bengaluru", "bengaluru", "Asia/Kolkata"),
    ("Mumbai", "mumbai", "Asia/Kolkata"),
    ("Delhi", "delhi", "Asia/Kolkata"),
]

# slug -> (name, description, {tier: (price in paise, duration minutes)})
SERVICES = {
    "home-cleaning": (
        "Home Cleaning",
        "Deep cleaning of a flat or house.",
        {"basic": (49900, 120), "premium": (89900, 180), "express": (69900, 90)},
    ),
    "ac-repair": (
        "AC Service & Repair",
        "Servicing, gas top-up and repair of split and window ACs.",
        {"basic": (39900, 60), "premium": (79900, 90), "express": (59900, 45)},
    ),
    "salon-at-home": (
        "Salon at Home",
        "Haircut, grooming and beauty services at your door.",
        {"basic": (59900, 60), "premium": (129900, 90), "express": (89900, 45)},
    ),
    "yoga-class": (
        "Yoga Class",
        "Group yoga sessions in a studio.",
        {"basic": (29900, 60), "premium": (49900, 60), "express": (39900, 45)},
    ),
}


@dataclass(frozen=True)
class DemoPartner:
    name: str
    city: str
    services: tuple[str, ...]
    rating: str
    staff: tuple[str, ...]
    capacity: int = 1
    user_email: str | None = None
    # As long as the longest variant of the partner's services, so every variant fits
    # every slot (a booking is refused when the variant takes longer than the slot).
    slot_minutes: int = 60
    # The partner's prices, in percent of the catalog's list prices: each partner sets its
    # own, so the demo partners of one service charge differently.
    price_percent: int = 100
    # Kinds of seats of each slot (code, label, capacity, own price or None); empty: one
    # standard type of ``capacity``.
    seat_types: tuple[services.SeatTypeSpec, ...] = ()


PARTNERS = [
    DemoPartner(
        "Sparkle Home Services",
        "bengaluru",
        ("home-cleaning", "ac-repair"),
        "4.60",
        ("Ravi Kumar", "Anita Rao", "Suresh Gowda"),
        user_email=PARTNER_EMAIL,
        slot_minutes=180,
    ),
    # A second home-cleaning partner in Bengaluru, at the same hours: when Sparkle cancels a
    # confirmed booking, Shine takes it over (README walk-through, reassignment).
    DemoPartner(
        "Shine Homes",
        "bengaluru",
        ("home-cleaning",),
        "4.20",
        ("Kiran Das",),
        slot_minutes=180,
        price_percent=90,
    ),
    # A studio class sells regular mats and a front row at its own price.
    DemoPartner(
        "Flow Yoga Studio",
        "bengaluru",
        ("yoga-class",),
        "4.80",
        ("Meera Iyer",),
        capacity=12,
        seat_types=(
            services.SeatTypeSpec("regular", 10, "Regular"),
            services.SeatTypeSpec("front", 2, "Front row", 44900),
        ),
    ),
    DemoPartner(
        "CoolBreeze AC Care",
        "mumbai",
        ("ac-repair",),
        "4.30",
        ("Imran Shaikh", "Joy D'Souza"),
        slot_minutes=90,
        price_percent=95,
    ),
    DemoPartner(
        "Glow Salon at Home",
        "mumbai",
        ("salon-at-home",),
        "4.50",
        ("Priya Nair", "Kavya Shah"),
        slot_minutes=90,
        price_percent=105,
    ),
    DemoPartner(
        "Capital Cleaners",
        "delhi",
        ("home-cleaning", "ac-repair"),
        "4.40",
        ("Amit Verma", "Neha Singh"),
        slot_minutes=180,
        price_percent=110,
    ),
    DemoPartner(
        "Sunrise Yoga Delhi",
        "delhi",
        ("yoga-class",),
        "4.70",
        ("Rohit Malhotra",),
        capacity=8,
        price_percent=85,
    ),
]

SLOT_DAYS = 7
DAY_START, DAY_END = time(9), time(18)  # local working hours, cut into back-to-back slots


def ensure_cities() -> dict[str, City]:
    cities = {}
    for name, slug, tz in CITIES:
        cities[slug], _ = City.objects.update_or_create(
            slug=slug, defaults={"name": name, "time_zone": tz}
        )
    return cities


def ensure_services() -> dict[str, Service]:
    catalog = {}
    for slug, (name, description, tiers) in SERVICES.items():
        service, _ = Service.objects.update_or_create(
            slug=slug, defaults={"name": name, "description": description, "active": True}
        )
        for tier, (price_minor, minutes) in tiers.items():
            ServiceVariant.objects.update_or_create(
                service=service,
                tier=tier,
                defaults={
                    "name": ServiceVariant.Tier(tier).label,
                    "price_minor": price_minor,
                    "currency": "INR",
                    "duration_minutes": minutes,
                    "active": True,
                },
            )
        catalog[slug] = service
    return catalog


def ensure_user(*, email: str, role: str, name: str, staff: bool = False) -> AbstractBaseUser:
    """A demo login with the demo password (reset on every run so the printed one works)."""
    user, _ = get_user_model().objects.update_or_create(
        email=email,
        defaults={
            "role": role,
            "name": name,
            "is_active": True,
            "is_staff": staff,
            # Support works through the Support group's permissions (console.demo_data).
            "is_superuser": False,
        },
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    return user


def ensure_users() -> dict[str, AbstractBaseUser]:
    return {
        CUSTOMER_EMAIL: ensure_user(email=CUSTOMER_EMAIL, role=Role.CUSTOMER, name="Demo Customer"),
        PARTNER_EMAIL: ensure_user(email=PARTNER_EMAIL, role=Role.PARTNER, name="Demo Partner"),
        SUPPORT_EMAIL: ensure_user(
            email=SUPPORT_EMAIL, role=Role.SUPPORT, name="Demo Support", staff=True
        ),
    }


def ensure_partner(
    spec: DemoPartner, *, cities: dict[str, City], catalog: dict[str, Service], users: dict
) -> Partner:
    partner, _ = Partner.objects.update_or_create(
        name=spec.name,
        city=cities[spec.city],
        defaults={
            "rating": spec.rating,
            "verified": True,
            "active": True,
            "user": users.get(spec.user_email) if spec.user_email else None,
        },
    )
    for slug in spec.services:
        for variant in catalog[slug].variants.all():
            # Whole rupees: the list price scaled by the partner's percent.
            price = variant.price_minor * spec.price_percent // 100 // 100 * 100
            PartnerOffering.objects.update_or_create(
                partner=partner,
                variant=variant,
                defaults={"price_minor": price, "currency": variant.currency, "active": True},
            )
    for number, staff_name in enumerate(spec.staff, start=1):
        Staff.objects.get_or_create(
            partner=partner,
            name=staff_name,
            defaults={"phone": f"+91980000{partner.pk:02d}{number:02d}", "active": True},
        )
    return partner


def ensure_week_of_slots(
    partner: Partner,
    *,
    capacity: int,
    minutes: int = 60,
    today=None,
    seat_types: tuple[services.SeatTypeSpec, ...] = (),
) -> int:
    """Slots of ``minutes`` from DAY_START to DAY_END, for the next ``SLOT_DAYS`` days from
    tomorrow (city time); returns how many were created.

    Skips any slot the partner already overlaps, so reruns (and a partner's own slots) are
    kept.
    """
    tz = ZoneInfo(partner.city.time_zone)
    today = today or timezone.now().astimezone(tz).date()
    length = timedelta(minutes=minutes)
    wanted = []
    for day in range(1, SLOT_DAYS + 1):
        date = today + timedelta(days=day)
        start = datetime.combine(date, DAY_START, tzinfo=tz)
        while start + length <= datetime.combine(date, DAY_END, tzinfo=tz):
            wanted.append(services.SlotSpec(start, start + length, capacity, seat_types))
            start += length
    existing = list(
        Slot.objects.filter(
            partner=partner, start__lt=wanted[-1].end, end__gt=wanted[0].start
        ).values_list("start", "end")
    )
    missing = [
        spec
        for spec in wanted
        if not any(spec.start < end and start < spec.end for start, end in existing)
    ]
    services.create_slots(partner_id=partner.pk, specs=missing)
    return len(missing)


@transaction.atomic
def load_demo_data(*, stdout) -> None:
    cities = ensure_cities()
    catalog = ensure_services()
    users = ensure_users()
    created_slots = 0
    for spec in PARTNERS:
        partner = ensure_partner(spec, cities=cities, catalog=catalog, users=users)
        created_slots += ensure_week_of_slots(
            partner, capacity=spec.capacity, minutes=spec.slot_minutes, seat_types=spec.seat_types
        )
    stdout.write(
        f"Catalog: {len(cities)} cities, {len(catalog)} services, {len(PARTNERS)} partners, "
        f"{created_slots} new slots."
    )
