from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
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


@login_required
@require_GET
def stream_changes(request: HttpRequest) -> HttpResponse:
    """The cheap poll of an open page (``{% erp_live %}``): 204 while the page versions of ``streams``
    equal the token ``v`` the page holds (one cache read, no database); else the poller with the new
    token and an ``HX-Trigger`` of ``erp-changed`` and ``erp-changed-<stream>`` per stream that moved, so
    the page's fragments refresh themselves. Only change counters cross here: any signed-in user."""
    poller = selectors.live_poller(request.GET.get("streams", ""))
    names = [name for name in poller["streams"].split(",") if name]
    held = request.GET.get("v", "").split(".")
    now = poller["token"].split(".") if names else []
    moved = [name for index, name in enumerate(names) if index >= len(held) or held[index] != now[index]]
    if not moved:
        return HttpResponse(status=204)
    response = render(request, "erp/_live.html", poller)
    response["HX-Trigger"] = ", ".join(["erp-changed", *(f"erp-changed-{name}" for name in moved)])
    return response
