from __future__ import annotations

from django.urls import path

from apps.erp import views

urlpatterns = [
    path("staff/sync/", views.sync_monitor, name="sync-monitor"),
    path("staff/sync/jobs/<int:job_id>/retry/", views.sync_job_retry, name="sync-job-retry"),
    path("erp/changes/", views.stream_changes, name="erp-stream-changes"),
]
