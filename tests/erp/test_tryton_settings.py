"""Where the Tryton connector takes its finance user from: its arguments, else the settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.models import ErpConnection

ROOT = Path(__file__).resolve().parents[2]


def _connection() -> ErpConnection:
    return ErpConnection(name="default", url="http://127.0.0.1:9", database="erp", username="portal")


def _finance_username(connector: TrytonConnector) -> str | None:
    try:
        return connector.finance_client.username if connector.finance_client is not None else None
    finally:
        connector.close()


def test_the_finance_user_comes_from_the_settings(settings: Any) -> None:
    settings.ERP_FINANCE_USERNAME = "portal-finance"
    settings.ERP_FINANCE_PASSWORD = "secret-1"

    assert _finance_username(TrytonConnector.for_connection(_connection())) == "portal-finance"
    assert (
        _finance_username(
            TrytonConnector.for_connection(
                _connection(),
                finance_username="other",
                finance_password="secret-2",
            )
        )
        == "other"
    )


@pytest.mark.parametrize(("username", "password"), [("portal-finance", ""), ("", "secret-1")])
def test_without_both_a_finance_login_and_password_there_is_no_finance_user(
    settings: Any, username: str, password: str
) -> None:
    settings.ERP_FINANCE_USERNAME = username
    settings.ERP_FINANCE_PASSWORD = password

    assert _finance_username(TrytonConnector.for_connection(_connection())) is None


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, ""),
        ({"ERP_FINANCE_USER": "from-user"}, "from-user"),
        ({"ERP_FINANCE_USERNAME": "from-username", "ERP_FINANCE_USER": "from-user"}, "from-username"),
        ({"ERP_FINANCE_USERNAME": "", "ERP_FINANCE_USER": "from-user"}, "from-user"),
    ],
)
def test_the_finance_username_setting_reads_either_environment_name(
    environment: dict[str, str], expected: str
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERP_FINANCE_")}
    env.update(environment, DJANGO_SETTINGS_MODULE="config.settings.test")
    printed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.ERP_FINANCE_USERNAME)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.strip() == expected
