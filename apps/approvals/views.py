"""Approval pages: the company admin's rules, the approvers' queue and their decisions."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Role
from apps.accounts.permissions import MemberRequest, company_role_required
from apps.approvals import selectors, services
from apps.approvals.forms import ApprovalRuleForm, DecisionForm
from apps.approvals.models import ApprovalRule
from apps.core.exceptions import ApplicationError

APPROVERS = (Role.APPROVER, Role.ADMIN)


@require_http_methods(["GET", "POST"])
@company_role_required(Role.ADMIN)
def rules(request: MemberRequest) -> HttpResponse:
    company = request.membership.company
    form = ApprovalRuleForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        rule = services.approval_rule_create(company=company, **form.cleaned_data)
        messages.success(request, f"Rule “{rule.name}” added.")
        return redirect("approval-rules")
    context = {
        "rules": ApprovalRule.objects.filter(company=company).prefetch_related("categories", "approvers"),
        "form": form,
    }
    return render(request, "approvals/rules.html", context, status=400 if form.errors else 200)


@require_POST
@company_role_required(Role.ADMIN)
def rule_toggle(request: MemberRequest, rule_id: int) -> HttpResponse:
    company = request.membership.company
    try:
        if request.POST.get("delete"):
            rule = services.approval_rule_delete(company=company, rule_id=rule_id)
            messages.success(request, f"Rule “{rule.name}” removed; orders already waiting keep their steps.")
        else:
            rule = services.approval_rule_toggle(company=company, rule_id=rule_id)
            messages.success(request, f"Rule “{rule.name}” {'on' if rule.is_active else 'off'}.")
    except services.ApprovalRuleNotFound as exc:
        raise Http404(exc.message) from exc
    return redirect("approval-rules")


@require_GET
@company_role_required(*APPROVERS)
def approval_queue(request: MemberRequest) -> HttpResponse:
    requests = selectors.approval_queue(user=request.user, company=request.membership.company)
    return render(request, "approvals/queue.html", {"requests": requests})


@require_http_methods(["POST"])
@company_role_required(*APPROVERS)
def approval_decision(request: MemberRequest, request_id: int) -> HttpResponse:
    approval = selectors.approval_get(company=request.membership.company, request_id=request_id)
    if approval is None:
        raise Http404("No such approval in your company.")
    form = DecisionForm(request.POST)
    form.is_valid()
    try:
        services.approval_decide(
            request=approval,
            actor=request.user,
            approve=request.POST.get("decision") == "approve",
            comment=form.cleaned_data.get("comment", ""),
        )
    except ApplicationError as exc:  # ApprovalError and the order's own refusals
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Order {approval.purchase_order.customer_po_number}: decision recorded.")
    return redirect("po-approvals")
