from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.http import AuthenticatedRequest
from apps.core.staff import StaffRole, staff_role_required
from apps.erp import selectors, services
from apps.erp.exceptions import InvalidJobAction
from apps.erp.models import SyncJob


@require_GET
@staff_role_required(StaffRole.ADMIN)
def sync_monitor(request: AuthenticatedRequest) -> HttpResponse:
    template = "erp/monitor.html#monitor-panel" if request.htmx else "erp/monitor.html"
    return render(request, template, {"view": selectors.monitor_view()})


@require_POST
@staff_role_required(StaffRole.ADMIN)
def sync_job_retry(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    job = SyncJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    was = job.get_status_display().lower()
    try:
        services.job_retry(job=job)
    except InvalidJobAction as exc:
        messages.error(request, exc.message)
    else:
        verb = "replayed" if was == "dead" else "queued for another try"
        messages.success(request, f"Job {job.pk} ({job.kind}) {verb}.")
    if request.htmx:
        return render(request, "erp/monitor.html#monitor-panel", {"view": selectors.monitor_view()})
    return redirect("sync-monitor")
