"""Forms of the refunds admin console (intermediate action forms, manual refund)."""

from django import forms
from django.contrib.admin import helpers

from refunds.models import RefundPolicy


class ResolveWithRefundForm(forms.Form):
    amount = forms.IntegerField(min_value=1, help_text="Minor units (paise, cents).")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class RejectDisputeForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ManualRefundForm(forms.Form):
    booking_id = forms.IntegerField(min_value=1, label="Booking id")
    amount = forms.IntegerField(min_value=1, help_text="Minor units (paise, cents).")
    reason = forms.CharField(max_length=255)


def action_form_context(*, request, queryset, form, action: str, title: str) -> dict:
    """Context of ``admin/refunds/action_form.html``: the selection travels as hidden
    ``_selected_action`` inputs so the action runs again with ``apply`` set."""
    return {
        "title": title,
        "form": form,
        "objects": list(queryset),
        "action": action,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": queryset.model._meta,
    }


class RefundPolicyForm(forms.ModelForm):
    """Versions are immutable once saved (refunds point at them); a new version is a new
    row. The active one can only be replaced by activating another version."""

    class Meta:
        model = RefundPolicy
        fields = [
            "name",
            "version",
            "active",
            "tiers",
            "provider_cancel_percent",
            "unassigned_percent",
        ]

    def clean_active(self):
        active = self.cleaned_data["active"]
        if self.instance.pk and self.instance.active and not active:
            raise forms.ValidationError(
                "One policy must stay active: activate another version instead."
            )
        return active
