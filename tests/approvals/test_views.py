from __future__ import annotations

from django.test import Client

from apps.accounts.models import Company, Membership
from apps.approvals.models import ApprovalRule


def test_company_admin_adds_a_rule_and_bad_input_is_explained(
    client: Client, company: Company, company_admin: Membership
) -> None:
    client.force_login(company_admin.user)

    bad = client.post("/company/approval-rules/", {"name": "Big", "step": "1", "condition": "total_at_least"})
    good = client.post(
        "/company/approval-rules/",
        {
            "name": "Big",
            "step": "1",
            "condition": "total_at_least",
            "amount": "500",
            "approver_role": "approver",
        },
    )

    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Give the order total from which approval is needed." in html
    assert "Choose who approves" in html
    assert good.status_code == 302
    rule = ApprovalRule.objects.get()
    assert (rule.company, rule.amount, rule.approver_role) == (company, 500, "approver")


def test_rules_can_be_turned_off_and_removed(
    client: Client, company: Company, company_admin: Membership
) -> None:
    rule = ApprovalRule.objects.create(
        company=company, name="Big", condition="total_at_least", amount=1, approver_role="approver"
    )
    client.force_login(company_admin.user)

    client.post(f"/company/approval-rules/{rule.pk}/")
    rule.refresh_from_db()
    assert rule.is_active is False
    client.post(f"/company/approval-rules/{rule.pk}/", {"delete": "1"})
    assert not ApprovalRule.objects.exists()
