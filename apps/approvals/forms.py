from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from apps.accounts.models import Company
from apps.approvals.models import ApprovalRule
from apps.catalog.models import Category


class ApprovalRuleForm(forms.ModelForm):
    class Meta:
        model = ApprovalRule
        fields = [
            "name",
            "step",
            "condition",
            "amount",
            "line_count",
            "categories",
            "approver_role",
            "approvers",
        ]
        widgets = {
            "categories": forms.SelectMultiple(attrs={"size": 6}),
            "approvers": forms.SelectMultiple(attrs={"size": 6}),
        }
        labels = {"approver_role": "Approvers by role", "approvers": "Approvers by name"}

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        approvers = self.fields["approvers"]
        categories = self.fields["categories"]
        assert isinstance(approvers, forms.ModelMultipleChoiceField)  # noqa: S101 - narrowing
        assert isinstance(categories, forms.ModelMultipleChoiceField)  # noqa: S101 - narrowing
        approvers.queryset = User.objects.filter(
            membership__company=company, membership__is_active=True, is_active=True
        )
        approvers.label_from_instance = lambda user: user.get_full_name() or user.email  # type: ignore[method-assign,assignment]
        categories.queryset = Category.objects.all()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        condition = cleaned.get("condition")
        needs = {
            ApprovalRule.Condition.TOTAL_AT_LEAST: (
                "amount",
                "Give the order total from which approval is needed.",
            ),
            ApprovalRule.Condition.MONTHLY_BUDGET: ("amount", "Give the monthly budget per buyer."),
            ApprovalRule.Condition.LINES_AT_LEAST: ("line_count", "Give the number of lines."),
            ApprovalRule.Condition.CATEGORY_IN: ("categories", "Choose at least one category."),
        }
        if condition in needs:
            field, message = needs[condition]
            if not cleaned.get(field):
                self.add_error(field, message)
        amount = cleaned.get("amount")
        if amount is not None and amount < 0:
            self.add_error("amount", "An amount cannot be negative.")
        if not cleaned.get("approver_role") and not cleaned.get("approvers"):
            self.add_error("approver_role", "Choose who approves: a role, people by name, or both.")
        return cleaned


class DecisionForm(forms.Form):
    comment = forms.CharField(max_length=500, required=False)
