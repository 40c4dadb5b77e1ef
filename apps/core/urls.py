from __future__ import annotations

from django.urls import path

from apps.core import views

urlpatterns = [
    path("staff/", views.staff_home, name="staff-home"),
    path("staff/health/", views.staff_health, name="staff-health"),
]
