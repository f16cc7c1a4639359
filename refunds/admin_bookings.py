"""The booking page of the support console.

It lives in ``refunds`` (not ``bookings``) because it shows the booking with its payment,
refunds and disputes and acts on it with cancellation and refunds, which sit here. The
record itself is read-only (the services own every field); the two actions are pages of
their own that call the same service functions as the API: ``cancel_booking`` (for the
customer or the partner) and ``refund_booking_manually``. A refusal shows its message and
changes nothing.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from bookings.models import Booking
from common.admin import ReadOnlyAdmin
from common.admin_time import in_zone
from common.locking import waiting
from common.money import format_money
from common.problems import DomainError
from payments.models import Payment
from refunds import services
from refunds.admin_display import booking_payments_html, booking_timeline_html, booking_zone
from refunds.admin_forms import CancelBookingForm, RefundBookingForm
from refunds.cancellation import CANCELLABLE_STATUSES, cancel_booking
from refunds.services.terms import refund_if_cancelled_now


class SlotDateFilter(admin.DateFieldListFilter):
    title = "slot date"


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    """The booking page: nothing on the record may be edited (no Save buttons)."""

    # The columns that matter to support, narrow enough for 1400 px with the sidebar.
    list_display = ("id", "status", "who", "slot_time", "amount", "created")
    list_filter = (
        "status",
        ("partner__city", admin.RelatedOnlyFieldListFilter),
        ("partner", admin.RelatedOnlyFieldListFilter),
        ("slot__start", SlotDateFilter),
        "created_at",
    )
    search_fields = ("=id", "customer__email", "partner__name")
    list_select_related = ("customer", "partner", "partner__city")
    date_hierarchy = "created_at"
    change_form_template = "admin/refunds/booking_change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("status", "amount"),
                    ("customer", "partner"),
                    ("slot_time", "variant", "quantity"),
                    ("assigned_staff", "hold_expires"),
                    ("created", "updated"),
                )
            },
        ),
        ("Payment, refunds and disputes", {"fields": ("payment_and_refunds",)}),
        ("Timeline", {"fields": ("timeline",)}),
    )
    readonly_fields = (
        "status",
        "amount",
        "customer",
        "partner",
        "slot_time",
        "variant",
        "quantity",
        "assigned_staff",
        "hold_expires",
        "created",
        "updated",
        "payment_and_refunds",
        "timeline",
    )

    class Media:
        css = {"all": ("common/admin.css",)}

    def get_queryset(self, request) -> QuerySet[Booking]:
        return super().get_queryset(request).select_related("partner__city", "variant__service")

    def has_cancel_permission(self, request) -> bool:
        # A cancellation records its refund: the permission that moves money, the same
        # as a refund by hand (the booking record itself stays read-only for everyone).
        return request.user.has_perm("refunds.add_refund")

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm("refunds.add_refund")

    @admin.display(description="Customer / partner", ordering="customer__email")
    def who(self, booking: Booking) -> str:
        return format_html("{}<br>{}", booking.customer.email, booking.partner.name)

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, booking: Booking) -> str:
        return format_money(booking.amount_minor, booking.currency)

    @admin.display(description="Slot (city time)", ordering="slot_start")
    def slot_time(self, booking: Booking) -> str:
        return in_zone(booking.slot_start, booking_zone(booking))

    @admin.display(description="Created", ordering="created_at")
    def created(self, booking: Booking) -> str:
        return in_zone(booking.created_at, booking_zone(booking))

    @admin.display(description="Updated")
    def updated(self, booking: Booking) -> str:
        return in_zone(booking.updated_at, booking_zone(booking))

    @admin.display(description="Hold expires")
    def hold_expires(self, booking: Booking) -> str:
        return in_zone(booking.hold_expires_at, booking_zone(booking))

    @admin.display(description="Payment")
    def payment_and_refunds(self, booking: Booking) -> str:
        return booking_payments_html(booking.pk)

    @admin.display(description="Timeline")
    def timeline(self, booking: Booking) -> str:
        return booking_timeline_html(booking.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Offer an action only where it can do something (its page still says why not).
        booking = self.get_object(request, object_id)
        payment = Payment.objects.filter(booking_id=booking.pk).first() if booking else None
        extra_context = {
            **(extra_context or {}),
            "can_cancel": self.has_cancel_permission(request)
            and booking is not None
            and booking.status in CANCELLABLE_STATUSES,
            "can_refund": self.has_refund_permission(request)
            and payment is not None
            and services.refundable_amount(payment=payment) > 0,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        cancel = self.admin_site.admin_view(self.cancel_view)
        refund = self.admin_site.admin_view(self.refund_view)
        return [
            path("<int:booking_id>/cancel/", cancel, name="bookings_booking_cancel"),
            path("<int:booking_id>/refund/", refund, name="bookings_booking_refund"),
            *super().get_urls(),
        ]

    def _booking(self, request, booking_id: int, *, allowed: bool) -> Booking:
        if not allowed:
            raise PermissionDenied
        booking = self.get_queryset(request).filter(pk=booking_id).first()
        if booking is None:
            raise Http404("No such booking.")
        return booking

    def cancel_view(self, request, booking_id: int):
        """Cancel for the customer (their refund terms) or for the partner (reassignment,
        else the partner-cancel refund) through ``refunds.cancellation.cancel_booking``."""
        booking = self._booking(request, booking_id, allowed=self.has_cancel_permission(request))
        form = CancelBookingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with waiting():
                    result = cancel_booking(
                        booking_id=booking.pk,
                        actor=request.user,
                        by=form.cleaned_data["on_behalf_of"],
                        reason=form.cleaned_data["reason"],
                        on_behalf=True,
                    )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, _cancel_message(result), messages.SUCCESS)
                return redirect("admin:bookings_booking_change", booking.pk)
        return self._action_page(
            request,
            booking,
            form=form,
            title=f"Cancel booking #{booking.pk}",
            submit="Cancel the booking",
            facts=_cancel_facts(booking),
        )

    def refund_view(self, request, booking_id: int):
        """Refund part or all of what is still refundable through
        ``services.refund_booking_manually`` (source ``manual``)."""
        booking = self._booking(request, booking_id, allowed=self.has_refund_permission(request))
        form = RefundBookingForm(request.POST or None, currency=booking.currency)
        if request.method == "POST" and form.is_valid():
            try:
                with waiting():
                    refund = services.refund_booking_manually(
                        booking_id=booking.pk,
                        amount_minor=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(
                    request,
                    f"Refund #{refund.pk} of {format_money(refund.amount_minor, refund.currency)}"
                    " recorded; the gateway is asked in the background.",
                    messages.SUCCESS,
                )
                return redirect("admin:bookings_booking_change", booking.pk)
        return self._action_page(
            request,
            booking,
            form=form,
            title=f"Refund booking #{booking.pk}",
            submit="Refund",
            facts=[],
        )

    def _action_page(self, request, booking: Booking, *, form, title, submit, facts):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "original": booking,
            "booking": booking,
            "booking_url": reverse("admin:bookings_booking_change", args=[booking.pk]),
            "summary": _summary(booking),
            "facts": facts,
            "payment": booking_payments_html(booking.pk),
            "form": form,
            "submit": submit,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/refunds/booking_action.html", context)


def _summary(booking: Booking) -> list[tuple[str, str]]:
    return [
        ("Status", booking.get_status_display()),
        ("Customer", booking.customer.email),
        ("Partner", f"{booking.partner.name} ({booking.partner.city.name})"),
        ("Slot", in_zone(booking.slot_start, booking_zone(booking))),
        ("Amount", format_money(booking.amount_minor, booking.currency)),
    ]


def _cancel_facts(booking: Booking) -> list[str]:
    if booking.status not in CANCELLABLE_STATUSES:
        return [f"A {booking.status} booking cannot be cancelled."]
    preview = refund_if_cancelled_now(booking=booking)
    if not Payment.objects.filter(booking_id=booking.pk, captured_amount_minor__gt=0).exists():
        return ["Nothing was captured: cancelling refunds nothing."]
    return [
        f"For the customer: refund {preview['percent']} % now, "
        f"{format_money(preview['amount'], booking.currency)} (the booking's refund terms).",
        "For the partner: the booking moves to another free partner if there is one, "
        "else it is cancelled with the partner-cancel refund.",
    ]


def _cancel_message(result) -> str:
    booking = result.booking
    if result.outcome == "reassigned":
        return f"Booking #{booking.pk} moved to {booking.partner.name} instead of being cancelled."
    if result.refund is None:
        return f"Booking #{booking.pk} cancelled; nothing was paid, nothing to refund."
    refund = result.refund
    return (
        f"Booking #{booking.pk} cancelled; refund #{refund.pk} of "
        f"{format_money(refund.amount_minor, refund.currency)} ({refund.status})."
    )
