"""The company admin's approval rules through services: create, toggle, delete, each within the company."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.models import Company, Role
from apps.approvals.models import ApprovalRule
from apps.approvals.services import (
    ApprovalRuleNotFound,
    approval_rule_create,
    approval_rule_delete,
    approval_rule_toggle,
)
from tests.accounts.factories import MembershipFactory
from tests.catalog.factories import CategoryFactory


@pytest.fixture
def rule(company: Company) -> ApprovalRule:
    return approval_rule_create(
        company=company,
        name="Big orders",
        condition=ApprovalRule.Condition.TOTAL_AT_LEAST,
        amount=Decimal("1000.00"),
        approver_role=Role.APPROVER,
    )


def test_a_rule_is_created_for_the_company_with_its_categories_and_approvers(company: Company) -> None:
    tools = CategoryFactory(name="Tools")
    approver = MembershipFactory(company=company, role=Role.APPROVER).user

    created = approval_rule_create(
        company=company,
        name="Tools",
        step=2,
        condition=ApprovalRule.Condition.CATEGORY_IN,
        categories=[tools],
        approvers=[approver],
    )

    rule = ApprovalRule.objects.get(pk=created.pk)
    assert (rule.company, rule.name, rule.step, rule.is_active) == (company, "Tools", 2, True)
    assert list(rule.categories.all()) == [tools]
    assert list(rule.approvers.all()) == [approver]


def test_a_rule_the_model_refuses_is_not_kept(company: Company) -> None:
    with pytest.raises(ValidationError):
        approval_rule_create(company=company, name="", condition="no such condition")

    assert not ApprovalRule.objects.exists()


def test_toggling_turns_a_rule_off_and_on_again(company: Company, rule: ApprovalRule) -> None:
    assert approval_rule_toggle(company=company, rule_id=rule.pk).is_active is False
    rule.refresh_from_db()
    assert rule.is_active is False

    assert approval_rule_toggle(company=company, rule_id=rule.pk).is_active is True
    rule.refresh_from_db()
    assert rule.is_active is True


def test_a_deleted_rule_is_gone(company: Company, rule: ApprovalRule) -> None:
    deleted = approval_rule_delete(company=company, rule_id=rule.pk)

    assert deleted.name == "Big orders"
    assert not ApprovalRule.objects.exists()


def test_another_companys_rule_cannot_be_toggled_or_deleted(
    other_company: Company, rule: ApprovalRule
) -> None:
    with pytest.raises(ApprovalRuleNotFound):
        approval_rule_toggle(company=other_company, rule_id=rule.pk)
    with pytest.raises(ApprovalRuleNotFound):
        approval_rule_delete(company=other_company, rule_id=rule.pk)

    rule.refresh_from_db()
    assert rule.is_active is True
