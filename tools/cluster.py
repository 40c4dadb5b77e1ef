"""Real portal processes for fault tests and benchmarks: ``manage.py qcluster`` (and helpers) as
subprocesses, each in its own process group, killed or stopped as a whole, never left behind.

Stdlib only at import time (Django is imported lazily by the few helpers that need it), so a benchmark
can import this module before it configures Django.

Library use::

    from tools import cluster

    env = cluster.portal_env(database_url=..., redis_url="redis://127.0.0.1:6379/14", erp=server,
                             lease_seconds=5)
    with cluster.Processes(log_dir) as procs:
        one = procs.qcluster("one", env)          # started; log in log_dir/one.log
        two = procs.qcluster("two", env)
        pull = procs.pull_loop("pull", env, stream="orders", interval=0.5)
        one.kill()                                # SIGKILL to the whole process group
        one.start()                               # again, same name, same log (appended)
        seconds = two.terminate(timeout=10)       # SIGTERM to the group; seconds until all were gone
    # leaving the block SIGKILLs every group still alive, even when the block raised

``python -m tools.cluster pull-loop --stream orders --interval 0.5`` (run by ``Processes.pull_loop``)
pulls one inbound stream over and over, as the schedule would but without waiting for it, until it is
signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parents[1]
MANAGE = PROJECT_DIR / "manage.py"
# Production settings: exactly base + environment (Redis broker, PostgreSQL, no inline tasks).
SETTINGS_MODULE = "config.settings.production"
SECRET_KEY = "cluster-tests-only-not-secret-3e9a6f1c"  # noqa: S105 - local processes only
STOP_TIMEOUT = 10.0

T = TypeVar("T")


class ClusterError(RuntimeError):
    """A process did not start, stop or reach the awaited state in time."""


# --------------------------------------------------------------------------- environment


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL (postgres://user:password@host:port/name) for Django's ``settings_dict``, e.g.
    ``django.db.connection.settings_dict`` of the test database, so subprocesses use the same one."""
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def portal_env(
    *,
    database_url: str,
    redis_url: str,
    erp: Any = None,
    erp_url: str = "",
    erp_database: str = "",
    erp_username: str = "",
    erp_password: str = "",
    lease_seconds: int | None = 5,
    workers: int = 2,
    secret_key: str = SECRET_KEY,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of a production-like portal process: production settings, PostgreSQL at
    ``database_url``, Redis at ``redis_url`` (broker and cache), the ERP of ``erp`` (an
    ``tools.tryton.erp.ErpServer``) or of the ``erp_*`` arguments, sync on, ``lease_seconds`` as
    ERP_JOB_LEASE_SECONDS (None: the settings' default), ``workers`` qcluster workers. ``extra`` wins.

    The test process signs the tasks it enqueues with its own SECRET_KEY: pass the same ``secret_key``
    (django.conf.settings.SECRET_KEY) when it enqueues to the clusters' Redis."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ERP_", "Q_", "PYTEST_", "DJANGO_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "SECRET_KEY": secret_key,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "DJANGO_CONN_MAX_AGE": "0",
            "REDIS_URL": redis_url,
            "EMAIL_URL": "consolemail://",
            "ERP_SYNC_ENABLED": "true",
            "Q_WORKERS": str(workers),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_LOG_LEVEL": "INFO",
        }
    )
    if erp is not None:
        erp_url = erp_url or erp.url
        erp_database = erp_database or erp.database
        erp_username = erp_username or erp.user
        erp_password = erp_password or erp.password
    for key, value in (
        ("ERP_URL", erp_url),
        ("ERP_DATABASE", erp_database),
        ("ERP_USERNAME", erp_username),
        ("ERP_PASSWORD", erp_password),
    ):
        if value:
            env[key] = value
    if lease_seconds is not None:
        env["ERP_JOB_LEASE_SECONDS"] = str(lease_seconds)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- process groups


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid`` (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
            continue
        # after "(comm)": state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def wait_until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.25, message: str = "") -> T:
    """Call ``predicate`` until it returns something truthy (returned); ClusterError after ``timeout``
    seconds, saying ``message`` (or a callable's answer, e.g. the state that was not reached)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ClusterError(f"not reached within {timeout:.0f} s: {message or predicate!r}")
        time.sleep(interval)


@dataclasses.dataclass
class Proc:
    """One command run in its own process group (start_new_session), output appended to ``log_path``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = dataclasses.field(default=None, repr=False)
    starts: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen is not None else 0

    def start(self) -> Proc:
        if self.alive():
            raise ClusterError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"\n--- cluster.py: starting {self.name} at {time.ctime()}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(  # noqa: S603 - argv built by this module
                self.argv,
                cwd=PROJECT_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: signals reach the workers too
            )
        self.starts += 1
        return self

    def members(self) -> list[int]:
        """The live processes of this group (the leader and every worker it forked)."""
        if self.popen is None:
            return []
        self.popen.poll()  # reap the leader if it exited
        return _group_members(self.popen.pid)

    def alive(self) -> bool:
        return bool(self.members())

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.members():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def kill(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGKILL the whole group (a crash: nothing gets to clean up) and wait until it is gone."""
        self.signal(signal.SIGKILL)
        self.wait_gone(timeout)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> float:
        """SIGTERM the whole group (what systemd does) and return the seconds until every process of it
        was gone; SIGKILL after ``timeout`` and raise ClusterError (the stop was not clean)."""
        started = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            self.wait_gone(timeout)
        except ClusterError:
            self.kill()
            raise
        return time.monotonic() - started

    def wait_gone(self, timeout: float) -> None:
        wait_until(
            lambda: not self.alive(),
            timeout=timeout,
            interval=0.05,
            message=f"{self.name} (pid {self.pid}) gone; still alive: {self.members()}",
        )
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(1)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class Processes:
    """Every process of a test or benchmark; leaving the block SIGKILLs each group still alive."""

    def __init__(self, log_dir: Path | str) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, Proc] = {}

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill_all()

    def kill_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ClusterError):
                proc.kill()

    def add(self, name: str, argv: list[str], env: Mapping[str, str], *, start: bool = True) -> Proc:
        if name in self.procs and self.procs[name].alive():
            raise ClusterError(f"{name} is already running")
        proc = Proc(name=name, argv=argv, env=dict(env), log_path=self.log_dir / f"{name}.log")
        self.procs[name] = proc
        return proc.start() if start else proc

    def qcluster(self, name: str, env: Mapping[str, str], *, start: bool = True) -> Proc:
        """``manage.py qcluster``: the sentinel, its workers, monitor and pusher share one group."""
        return self.add(name, [sys.executable, str(MANAGE), "qcluster"], env, start=start)

    def pull_loop(
        self, name: str, env: Mapping[str, str], *, stream: str = "orders", interval: float = 0.5
    ) -> Proc:
        """A process pulling one inbound stream over and over (see ``pull_loop_main``)."""
        argv = [sys.executable, "-m", "tools.cluster", "pull-loop", "--stream", stream]
        return self.add(name, [*argv, "--interval", str(interval)], env)

    def manage(self, name: str, env: Mapping[str, str], *args: str) -> Proc:
        return self.add(name, [sys.executable, str(MANAGE), *args], env)

    def logs(self, lines: int = 30) -> str:
        """The tail of every process's log, for a failing assertion's message."""
        return "\n".join(f"===== {name}\n{proc.log_tail(lines)}" for name, proc in self.procs.items())


class Churn:
    """SIGKILL the given processes in turn from a background thread: every ``every`` seconds the next
    one is killed (its whole group) and started again ``down`` seconds later. Leaving the block stops
    the churn and makes sure every one of them runs again. ``kills`` and ``last_kill_at``
    (time.monotonic()) say what happened."""

    def __init__(self, procs: list[Proc], *, every: float = 4.0, down: float = 1.0) -> None:
        self.procs = procs
        self.every = every
        self.down = down
        self.kills = 0
        self.last_kill_at = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="churn", daemon=True)

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_TIMEOUT + self.down + 5)
        for proc in self.procs:
            if not proc.alive():
                proc.start()

    def _run(self) -> None:
        next_kill = time.monotonic() + self.every
        while not self._stop.wait(max(0.0, next_kill - time.monotonic())):
            next_kill += self.every
            victim = self.procs[self.kills % len(self.procs)]
            try:
                victim.kill()
                self.kills += 1
                self.last_kill_at = time.monotonic()
                if self._stop.wait(self.down):
                    return
                victim.start()
            except Exception as exc:  # reported by the caller; the churn goes on
                self.errors.append(f"{victim.name}: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- Redis


def redis_flush(redis_url: str) -> None:
    """Empty the Redis database of ``redis_url`` (use a dedicated db number: this drops everything)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def dispatch_kick(redis_url: str, func: str = "apps.erp.tasks.dispatch") -> str:
    """Enqueue ``func`` on the clusters' Redis from an already configured Django process, as the web
    process does after an order's commit, whatever that process's own Q_CLUSTER is (the test settings
    run tasks inline). The task is signed with this process's SECRET_KEY: the clusters must share it."""
    import redis
    from django_q.brokers.redis_broker import Redis
    from django_q.tasks import async_task

    broker = Redis()  # list key django_q:<cluster name>:q; the connection is replaced below
    broker.connection = redis.Redis.from_url(redis_url)
    try:
        return str(async_task(func, q_options={"group": "erp", "sync": False, "broker": broker}))
    finally:
        broker.connection.close()


# --------------------------------------------------------------------------- pull loop (subprocess)


def pull_loop_main(stream: str, interval: float) -> int:
    """Pull ``stream`` every ``interval`` seconds until SIGTERM/SIGINT; one line of output per change."""
    import django

    django.setup()
    from apps.erp import inbound, services
    from apps.erp.connectors import connector_for

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    connection = services.connection_get_default()
    connector = connector_for(connection)
    runs = 0
    try:
        while not stopping:
            try:
                report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
            except Exception as exc:  # keep pulling: a fault test kills things under us
                print(f"pull {stream}: {type(exc).__name__}: {exc}", flush=True)
            else:
                runs += 1
                if report.changed or report.error:
                    print(f"pull {stream}: {report.changed} changed {report.error}".rstrip(), flush=True)
            time.sleep(interval)
    finally:
        connector.close()
    print(f"pull {stream}: stopped after {runs} runs", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    loop = sub.add_parser("pull-loop", help="pull one inbound stream over and over until signalled")
    loop.add_argument("--stream", default="orders")
    loop.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    if args.command == "pull-loop":
        sys.path.insert(0, str(PROJECT_DIR))
        return pull_loop_main(args.stream, args.interval)
    return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "Churn",
    "ClusterError",
    "Proc",
    "Processes",
    "database_url",
    "dispatch_kick",
    "portal_env",
    "redis_flush",
    "wait_until",
]
