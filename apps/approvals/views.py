from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import Role
from apps.accounts.permissions import MemberRequest, company_role_required
from apps.approvals.forms import ApprovalRuleForm
from apps.approvals.models import ApprovalRule


@require_http_methods(["GET", "POST"])
@company_role_required(Role.ADMIN)
def rules(request: MemberRequest) -> HttpResponse:
    company = request.membership.company
    form = ApprovalRuleForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        rule.company = company
        rule.save()
        form.save_m2m()
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
    rule = ApprovalRule.objects.filter(company=request.membership.company, pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule in your company.")
    if request.POST.get("delete"):
        rule.delete()
        messages.success(request, f"Rule “{rule.name}” removed; orders already waiting keep their steps.")
    else:
        rule.is_active = not rule.is_active
        rule.save(update_fields=["is_active", "updated_at"])
        messages.success(request, f"Rule “{rule.name}” {'on' if rule.is_active else 'off'}.")
    return redirect("approval-rules")
