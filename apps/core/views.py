from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.http import AuthenticatedRequest
from apps.core.selectors import health_report
from apps.core.staff import StaffRole, staff_role_required


@require_GET
@staff_role_required(StaffRole.ADMIN)
def staff_home(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "core/staff_home.html", {"report": health_report()})


@require_GET
@staff_role_required(StaffRole.ADMIN)
def staff_health(request: AuthenticatedRequest) -> HttpResponse:
    report = health_report()
    template = "core/health.html#health-panel" if request.htmx else "core/health.html"
    return render(request, template, {"report": report})
