"""Support console for refunds, refund policies and disputes.

Every action calls the same service functions as the API (``refunds.services``), so
the money rules (never above the captured amount, conditional status changes) hold
whichever way support acts.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from common.problems import DomainError
from refunds import services
from refunds.admin_display import admin_link, booking_payments_html, booking_timeline_html
from refunds.admin_forms import (
    ManualRefundForm,
    RefundPolicyForm,
    RejectDisputeForm,
    ResolveWithRefundForm,
    action_form_context,
)
from refunds.models import Dispute, Refund, RefundPolicy
from refunds.selectors import needs_attention
from refunds.services.disputes import NEEDS_EVIDENCE_STATUSES
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


class NeedsEvidenceFilter(admin.SimpleListFilter):
    """Gateway disputes still undecided whose gateway waits for our evidence; the list
    is then ordered by the evidence due date, soonest first."""

    title = "needs evidence"
    parameter_name = "evidence"

    def lookups(self, request, model_admin):
        return [("yes", "Needs evidence (by due date)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(
                source=Dispute.Source.GATEWAY,
                outcome="",
                gateway_status__in=NEEDS_EVIDENCE_STATUSES,
            ).order_by(F("evidence_due_by").asc(nulls_last=True), "pk")
        return queryset


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "booking_link",
        "amount_minor",
        "currency",
        "percent",
        "source",
        "status",
        "gateway",
        "attempts",
        "policy_version",
        "created_at",
    ]
    list_filter = [NeedsAttentionFilter, "status", "source", "payment__gateway", "created_at"]
    search_fields = ["=booking__id", "gateway_refund_id", "reason"]
    list_select_related = ["booking", "payment"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    readonly_fields = [
        "booking_link",
        "payment",
        "amount_minor",
        "currency",
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

    def has_add_permission(self, request) -> bool:
        return False  # refunds are created by services (manual refund view below)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # money is read-only; state changes are actions

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
            (currency, [row[name] for name in MONEY_FIELDS])
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
        """Support refunds a booking by hand through ``services.refund_booking_manually``."""
        if not self.has_manual_refund_permission(request):
            return redirect("admin:index")
        initial = {"booking_id": request.GET.get("booking")} if request.GET.get("booking") else {}
        form = ManualRefundForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                refund = services.refund_booking_manually(
                    booking_id=data["booking_id"],
                    amount_minor=data["amount"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, f"Refund #{refund.pk} created.", messages.SUCCESS)
                return redirect("admin:refunds_refund_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Refund a booking",
            "form": form,
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


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "booking_link",
        "source",
        "status",
        "gateway_status",
        "evidence_due_by",
        "outcome",
        "lost_amount_minor",
        "reason_short",
        "created_at",
        "resolved_by",
        "resolved_at",
        "refund_link",
    ]
    list_filter = [NeedsEvidenceFilter, "status", "source", "outcome", "created_at"]
    search_fields = ["=booking__id", "gateway_dispute_id", "reason"]
    list_select_related = ["booking", "resolved_by", "refund"]
    date_hierarchy = "created_at"
    actions = ["resolve_with_refund", "reject"]
    readonly_fields = [
        "booking_link",
        "raised_by",
        "source",
        "gateway_dispute_id",
        "gateway_status",
        "amount_minor",
        "currency",
        "evidence_due_by",
        "outcome",
        "lost_amount_minor",
        "closed_at",
        "reason",
        "status",
        "resolution_note",
        "resolved_by",
        "resolved_at",
        "refund_link",
        "created_at",
        "payments",
        "timeline",
    ]
    exclude = ["booking", "refund"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # resolved through the actions only

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("refunds.change_dispute")

    @admin.display(description="booking")
    def booking_link(self, dispute: Dispute) -> str:
        return admin_link(dispute.booking)

    @admin.display(description="refund")
    def refund_link(self, dispute: Dispute) -> str:
        return admin_link(dispute.refund) if dispute.refund_id else "-"

    @admin.display(description="reason")
    def reason_short(self, dispute: Dispute) -> str:
        return dispute.reason[:60]

    @admin.display(description="payment and refunds")
    def payments(self, dispute: Dispute) -> str:
        return booking_payments_html(dispute.booking_id)

    @admin.display(description="booking timeline")
    def timeline(self, dispute: Dispute) -> str:
        return booking_timeline_html(dispute.booking_id)

    @admin.action(description="Resolve with refund (amount)…", permissions=["resolve"])
    def resolve_with_refund(self, request, queryset: QuerySet[Dispute]):
        return self._with_form(
            request,
            queryset,
            form_class=ResolveWithRefundForm,
            action="resolve_with_refund",
            title="Resolve with a refund",
            apply=lambda dispute, data: services.resolve_dispute_with_refund(
                dispute_id=dispute.pk,
                amount_minor=data["amount"],
                note=data["note"],
                actor=request.user,
            ),
        )

    @admin.action(description="Reject…", permissions=["resolve"])
    def reject(self, request, queryset: QuerySet[Dispute]):
        return self._with_form(
            request,
            queryset,
            form_class=RejectDisputeForm,
            action="reject",
            title="Reject the disputes",
            apply=lambda dispute, data: services.reject_dispute(
                dispute_id=dispute.pk, note=data["note"], actor=request.user
            ),
        )

    def _with_form(self, request, queryset, *, form_class, action, title, apply):
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done, refused = 0, []
            for dispute in queryset.order_by("pk"):
                try:
                    apply(dispute, form.cleaned_data)
                    done += 1
                except DomainError as exc:
                    refused.append(f"#{dispute.pk}: {exc.detail}")
            if done:
                self.message_user(request, f"{done} dispute(s) closed.", messages.SUCCESS)
            if refused:
                self.message_user(request, "Not closed: " + "; ".join(refused), messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            **action_form_context(
                request=request, queryset=queryset, form=form, action=action, title=title
            ),
        }
        return TemplateResponse(request, "admin/refunds/action_form.html", context)
