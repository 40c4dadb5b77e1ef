from __future__ import annotations

from django.apps import AppConfig
from django.core.checks import register


class ErpConfig(AppConfig):
    name = "apps.erp"
    label = "erp"
    verbose_name = "ERP sync"

    def ready(self) -> None:
        from apps.erp import checks, reconcile, waker, watcher  # noqa: PLC0415 - models load before ready(), not before apps.py

        register(checks.erp_kind_check)

        reconcile.register()
        waker.start_if_cluster()
        watcher.start_if_cluster()
