"""Settings read from the environment: production checks, the SQLite defaults, the Redis switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables of the test process that must not leak into a "deployment" started from here.
NOT_INHERITED = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
}


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings_json(module: str, expression: str, **env: str) -> object:
    code = (
        "import django, json, os;"
        f"os.environ['DJANGO_SETTINGS_MODULE']='{module}';"
        "django.setup();"
        "from django.conf import settings;"
        f"print(json.dumps({expression}, default=str))"
    )
    result = _run(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_under_production_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **_base_env(),
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "x" * 20 + "-production-grade-secret-key-with-entropy-1f9a8b7c6d",
            "ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key() -> None:
    result = _run(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.production'; django.setup()"
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_sqlite_default_uses_wal_and_immediate_transactions(tmp_path: Path) -> None:
    database = tmp_path / "portal.sqlite3"
    code = (
        "import django, os, json;"
        "os.environ['DJANGO_SETTINGS_MODULE']='config.settings.local';"
        "django.setup();"
        "from django.db import connection;"
        "cursor = connection.cursor();"
        "mode = cursor.execute('PRAGMA journal_mode').fetchone()[0];"
        "timeout = cursor.execute('PRAGMA busy_timeout').fetchone()[0];"
        "print(json.dumps({'mode': mode, 'timeout': timeout,"
        " 'transaction_mode': connection.settings_dict['OPTIONS']['transaction_mode']}))"
    )
    result = _run(code, DATABASE_URL=f"sqlite:///{database}")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "mode": "wal",
        "timeout": 20000,
        "transaction_mode": "IMMEDIATE",
    }


def test_redis_url_switches_the_broker_and_cache() -> None:
    values = _settings_json(
        "config.settings.local",
        "[settings.Q_CLUSTER.get('redis'), settings.Q_CLUSTER.get('orm'),"
        " settings.CACHES['default']['BACKEND']]",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )

    assert values == ["redis://127.0.0.1:6379/3", None, "django.core.cache.backends.redis.RedisCache"]


def test_without_redis_the_orm_broker_is_used() -> None:
    values = _settings_json(
        "config.settings.local", "[settings.Q_CLUSTER.get('redis'), settings.Q_CLUSTER.get('orm')]"
    )

    assert values == [None, "default"]


@pytest.mark.parametrize("key", ["max_attempts", "ack_failures", "catch_up"])
def test_q_cluster_is_transport_only(key: str) -> None:
    from django.conf import settings

    expected = {"max_attempts": 1, "ack_failures": True, "catch_up": False}[key]
    assert settings.Q_CLUSTER[key] == expected
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
