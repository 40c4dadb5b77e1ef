from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core import csvexport
from apps.core.http import AuthenticatedRequest
from apps.core.staff import StaffRole, staff_role_required
from apps.erp import reconcile, registry, selectors, services, webhooks
from apps.erp.exceptions import InvalidDriftAction, InvalidJobAction
from apps.erp.forms import (
    DriftAcceptForm,
    DriftFilterForm,
    ReconcileRequestForm,
    entity_label,
    form_error_text,
)
from apps.erp.models import Drift, ErpConnection, SyncJob

DRIFT_PAGE_SIZE = 50


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


# --- The drift page --------------------------------------------------------------------------------------


def _overview_context(since: datetime | None = None) -> dict[str, object]:
    overview = selectors.drift_overview(requested_since=since)
    return {"overview": overview, "since": since if overview.poll else None, "kinds": Drift.Kind.choices}


@require_GET
@staff_role_required(StaffRole.ADMIN)
def drift_page(request: AuthenticatedRequest) -> HttpResponse:
    form = DriftFilterForm(request.GET)
    page = Paginator(selectors.drift_list(**form.filters()), DRIFT_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        **_overview_context(),
        "form": form,
        "page": page,
        "rows": selectors.drift_rows(page.object_list, fixes_for=reconcile.fixes_for),
        "query": request.GET.urlencode(),
        "next_url": request.get_full_path(),
    }
    return render(request, "erp/drift.html", context)


@require_GET
@staff_role_required(StaffRole.ADMIN)
def drift_runs(request: AuthenticatedRequest) -> HttpResponse:
    """The runs panel alone: what it polls every 2 s while a run is running (or was just asked for)."""
    since = parse_datetime(request.GET.get("since", ""))
    return render(request, "erp/drift.html#drift-runs", _overview_context(since))


@require_POST
@staff_role_required(StaffRole.ADMIN)
def drift_run_request(request: AuthenticatedRequest) -> HttpResponse:
    form = ReconcileRequestForm(request.POST)
    since = timezone.now()
    if form.is_valid():
        entity = form.cleaned_data["entity"]
        reconcile.reconcile_request(entity=entity, requested_by=request.user)
        messages.success(request, f"Reconciliation of {entity_label(entity)} queued: progress shows below.")
    else:
        messages.error(request, form_error_text(form))
    if request.htmx:
        return render(request, "erp/drift.html#drift-runs", _overview_context(since))
    return redirect("sync-drift")


def _drift_or_404(drift_id: int) -> Drift:
    drift = selectors.drift_get(drift_id)
    if drift is None:
        raise Http404("No such difference.")
    return drift


