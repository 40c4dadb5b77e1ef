from __future__ import annotations

from apps.core.services import heartbeat_record


def worker_heartbeat() -> None:
    heartbeat_record()
