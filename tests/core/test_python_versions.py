"""The supported Pythons (3.11 to 3.13) are declared once in pyproject and the Makefile, and the venv
the suite runs in holds exactly the locked packages. scripts/python_versions.sh runs this file in a
fresh venv of each other version (CI), with EXPECTED_PYTHON naming the version it built."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ["3.11", "3.12", "3.13"]


def _locked() -> dict[str, str]:
    pins = {}
    for raw in (ROOT / "requirements.lock").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_this_interpreter_is_a_supported_one() -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"

    assert running in SUPPORTED
    expected = os.environ.get("EXPECTED_PYTHON")
    if expected:
        assert running == expected


def test_pyproject_accepts_exactly_the_supported_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    accepted = SpecifierSet(project["requires-python"])

    assert [version for version in ["3.10", *SUPPORTED, "3.14"] if version in accepted] == SUPPORTED


def test_every_installed_package_is_locked_at_its_pin() -> None:
    """In the fresh venv of scripts/python_versions.sh (EXPECTED_PYTHON set) nothing else is installed;
    a developer's venv may hold extra tools (a profiler), but every locked package is at its pin."""
    locked = _locked()
    strict = bool(os.environ.get("EXPECTED_PYTHON"))
    wrong = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in {"pip", "setuptools", "b2b-portal"} or (name not in locked and not strict):
            continue
        if locked.get(name) != dist.version:
            wrong[name] = f"{dist.version} (locked {locked.get(name, 'nothing')})"

    assert wrong == {}
    requires = [Requirement(spec) for spec in metadata.requires("b2b-portal") or []]
    assert requires, "the project's own metadata is installed (make install)"
    assert {canonicalize_name(req.name) for req in requires} <= set(locked)


@pytest.mark.parametrize("python_version", ["3.10", "3.14"])
def test_the_makefile_refuses_a_python_outside_the_range(tmp_path: Path, python_version: str) -> None:
    """A stand-in interpreter reporting another version: make stops, says why, creates no venv."""
    fake = tmp_path / "python"
    major, minor = (int(part) for part in python_version.split("."))
    fake.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version) echo "Python {python_version}.0";;\n'
        f'  -c) exec "{sys.executable}" -c "import sys; sys.version_info = ({major}, {minor}, 0); $2";;\n'
        "  *) exit 3;;\nesac\n"
    )
    fake.chmod(0o755)
    venv = tmp_path / "venv"

    result = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", "install", f"VENV={venv}", f"PYTHON={fake}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert f"needs Python 3.11, 3.12 or 3.13; {fake} is Python {python_version}.0" in result.stderr
    assert not venv.exists()