def _after_fix(request: AuthenticatedRequest, drift_id: int) -> HttpResponse:
    """The row again (htmx; flash messages ride along out of band), else back to the page it came from."""
    back = request.POST.get("next", "")
    if not (back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
        back = reverse("sync-drift")
    if request.htmx:
        drift = _drift_or_404(drift_id)
        row = selectors.drift_rows([drift], fixes_for=reconcile.fixes_for)[0]
        return render(request, "erp/drift.html#drift-row", {"row": row, "next_url": back})
    return redirect(back)


def _fix(
    request: AuthenticatedRequest, drift_id: int, done: str, action: Callable[[Drift], Drift]
) -> HttpResponse:
    drift = _drift_or_404(drift_id)
    try:
        if drift.entity not in {spec.entity for spec in registry.reconciliations()}:
            raise InvalidDriftAction(f"No app registers the reconciliation {drift.entity!r} any more.")
        action(drift)
    except InvalidDriftAction as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{drift.label or drift.key}: {done}.")
    return _after_fix(request, drift_id)


@require_POST
@staff_role_required(StaffRole.ADMIN)
def drift_repull(request: AuthenticatedRequest, drift_id: int) -> HttpResponse:
    return _fix(
        request,
        drift_id,
        "re-pull from the ERP queued",
        lambda drift: reconcile.drift_repull(drift=drift, actor=request.user),
    )


@require_POST
@staff_role_required(StaffRole.ADMIN)
def drift_repush(request: AuthenticatedRequest, drift_id: int) -> HttpResponse:
    return _fix(
        request,
        drift_id,
        "re-push to the ERP queued",
        lambda drift: reconcile.drift_repush(drift=drift, actor=request.user),
    )


@require_POST
@staff_role_required(StaffRole.ADMIN)
def drift_accept(request: AuthenticatedRequest, drift_id: int) -> HttpResponse:
    form = DriftAcceptForm(request.POST)
    if not form.is_valid():
        _drift_or_404(drift_id)
        messages.error(request, form_error_text(form))
        return _after_fix(request, drift_id)
    reason = form.cleaned_data["reason"]
    return _fix(
        request,
        drift_id,
        "accepted as it is",
        lambda drift: reconcile.drift_accept(drift=drift, actor=request.user, reason=reason),
    )


@require_GET
@staff_role_required(StaffRole.ADMIN)
def drift_export(request: AuthenticatedRequest) -> HttpResponse:
    """The filtered differences as CSV, every page: one row per field that differs (field, portal value,
    ERP value); a drift of another kind is one row with those columns empty."""
    drifts = selectors.drift_list(**DriftFilterForm(request.GET).filters())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="drift-{timezone.localdate():%Y%m%d}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 only with a byte-order mark
    writer = csvexport.safe_writer(response)  # a label or a value starting with = stays text
    writer.writerow(
        [
            "entity",
            "kind",
            "key",
            "label",
            "status",
            "field",
            "portal_value",
            "erp_value",
            "erp_keys",
            "first_seen",
            "last_seen",
            "accepted_by",
            "accepted_at",
            "accepted_reason",
        ]
    )
    for row in selectors.drift_rows(drifts.iterator(chunk_size=500), fixes_for=lambda drift: []):
        drift = row.drift
        common = [drift.entity, drift.kind, drift.key, drift.label, drift.status]
        tail = [
            " ".join(row.erp_keys),
            row.first_seen.isoformat() if row.first_seen else "",
            row.last_seen.isoformat() if row.last_seen else "",
            drift.accepted_by.email if drift.accepted_by else "",
            drift.accepted_at.isoformat() if drift.accepted_at else "",
            drift.accepted_reason,
        ]
        for field, portal_value, erp_value in row.fields or [("", "", "")]:
            writer.writerow([*common, field, _cell(portal_value), _cell(erp_value), *tail])
    return response


def _cell(value: object) -> object:
    return "" if value is None else value


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


@csrf_exempt  # the ERP calls it: no session, no CSRF token; each notification carries its clientState
@require_http_methods(["GET", "POST"])
def erp_webhook(request: HttpRequest, connection_id: int) -> HttpResponse:
    """An ERP's change notification (Business Central webhooks). ``?validationToken=…``: the subscription
    handshake, answered with the token as plain text. Otherwise a JSON body of notifications: each must
    carry its subscription's ``clientState`` (else 403 and nothing is pulled); the streams they name are
    pulled by the watcher within seconds (202)."""
    connection = ErpConnection.objects.filter(pk=connection_id, is_active=True).first()
    if connection is None:
        raise Http404
    token = request.GET.get("validationToken")
    if token is not None:
        # BC's docs do not say which method the handshake uses (POST in practice): both are answered.
        return HttpResponse(webhooks.validation_answer(token), content_type="text/plain")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return HttpResponse("not JSON", status=400, content_type="text/plain")
    if not isinstance(payload, dict):
        return HttpResponse("not a notification", status=400, content_type="text/plain")
    try:
        webhooks.notification_receive(connection=connection, payload=payload)
    except webhooks.WebhookRefused as exc:
        return HttpResponse(str(exc), status=403, content_type="text/plain")
    return HttpResponse(status=202)
