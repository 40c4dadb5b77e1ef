from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data of ``make run`` (``manage.py seed_demo``): it touches every app, so it sits above
    them all and nothing imports it."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data"
