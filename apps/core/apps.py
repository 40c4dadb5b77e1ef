from __future__ import annotations

import sys
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    from apps.core.services import schedules_ensure  # noqa: PLC0415 - runs after migrate, once models load

    schedules_ensure()


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Infrastructure, not domain flow: periodic tasks must exist on every database once migrated.
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="core.schedules_ensure")
        if len(sys.argv) > 1 and sys.argv[1] == "qcluster":
            from apps.core.qcluster import patch_signal_handling  # noqa: PLC0415 - only in qcluster processes

            patch_signal_handling()
