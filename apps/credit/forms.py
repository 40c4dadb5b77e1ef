from __future__ import annotations

from datetime import date

from django import forms

from apps.credit.models import CreditAccount
from apps.credit.statements import MAX_PERIOD_DAYS

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


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class StatementForm(forms.Form):
    """The period of a statement of account, in the company's days (both ends included)."""

    start = forms.DateField(
        label="From", widget=DATE_INPUT, error_messages={"invalid": "Enter the first day as YYYY-MM-DD."}
    )
    end = forms.DateField(
        label="To", widget=DATE_INPUT, error_messages={"invalid": "Enter the last day as YYYY-MM-DD."}
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date):
            if start > end:
                raise forms.ValidationError("The period starts after it ends; swap the dates.")
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(
                    f"A statement covers at most {MAX_PERIOD_DAYS} days; choose a shorter period."
                )
        return data
