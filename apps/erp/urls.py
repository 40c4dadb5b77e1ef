from __future__ import annotations

from django.urls import path

from apps.erp import views

urlpatterns = [
    path("staff/sync/", views.sync_monitor, name="sync-monitor"),
    path("staff/sync/jobs/<int:job_id>/retry/", views.sync_job_retry, name="sync-job-retry"),
    path("staff/sync/drift/", views.drift_page, name="sync-drift"),
    path("staff/sync/drift/runs/", views.drift_runs, name="sync-drift-runs"),
    path("staff/sync/drift/runs/request/", views.drift_run_request, name="sync-drift-run"),
    path("staff/sync/drift/export.csv", views.drift_export, name="sync-drift-export"),
    path("staff/sync/drift/<int:drift_id>/repull/", views.drift_repull, name="sync-drift-repull"),
    path("staff/sync/drift/<int:drift_id>/repush/", views.drift_repush, name="sync-drift-repush"),
    path("staff/sync/drift/<int:drift_id>/accept/", views.drift_accept, name="sync-drift-accept"),
    path("erp/changes/", views.stream_changes, name="erp-stream-changes"),
    path("erp/webhooks/<int:connection_id>/", views.erp_webhook, name="erp-webhook"),
]
