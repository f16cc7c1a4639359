"""Disputes in the support console: the list (with the "needs evidence" filter and bulk
actions) and the dispute page, from which support resolves one dispute with a refund or
rejects it. Both ways call ``services.resolve_dispute_with_refund`` / ``reject_dispute``,
like the API; a refusal shows its message and changes nothing."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from common.admin import ReadOnlyAdmin
from common.admin_time import in_zone
from common.locking import waiting
from common.money import format_money
from common.problems import DomainError
from refunds import services
from refunds.admin_display import (
    admin_link,
    booking_payments_html,
    booking_timeline_html,
    booking_zone,
)
from refunds.admin_forms import RejectDisputeForm, ResolveWithRefundForm, action_form_context
from refunds.models import Dispute
from refunds.services.disputes import NEEDS_EVIDENCE_STATUSES


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


def _currency(dispute: Dispute) -> str:
    return dispute.currency or dispute.booking.currency


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    # Closed through the resolve/reject pages and actions only.

    # Source and gateway status are filters and the page; the list keeps what fits.
    list_display = [
        "id",
        "booking_number",
        "state",
        "amount",
        "evidence_due",
        "reason_short",
        "created",
    ]
    list_filter = [NeedsEvidenceFilter, "status", "source", "outcome", "created_at"]
    search_fields = ["=booking__id", "gateway_dispute_id", "reason"]
    list_select_related = ["booking", "booking__partner__city", "resolved_by", "refund"]
    date_hierarchy = "created_at"
    actions = ["resolve_with_refund", "reject"]
    change_form_template = "admin/refunds/dispute_change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("status", "booking_link"),
                    ("source", "raised_by", "created"),
                    "reason",
                    ("gateway_dispute_id", "gateway_status", "amount"),
                    ("evidence_due", "outcome", "lost"),
                    ("resolved_by", "resolved", "refund_link"),
                    "resolution_note",
                )
            },
        ),
        ("Payment, refunds and disputes", {"fields": ("payments",)}),
        ("Booking timeline", {"fields": ("timeline",)}),
    )
    readonly_fields = [
        "status",
        "booking_link",
        "source",
        "raised_by",
        "created",
        "reason",
        "gateway_dispute_id",
        "gateway_status",
        "amount",
        "evidence_due",
        "outcome",
        "lost",
        "resolved_by",
        "resolved",
        "refund_link",
        "resolution_note",
        "payments",
        "timeline",
    ]

    class Media:
        css = {"all": ("common/admin.css",)}

    def get_queryset(self, request) -> QuerySet[Dispute]:
        return super().get_queryset(request).select_related("booking__partner__city")

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("refunds.change_dispute")

    @admin.display(description="booking")
    def booking_link(self, dispute: Dispute) -> str:
        return admin_link(dispute.booking)

    @admin.display(description="booking", ordering="booking_id")
    def booking_number(self, dispute: Dispute) -> str:
        return admin_link(dispute.booking, f"#{dispute.booking_id}")

    @admin.display(description="status", ordering="status")
    def state(self, dispute: Dispute) -> str:
        if dispute.source == Dispute.Source.GATEWAY:
            return f"{dispute.get_status_display()} (gateway: {dispute.gateway_status or '-'})"
        return dispute.get_status_display()

    @admin.display(description="refund")
    def refund_link(self, dispute: Dispute) -> str:
        return admin_link(dispute.refund) if dispute.refund_id else "-"

    @admin.display(description="reason")
    def reason_short(self, dispute: Dispute) -> str:
        return dispute.reason[:60]

    @admin.display(description="disputed amount", ordering="amount_minor")
    def amount(self, dispute: Dispute) -> str:
        return format_money(dispute.amount_minor, _currency(dispute))

    @admin.display(description="lost to the chargeback")
    def lost(self, dispute: Dispute) -> str:
        return format_money(dispute.lost_amount_minor, _currency(dispute))

    @admin.display(description="evidence due", ordering="evidence_due_by")
    def evidence_due(self, dispute: Dispute) -> str:
        return in_zone(dispute.evidence_due_by, booking_zone(dispute.booking))

    @admin.display(description="created", ordering="created_at")
    def created(self, dispute: Dispute) -> str:
        return in_zone(dispute.created_at, booking_zone(dispute.booking))

    @admin.display(description="resolved")
    def resolved(self, dispute: Dispute) -> str:
        return in_zone(dispute.resolved_at, booking_zone(dispute.booking))

    @admin.display(description="payment and refunds")
    def payments(self, dispute: Dispute) -> str:
        return booking_payments_html(dispute.booking_id)

    @admin.display(description="booking timeline")
    def timeline(self, dispute: Dispute) -> str:
        return booking_timeline_html(dispute.booking_id)

    # -- the dispute page: resolve with a refund, or reject ------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_resolve": self.has_resolve_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        resolve = self.admin_site.admin_view(self.resolve_view)
        reject = self.admin_site.admin_view(self.reject_view)
        return [
            path("<int:dispute_id>/resolve/", resolve, name="refunds_dispute_resolve"),
            path("<int:dispute_id>/reject/", reject, name="refunds_dispute_reject"),
            *super().get_urls(),
        ]

    def _dispute(self, request, dispute_id: int) -> Dispute:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        dispute = self.get_queryset(request).filter(pk=dispute_id).first()
        if dispute is None:
            raise Http404("No such dispute.")
        return dispute

    def resolve_view(self, request, dispute_id: int):
        """Close the dispute with a refund (``services.resolve_dispute_with_refund``)."""
        dispute = self._dispute(request, dispute_id)
        form = ResolveWithRefundForm(request.POST or None, currency=_currency(dispute))
        return self._decide(
            request,
            dispute,
            form,
            title=f"Resolve dispute #{dispute.pk} with a refund",
            submit="Refund and resolve",
            apply=lambda data: services.resolve_dispute_with_refund(
                dispute_id=dispute.pk,
                amount_minor=data["amount"],
                note=data["note"],
                actor=request.user,
            ),
        )

    def reject_view(self, request, dispute_id: int):
        """Close the dispute without a refund (``services.reject_dispute``)."""
        dispute = self._dispute(request, dispute_id)
        return self._decide(
            request,
            dispute,
            RejectDisputeForm(request.POST or None),
            title=f"Reject dispute #{dispute.pk}",
            submit="Reject",
            apply=lambda data: services.reject_dispute(
                dispute_id=dispute.pk, note=data["note"], actor=request.user
            ),
        )

    def _decide(self, request, dispute: Dispute, form, *, title, submit, apply):
        if request.method == "POST" and form.is_valid():
            try:
                with waiting():
                    closed = apply(form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                message = f"Dispute #{closed.pk}: {closed.status}."
                self.message_user(request, message, messages.SUCCESS)
                return redirect("admin:refunds_dispute_change", dispute.pk)
        booking = dispute.booking
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "original": dispute,
            "booking_url": reverse("admin:refunds_dispute_change", args=[dispute.pk]),
            "summary": [
                ("Dispute", f"#{dispute.pk} ({dispute.status}), {dispute.source}"),
                ("Reason", dispute.reason),
                ("Booking", f"#{booking.pk} ({booking.status})"),
                ("Amount", format_money(booking.amount_minor, booking.currency)),
            ],
            "facts": [],
            "payment": booking_payments_html(booking.pk),
            "form": form,
            "submit": submit,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/refunds/booking_action.html", context)

    # -- bulk actions on the list ----------------------------------------------------------

    @admin.action(description="Resolve with refund (amount)…", permissions=["resolve"])
    def resolve_with_refund(self, request, queryset: QuerySet[Dispute]):
        currencies = {_currency(dispute) for dispute in queryset.select_related("booking")}
        if len(currencies) != 1:
            self.message_user(
                request,
                "Select disputes of one currency: one amount is refunded on each.",
                messages.ERROR,
            )
            return None
        return self._with_form(
            request,
            queryset,
            form=ResolveWithRefundForm(
                request.POST if "apply" in request.POST else None, currency=currencies.pop()
            ),
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
            form=RejectDisputeForm(request.POST if "apply" in request.POST else None),
            action="reject",
            title="Reject the disputes",
            apply=lambda dispute, data: services.reject_dispute(
                dispute_id=dispute.pk, note=data["note"], actor=request.user
            ),
        )

    def _with_form(self, request, queryset, *, form, action, title, apply):
        if "apply" in request.POST and form.is_valid():
            done, refused = 0, []
            for dispute in queryset.order_by("pk"):
                try:
                    with waiting():
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
