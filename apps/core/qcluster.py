"""How a ``qcluster`` stops: within a few seconds of SIGTERM to its process group, as systemd sends it.

django-q2 (1.11) stops a cluster on SIGTERM by setting a multiprocessing ``Event`` its sentinel process
waits on. When the whole process group is signalled, the sentinel (SIGTERM left at its default) dies at
once, often while waiting on that event, and ``Event.set()`` then waits forever for the dead waiter to
acknowledge: the main process never exits. Here the main process first gives the signalled sentinel a
moment to die; if it did, there is nothing left to tell and the process exits. A SIGTERM to the main
process alone still stops the cluster the graceful django-q2 way (workers finish their current task).

The workers die with the group too; one that is pushing the outbox hands its claimed jobs back first
(``apps.erp.services.dispatch``), so nothing waits for a lease to expire.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from apps.core.processes import process_alive

logger = logging.getLogger(__name__)

SENTINEL_GRACE_SECONDS = 1.0


def _stop_on_signal(cluster: Any, signum: int, frame: Any, graceful: Any) -> None:
    sentinel = cluster.sentinel
    if sentinel is not None and sentinel.pid:
        deadline = time.monotonic() + SENTINEL_GRACE_SECONDS
        while process_alive(sentinel.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not process_alive(sentinel.pid):
            logger.info("qcluster stopped with its process group (signal %s)", signum)
            cluster.start_event = None
            cluster.stop_event = None
            return
    graceful(cluster, signum, frame)


def patch_signal_handling() -> bool:
    """Make ``Cluster`` stop safely on a process-group signal; idempotent."""
    from django_q.cluster import Cluster  # noqa: PLC0415 - django_q.cluster needs the app registry ready

    graceful = Cluster.sig_handler
    if getattr(graceful, "_portal_safe", False):
        return False

    def sig_handler(self: Any, signum: int, frame: Any) -> None:
        _stop_on_signal(self, signum, frame, graceful)

    sig_handler._portal_safe = True  # type: ignore[attr-defined]
    Cluster.sig_handler = sig_handler
    return True
