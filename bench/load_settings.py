"""Settings of bench/load.py's servers: exactly ``config.settings.production`` (plus the environment the
benchmark sets), with the collected static files in the run's temporary directory instead of the
project's ``staticfiles/`` (the manifest storage needs ``collectstatic`` once DEBUG is off)."""

from __future__ import annotations

import os
from pathlib import Path

from config.settings.production import *  # noqa: F403 - production, unchanged

STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
