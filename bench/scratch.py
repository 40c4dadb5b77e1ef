"""The scratch PostgreSQL database every benchmark runs in: recreated, migrated with the test settings,
dropped afterwards unless kept. Server: BENCH_PG_URL (default postgres on 127.0.0.1:5432)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

SERVER_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def log(message: str) -> None:
    print(message, flush=True)


def database_recreate(name: str) -> None:
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(name: str) -> None:
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_in_scratch_database(name: str, *, keep: bool, run: Callable[[], dict[str, Any]]) -> int:
    """Create and migrate ``name``, set Django up on it, call ``run`` and print its figures as the last
    line (one JSON object); drop the database afterwards unless ``keep``."""
    total_started = started = time.perf_counter()
    database_recreate(name)
    os.environ["DATABASE_URL"] = f"{SERVER_URL}/{name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        log(f"created and migrated database {name} in {time.perf_counter() - started:.1f} s")
        result = run()
    finally:
        from django.db import connections

        connections.close_all()
        if keep:
            log(f"kept database {SERVER_URL}/{name}")
        else:
            database_drop(name)
    log(f"total {time.perf_counter() - total_started:.0f} s")
    print(json.dumps(result))
    return 0
