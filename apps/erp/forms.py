from __future__ import annotations

from typing import Any

from django import forms

from apps.erp import registry
from apps.erp.models import Drift


def _entity_choices() -> list[tuple[str, str]]:
    return [(spec.entity, spec.label) for spec in registry.reconciliations()]


class DriftFilterForm(forms.Form):
    """The drift page's filters (GET). Status empty: the open drifts and those whose fix is queued."""

    entity = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Drift.Kind.choices])
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Open or fix queued"), *Drift.Status.choices, ("all", "Any status")],
    )
    q = forms.CharField(required=False, max_length=200, label="Label or key")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = [("", "Every entity"), *_entity_choices()]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        """The valid filters, as drift_list takes them; an invalid one is dropped, not an error page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "entity": data.get("entity") or "",
            "kind": data.get("kind") or "",
            "status": data.get("status") or "",
            "search": (data.get("q") or "").strip(),
        }


class ReconcileRequestForm(forms.Form):
    """Run now: the entity to compare."""

    entity = forms.ChoiceField(error_messages={"invalid_choice": "No app registers that reconciliation."})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = _entity_choices()  # type: ignore[attr-defined]


class DriftAcceptForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        strip=True,
        error_messages={"required": "Give a reason to accept it as it is: it is kept for audit."},
    )


def form_error_text(form: forms.Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def entity_label(entity: str) -> str:
    return dict(_entity_choices()).get(entity, entity)
