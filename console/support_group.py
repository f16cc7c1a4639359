"""The Support group: exactly the permissions support staff need, so they need not be
superusers.

Support looks at everything a customer's problem can touch (read-only), and moves money
or messages only through the admin actions gated by a model permission: the manual
refund (``refunds.add_refund``), a refund retry (``refunds.change_refund``), a dispute's
resolution (``refunds.change_dispute``), an outbox retry
(``notifications.change_outboxmessage``), clearing or annotating a payment's flag
(``payments.change_payment``) and a new refund policy version. Nothing is deleted and
users are only looked at (no passwords, no staff or superuser flags, no groups).
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q

SUPPORT_GROUP = "Support"

SUPPORT_PERMISSIONS: tuple[str, ...] = (
    "accounts.view_user",
    "partners.view_city",
    "partners.view_service",
    "partners.view_servicevariant",
    "partners.view_partner",
    "partners.view_staff",
    "partners.view_slot",
    "bookings.view_booking",
    "bookings.view_bookingevent",
    "bookings.view_waitlistentry",
    "otp.view_bookingotp",
    "payments.view_payment",
    "payments.change_payment",
    "payments.view_webhookevent",
    "refunds.view_refund",
    "refunds.add_refund",
    "refunds.change_refund",
    "refunds.view_dispute",
    "refunds.change_dispute",
    "refunds.view_refundpolicy",
    "refunds.add_refundpolicy",
    "refunds.change_refundpolicy",
    "notifications.view_outboxmessage",
    "notifications.change_outboxmessage",
)


def support_permissions() -> list[Permission]:
    """The permission rows of ``SUPPORT_PERMISSIONS``; raises ImproperlyConfigured when one
    does not exist (a model renamed or gone), so the list cannot silently shrink."""
    wanted = [name.split(".", 1) for name in SUPPORT_PERMISSIONS]
    match = Q()
    for app_label, codename in wanted:
        match |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(match).select_related("content_type"))
    missing = set(SUPPORT_PERMISSIONS) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise ImproperlyConfigured(f"Support group: no such permission {sorted(missing)}")
    return found


@transaction.atomic
def sync_support_group() -> Group:
    """Create the Support group or set its permissions to exactly ``SUPPORT_PERMISSIONS``
    (extra ones granted by hand are removed). Idempotent; runs after every ``migrate``."""
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(support_permissions())
    return group


@transaction.atomic
def add_to_support_group(*, user) -> Group:
    """Put ``user`` in the Support group (created if needed). Staff status and the role
    stay as they are: the group grants model permissions only."""
    group = sync_support_group()
    user.groups.add(group)
    return group


def sync_after_migrate(*, using: str = "default", **kwargs) -> None:
    """``post_migrate`` receiver of the console app (connected in ``ConsoleConfig.ready``)."""
    if using == "default":
        sync_support_group()
