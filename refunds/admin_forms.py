"""Forms of the refunds admin console (intermediate action forms, manual refund)."""

from django import forms
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect

from bookings.models import Booking
from common.money import MoneyField
from refunds.models import Refund, RefundPolicy


class ResolveWithRefundForm(forms.Form):
    """The refund of a dispute, typed in major units of the booking's ``currency``."""

    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = {"amount": MoneyField(currency=currency), **self.fields}


class RejectDisputeForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class RefundBookingForm(forms.Form):
    """A manual refund of a booking, in major units of the booking's ``currency``."""

    reason = forms.CharField(max_length=255)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = {"amount": MoneyField(currency=currency), **self.fields}


class ChooseBookingForm(forms.Form):
    """Step one of "Refund a booking" from the refunds list: which booking (then its
    own refund page, which shows what is still refundable)."""

    booking = forms.ModelChoiceField(queryset=Booking.objects.all(), label="Booking")

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin's search of bookings (id, customer email, partner) as you type.
        field = self.fields["booking"]
        field.widget = AutocompleteSelect(Refund._meta.get_field("booking"), admin_site)
        field.widget.choices = field.choices


class CancelBookingForm(forms.Form):
    on_behalf_of = forms.ChoiceField(
        choices=[("customer", "The customer"), ("provider", "The partner")],
        widget=forms.RadioSelect,
        label="Cancel for",
        help_text="Whose cancellation it is decides the refund (the booking's terms).",
    )
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
