from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_staff_groups(sender: AppConfig, **kwargs: Any) -> None:
    from apps.accounts.services import staff_groups_ensure  # noqa: PLC0415 - runs after migrate, models loaded

    staff_groups_ensure()


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from apps.accounts import erp  # noqa: PLC0415 - models load before ready(), not before apps.py

        erp.register()
        # Infrastructure, not domain flow: the staff groups must exist on every migrated database.
        post_migrate.connect(_ensure_staff_groups, sender=self, dispatch_uid="accounts.staff_groups_ensure")
