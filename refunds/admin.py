"""Support console for refunds, refund policies and disputes.

Every action calls the same service functions as the API (``refunds.services``), so
the money rules (never above the captured amount, conditional status changes) hold
whichever way support acts.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

import refunds.admin_bookings  # noqa: F401 - registers the booking page
import refunds.admin_disputes  # noqa: F401 - registers the disputes
from common.admin import ReadOnlyAdmin
from common.admin_time import in_zone
from common.money import format_money
from common.problems import DomainError
from refunds import services
from refunds.admin_display import admin_link, booking_timeline_html, booking_zone
from refunds.admin_forms import ChooseBookingForm, RefundPolicyForm
from refunds.models import Refund, RefundPolicy
from refunds.selectors import needs_attention
from refunds.services.money import MONEY_FIELDS, check_money


class NeedsAttentionFilter(admin.SimpleListFilter):
    """FAILED refunds, in-flight ones whose last attempt reported an error, and ones the
    gateway accepted that are still waiting for its outcome after a day."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "Needs attention")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(needs_attention())
        return queryset


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    # Refunds are created by services (the manual refund view below); money is read-only
    # and state changes are actions.

    list_display = [
        "id",
        "booking_number",
        "amount",
        "source",
        "status",
        "attempts",
        "created",
    ]
    list_filter = [NeedsAttentionFilter, "status", "source", "payment__gateway", "created_at"]
    search_fields = ["=booking__id", "gateway_refund_id", "reason"]
    list_select_related = ["booking__partner__city", "payment"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    readonly_fields = [
        "booking_link",
        "payment",
        "amount",
        "percent",
        "source",
        "reason",
        "status",
        "policy_version",
        "gateway_refund_id",
        "idempotency_key",
        "attempts",
        "last_error",
        "created_by",
        "created_at",
        "updated_at",
        "timeline",
    ]
    exclude = ["booking"]
    change_list_template = "admin/refunds/refund/change_list.html"

    # Money moves only with the model permission for it (any staff member could before):
    # support staff need not be superusers, a group can grant exactly these.
    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("refunds.change_refund")

    def has_manual_refund_permission(self, request) -> bool:
        return request.user.has_perm("refunds.add_refund")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_refund_manually": self.has_manual_refund_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="booking")
    def booking_link(self, refund: Refund) -> str:
        return admin_link(refund.booking)

    class Media:
        css = {"all": ("common/admin.css",)}

    @admin.display(description="booking", ordering="booking_id")
    def booking_number(self, refund: Refund) -> str:
        return admin_link(refund.booking, f"#{refund.booking_id}")

    @admin.display(description="created (city time)", ordering="created_at")
    def created(self, refund: Refund) -> str:
        return in_zone(refund.created_at, booking_zone(refund.booking))

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, refund: Refund) -> str:
        return format_money(refund.amount_minor, refund.currency)

    @admin.display(description="gateway", ordering="payment__gateway")
    def gateway(self, refund: Refund) -> str:
        return refund.payment.gateway if refund.payment_id else "-"

    @admin.display(description="booking timeline")
    def timeline(self, refund: Refund) -> str:
        return booking_timeline_html(refund.booking_id)

    @admin.action(description="Retry selected failed refunds", permissions=["retry"])
    def retry_failed(self, request, queryset: QuerySet[Refund]) -> None:
        done, refused = 0, []
        for refund in queryset.order_by("pk"):
            try:
                services.retry_refund(refund_id=refund.pk, actor=request.user)
                done += 1
            except DomainError as exc:
                refused.append(f"#{refund.pk}: {exc.detail}")
        if done:
            self.message_user(request, f"{done} refund(s) queued again.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not retried: " + "; ".join(refused), messages.WARNING)

    def get_urls(self):
        view = self.admin_site.admin_view(self.manual_refund_view)
        money = self.admin_site.admin_view(self.money_view)
        return [
            path("manual/", view, name="refunds_refund_manual"),
            path("money/", money, name="refunds_refund_money"),
            *super().get_urls(),
        ]

    def money_view(self, request):
        """The money invariant for support: the totals and every violation
        (``services.money.check_money``, the same as ``manage.py check_money``)."""
        if not self.has_view_permission(request):
            return redirect("admin:index")
        report = check_money()
        totals = [
            (currency, [format_money(row[name], currency) for name in MONEY_FIELDS])
            for currency, row in sorted(report.totals.items())
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Money invariant",
            "report": report,
            "fields": MONEY_FIELDS,
            "totals": totals,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/refunds/money.html", context)

    def manual_refund_view(self, request):
        """ "Refund a booking" from the refunds list: choose the booking (searched as you
        type), then its refund page shows what is still refundable and takes the amount."""
        if not self.has_manual_refund_permission(request):
            return redirect("admin:index")
        data = request.POST or (request.GET if "booking" in request.GET else None)
        form = ChooseBookingForm(data, admin_site=self.admin_site)
        if data is not None and form.is_valid():
            return redirect("admin:bookings_booking_refund", form.cleaned_data["booking"].pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Refund a booking",
            "form": form,
            "media": self.media + form.media,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/refunds/manual_refund.html", context)


@admin.register(RefundPolicy)
class RefundPolicyAdmin(admin.ModelAdmin):
    """Policies are versions: a saved version's rules are frozen (refunds cite it); save a
    new version and tick "active" to change the rules (the old one is deactivated)."""

    form = RefundPolicyForm
    list_display = [
        "version",
        "name",
        "active",
        "tiers",
        "provider_cancel_percent",
        "unassigned_percent",
        "created_by",
        "created_at",
    ]
    list_filter = ["active"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["created_by", "created_at"]
        return [
            "version",
            "tiers",
            "provider_cancel_percent",
            "unassigned_percent",
            "created_by",
            "created_at",
        ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
