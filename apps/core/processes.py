"""Whether a process of this host is still alive, for claims and stops tied to a process's life."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs. A child killed but not yet reaped by its parent is a zombie: dead here.
    Read from /proc where it exists (no ``waitpid``: the caller may be interrupted in one on this very
    child); elsewhere ``kill(pid, 0)``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # gone since kill(), or no procfs: trust kill()
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
