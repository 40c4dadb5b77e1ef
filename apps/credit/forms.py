from __future__ import annotations

from django import forms

from apps.credit.models import CreditAccount

RELEASE, REJECT = "release", "reject"


class HoldForm(forms.Form):
    """Finance puts a whole company on hold."""

    reason = forms.CharField(max_length=500, widget=forms.TextInput)


class HoldDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(RELEASE, "Release"), (REJECT, "Reject")])
    reason = forms.CharField(
        max_length=500,
        strip=True,
        error_messages={"required": "Give a reason: the buyer is told, and it is kept for audit."},
    )


class BulkDecisionForm(HoldDecisionForm):
    hold = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=[],
        error_messages={"required": "Tick at least one order."},
    )

    def __init__(self, *args: object, hold_ids: list[int], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["hold"].choices = [(str(pk), str(pk)) for pk in hold_ids]  # type: ignore[attr-defined]
        self.fields["hold"].error_messages["invalid_choice"] = (
            "One of the ticked orders was decided meanwhile; the list is refreshed, tick again."
        )


class ToleranceForm(forms.ModelForm):
    class Meta:
        model = CreditAccount
        fields = ["past_due_tolerance_days"]
        labels = {"past_due_tolerance_days": "Past-due tolerance in days (optional)"}
