"""One hold service for finance (source PORTAL) and the ERP's customer sync (source ERP)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.exceptions import MembershipError
from apps.accounts.models import Company
from apps.accounts.services import ERP_HOLD_REASON, company_hold_lift, company_hold_put

Status, Source = Company.Status, Company.HoldSource


def _hold(company: Company) -> tuple[str, str, str]:
    company.refresh_from_db()
    return (company.status, company.hold_source, company.hold_reason)


def _set(company: Company, status: str, source: str, reason: str) -> Company:
    Company.objects.filter(pk=company.pk).update(status=status, hold_source=source, hold_reason=reason)
    company.refresh_from_db()
    return company


# --- Finance (PORTAL) ---------------------------------------------------------------------------------------


def test_finance_puts_a_company_on_hold_with_a_reason(company: Company) -> None:
    assert company_hold_put(company=company, reason="  cheque bounced ") is True

    assert _hold(company) == (Status.ON_HOLD, Source.PORTAL, "cheque bounced")


def test_the_callers_company_shows_the_hold(company: Company) -> None:
    company_hold_put(company=company, reason="cheque bounced")

    assert (company.status, company.hold_source, company.hold_reason) == (
        Status.ON_HOLD,
        Source.PORTAL,
        "cheque bounced",
    )


def test_finance_must_say_why_and_nothing_changes(company: Company) -> None:
    with pytest.raises(MembershipError, match="Say why the company is put on hold"):
        company_hold_put(company=company, reason="  ")

    assert _hold(company) == (Status.ACTIVE, Source.NONE, "")


def test_finance_changes_its_own_holds_reason_and_the_same_reason_changes_nothing(company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.PORTAL, "cheque bounced")

    assert company_hold_put(company=company, reason="cheque bounced") is False
    assert company_hold_put(company=company, reason="two cheques bounced") is True
    assert _hold(company) == (Status.ON_HOLD, Source.PORTAL, "two cheques bounced")


def test_finance_cannot_hold_a_company_the_erp_holds(company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.ERP, "ERP hold")

    with pytest.raises(MembershipError, match=f"{company.name} is already on hold in the ERP."):
        company_hold_put(company=company, reason="cheque bounced")

    assert _hold(company) == (Status.ON_HOLD, Source.ERP, "ERP hold")


def test_finance_lifts_its_own_hold(company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.PORTAL, "cheque bounced")

    assert company_hold_lift(company=company) is True
    assert _hold(company) == (Status.ACTIVE, Source.NONE, "")
    assert company_hold_lift(company=company) is False  # nothing left to lift


def test_finance_cannot_lift_the_erps_hold(company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.ERP, "ERP hold")

    with pytest.raises(
        MembershipError, match="lift the hold there \\(it owns it\\) and the next customer sync"
    ):
        company_hold_lift(company=company)

    assert _hold(company) == (Status.ON_HOLD, Source.ERP, "ERP hold")


# --- The ERP (ERP) ------------------------------------------------------------------------------------------


def test_the_erp_puts_a_company_on_hold_with_its_reason_or_the_default(
    company: Company, other_company: Company
) -> None:
    assert company_hold_put(company=company, reason="Overdue", source=Source.ERP) is True
    assert company_hold_put(company=other_company, reason="", source=Source.ERP) is True

    assert _hold(company) == (Status.ON_HOLD, Source.ERP, "Overdue")
    assert _hold(other_company) == (Status.ON_HOLD, Source.ERP, ERP_HOLD_REASON)
    assert ERP_HOLD_REASON == "On credit hold in the ERP"


def test_the_erp_never_takes_over_a_hold_finance_put_on(company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.PORTAL, "cheque bounced")

    assert company_hold_put(company=company, reason="ERP hold", source=Source.ERP) is False
    assert _hold(company) == (Status.ON_HOLD, Source.PORTAL, "cheque bounced")


def test_the_erps_new_reason_replaces_its_old_one_and_no_reason_keeps_it(company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.ERP, "Overdue")

    assert company_hold_put(company=company, reason="Overdue", source=Source.ERP) is False
    assert company_hold_put(company=company, reason="", source=Source.ERP) is False
    assert _hold(company) == (Status.ON_HOLD, Source.ERP, "Overdue")
    assert company_hold_put(company=company, reason="Over limit", source=Source.ERP) is True
    assert _hold(company) == (Status.ON_HOLD, Source.ERP, "Over limit")


def test_the_erp_lifts_only_its_own_hold(company: Company, other_company: Company) -> None:
    _set(company, Status.ON_HOLD, Source.ERP, "Overdue")
    _set(other_company, Status.ON_HOLD, Source.PORTAL, "cheque bounced")

    assert company_hold_lift(company=company, source=Source.ERP) is True
    assert company_hold_lift(company=other_company, source=Source.ERP) is False
    assert company_hold_lift(company=company, source=Source.ERP) is False

    assert _hold(company) == (Status.ACTIVE, Source.NONE, "")
    assert _hold(other_company) == (Status.ON_HOLD, Source.PORTAL, "cheque bounced")


def test_both_lock_the_company_row(company: Company) -> None:
    with CaptureQueriesContext(connection) as put:
        company_hold_put(company=company, reason="Overdue", source=Source.ERP)
    with CaptureQueriesContext(connection) as lift:
        company_hold_lift(company=company, source=Source.ERP)

    for captured in (put, lift):
        assert any(
            "FOR UPDATE" in query["sql"] and '"accounts_company"' in query["sql"] for query in captured
        )
