"""The embedded default (SQLite) never answers "database is locked" under its own worker's writes: readers,
buyers submitting through the UI and the worker's pulls and pushes at once, on a SQLite file in tmp with the
project's settings (bench/sqlite_locking.py, a short round, in its own process: WAL belongs to the file and
Django's settings to the process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_INHERITED = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "REDIS_URL"}


def test_no_database_is_locked_while_the_worker_pushes_and_pulls(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "bench/sqlite_locking.py",
            "--child=ours",
            f"--database={tmp_path / 'portal.sqlite3'}",
            "--seconds=6",
            "--readers=4",
            "--buyers=2",
            "--products=60",
            "--until-pushed=2",  # a slow machine runs longer rather than proving nothing
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in NOT_INHERITED},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(result.stdout.strip().splitlines()[-1])

    assert run["journal_mode"] == "wal"
    assert (run["locked"], run["other_errors"], run["error_samples"]) == (0, 0, [])
    assert run["reads"] > 0
    assert run["orders_submitted"] > 0
    assert run["orders_pushed"] >= 2  # the worker really wrote while the others read and wrote
    assert run["pull_pages"] > 0
