#!/usr/bin/env bash
# Prove the README's first-run path on other Pythons: for each version given (default 3.12 3.13),
# build a throwaway venv with the Makefile's own `make install` (the locked packages), then on a
# throwaway SQLite database run `manage.py check`, `migrate` and `seed_demo` twice (the steps
# `make run` takes before it starts the servers), and the pytest subset that needs no ERP and no
# PostgreSQL (tests/core/test_python_versions.py checks the interpreter and every pin; the SQLite
# locking test and seed_demo's tests without the ERP).
# A version that cannot be found is a failure, never a skip. Usage: scripts/python_versions.sh [3.12 ...]
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.12 3.13)

find_python() {
  # pyenv's shims answer only for the selected version, so also look in pyenv's own folders.
  local version=$1 candidate
  local candidates=("python$version")
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/"$version"*/bin/"python$version")
  fi
  candidates+=(/usr/bin/"python$version" /usr/local/bin/"python$version")
  for candidate in "${candidates[@]}"; do
    if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" \
      >/dev/null 2>&1; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/portal-python.XXXXXX")
trap 'rm -rf "$work"' EXIT

for version in "${versions[@]}"; do
  printf '\n--- Python %s\n' "$version"
  if ! python=$(find_python "$version"); then
    echo "FAIL: Python $version is not installed here (tried python$version, pyenv's versions, /usr)." >&2
    exit 1
  fi
  echo "interpreter: $python"
  venv="$work/venv-$version"
  started=$SECONDS
  make --no-print-directory install VENV="$venv" PYTHON="$python"
  echo "installed in $((SECONDS - started)) s"
  export DJANGO_SETTINGS_MODULE=config.settings.local
  export DATABASE_URL="sqlite:///$work/portal-$version.sqlite3"
  "$venv/bin/python" manage.py check --fail-level WARNING
  "$venv/bin/python" manage.py migrate --noinput -v 0
  "$venv/bin/python" manage.py seed_demo >/dev/null
  "$venv/bin/python" manage.py seed_demo | tail -1
  unset DJANGO_SETTINGS_MODULE
  DATABASE_URL="sqlite:///$work/test-$version.sqlite3" EXPECTED_PYTHON="$version" \
    "$venv/bin/pytest" -q -p no:cacheprovider --create-db \
    -k "not with_the_erp" \
    tests/core/test_python_versions.py tests/core/test_sqlite_locking.py tests/accounts/test_seed_demo.py
  echo "Python $version: ok in $((SECONDS - started)) s"
done
