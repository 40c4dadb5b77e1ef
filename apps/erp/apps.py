from __future__ import annotations

from django.apps import AppConfig


class ErpConfig(AppConfig):
    name = "apps.erp"
    label = "erp"
    verbose_name = "ERP sync"

    def ready(self) -> None:
        from apps.erp import reconcile, waker, watcher  # noqa: PLC0415 - models load before ready(), not before apps.py

        reconcile.register()
        waker.start_if_cluster()
        watcher.start_if_cluster()
