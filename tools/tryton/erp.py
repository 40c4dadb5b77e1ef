"""A local Tryton 8.2 ERP for the portal's run command and test suite.

Stdlib only: this module runs under the portal's Python and never imports trytond. It
drives a separate ERP virtualenv through subprocesses. Everything lives under a work root
(default ``<project>/.erp/``, git-ignored)::

    .erp/venv/                    trytond + modules, pinned by tools/tryton/requirements.txt
    .erp/template/erp.sqlite      initialised and seeded database, built once
    .erp/run/                     default workdir of the CLI server (db/, trytond.conf, log, pid)

Every server started from the template gets its own *copy* of the database, so each
start is a fresh ERP and takes a few seconds. The venv and the template are rebuilt only
when requirements.txt, seed.py or the module list change (hash stamps), under file locks so
that a test run and a dev server can race safely.

Library use::

    from tools.tryton import erp

    server = erp.start(tmp_path)  # fresh ERP on a free port (demo=True: plus demo invoices)
    server.rpc_url                # http://127.0.0.1:PORT/erp/rpc/
    server.restart()              # same port, same database (no reset)
    server.stop()

CLI (``up`` prints shell-quoted KEY=value lines: ERP_URL, ERP_DATABASE, ERP_USERNAME,
ERP_PASSWORD, ...; progress goes to stderr; ``up`` adds the demo invoices unless --no-demo)::

    python tools/tryton/erp.py install | template | up | down | status
        [--root DIR] [--workdir DIR] [--port N] [--no-demo]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

TOOLS_DIR = Path(__file__).resolve().parent
PROJECT_DIR = TOOLS_DIR.parents[1]
DEFAULT_ROOT = PROJECT_DIR / ".erp"
REQUIREMENTS = TOOLS_DIR / "requirements.txt"
SEED_SCRIPT = TOOLS_DIR / "seed.py"

# What the portal needs to talk to the ERP. Keep in sync with seed.py.
ERP_DATABASE = "erp"
ERP_USER = "portal"  # hard UserError on credit overrun
ERP_PASSWORD = "portal-Secret-2026"  # noqa: S105 - local test ERP credential
ERP_FINANCE_USER = "portal-finance"  # same password, in group_credit_limit (gets warnings)
ERP_ADMIN_USER = "admin"
ERP_ADMIN_PASSWORD = "admin"  # noqa: S105 - local test ERP credential
ERP_ADMIN_EMAIL = "admin@example.com"

# Tryton modules activated in the template (dependencies are activated too).
MODULES = (
    "party",
    "product",
    "company",
    "currency",
    "account",
    "account_invoice",
    "account_credit_limit",
    "sale",
    "sale_credit_limit",
    "sale_price_list",
    "product_price_list",
    # start/end dates on price list lines, matched against context["date"] (default: today)
    "product_price_list_dates",
    "stock",
)
SEED_PRODUCTS = 1200
CLI_PORT = 8800  # `erp.py up` default: matches ERP_URL's default in config/settings/base.py
START_TIMEOUT = 30.0  # seconds until common.server.version must answer
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL

PIDFILE = "trytond.pid"
STATEFILE = "erp.json"
LOGFILE = "trytond.log"
CONFFILE = "trytond.conf"
DEMO_SUMMARY = "seed-demo.json"


class ErpError(RuntimeError):
    """The ERP could not be installed, built, started or stopped."""


# --------------------------------------------------------------------------- helpers


def _root(root: Path | str | None) -> Path:
    path = Path(root) if root is not None else Path(os.environ.get("ERP_ROOT") or DEFAULT_ROOT)
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))  # length prefix: no ambiguity between parts
        h.update(data)
    return h.hexdigest()


def _stamp_matches(stamp: Path, digest: str) -> bool:
    try:
        return stamp.read_text().strip() == digest
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock (flock) held for the duration of the block."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no {path})"


def _erp_env(**extra: str) -> dict[str, str]:
    """Environment for ERP subprocesses: trytond reads TRYTOND_<SECTION>__<OPTION>
    overrides from the environment, so drop any inherited ones (and foreign venv vars)
    to make the ERP depend only on the config file we write."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TRYTOND") and key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env.update(extra)
    return env


def _run(cmd: Sequence[str | Path], logfile: Path, *, stdout: IO[str] | None = None, **env: str) -> None:
    """Run a build step, appending its output to ``logfile``; raise with the log tail on failure."""
    with logfile.open("a") as out:
        out.write(f"\n$ {shlex.join(str(c) for c in cmd)}\n")
        out.flush()
        result = subprocess.run(  # noqa: S603 - fixed argv built by this module
            [str(c) for c in cmd],
            stdout=stdout or out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            env=_erp_env(**env),
            check=False,
        )
    if result.returncode:
        raise ErpError(f"{Path(cmd[0]).name} failed (exit {result.returncode}):\n{_tail(logfile)}")


def _base_python() -> str:
    """Interpreter for the ERP venv: $ERP_PYTHON, else python3 on PATH, else our own."""
    return os.environ.get("ERP_PYTHON") or shutil.which("python3") or sys.executable


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (not reaped because not our child)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: field 3 of /proc/PID/stat is the state; "pid (comm) Z ..."
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return not Path("/proc/self").exists()  # no procfs: trust kill(0)


def _is_trytond(pid: int) -> bool:
    """Guard against a stale pidfile whose pid was recycled by another program."""
    try:
        return b"trytond" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()


def write_config(path: Path, db_dir: Path, port: int | None) -> Path:
    """Write a trytond config for the SQLite database ``<db_dir>/erp.sqlite``.

    No inline comments in the values: configparser would keep them.
    """
    sections = {
        "database": {
            "uri": "sqlite://",
            "path": str(db_dir),  # the database file is <path>/<name>.sqlite
            "list": "False",
            "retry": "30",  # attempts on lock/serialization errors before HTTP 503 (default 5)
        },
        # trytond's defaults, spelled out: sessions live 30 days, are bound to the client
        # IP; 5 failed logins in a row get HTTP 429.
        "session": {
            "authentications": "password",
            "max_age": str(30 * 24 * 3600),
            "timeout": "300",
            "max_attempt": "5",
        },
    }
    if port is not None:
        sections["web"] = {"listen": f"127.0.0.1:{port}"}
    text = "# Generated by tools/tryton/erp.py\n"
    for section, options in sections.items():
        text += f"\n[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in options.items())
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- venv + template


def ensure_venv(root: Path | str | None = None) -> Path:
    """Create ``<root>/venv`` with the pinned ERP requirements; no-op when up to date.

    The venv is rebuilt from scratch when requirements.txt changes (hash stamp), so no
    stale package survives an upgrade.
    """
    root = _root(root)
    venv = root / "venv"
    stamp = venv / ".requirements.sha256"
    digest = _digest(REQUIREMENTS.read_bytes())

    def ready() -> bool:
        return _stamp_matches(stamp, digest) and os.path.exists(venv / "bin" / "python")

    if ready():
        return venv
    with _file_lock(root / "venv.lock"):
        if ready():  # built by another process while we waited
            return venv
        started = time.monotonic()
        logfile = root / "venv.log"
        logfile.write_text("")
        if venv.exists():
            log.info("requirements changed, rebuilding %s", venv)
            shutil.rmtree(venv)
        log.info("creating ERP virtualenv %s", venv)
        _run([_base_python(), "-m", "venv", venv], logfile)
        pip = venv / "bin" / "pip"
        _run([pip, "install", "--no-input", "-r", REQUIREMENTS], logfile, PIP_DISABLE_PIP_VERSION_CHECK="1")
        stamp.write_text(digest + "\n")
        log.info("ERP virtualenv ready in %.1f s", time.monotonic() - started)
    return venv


def _template_digest() -> str:
    return _digest(
        REQUIREMENTS.read_bytes(),
        SEED_SCRIPT.read_bytes(),
        " ".join(MODULES),
        f"{ERP_DATABASE} {SEED_PRODUCTS} {ERP_ADMIN_PASSWORD} {ERP_ADMIN_EMAIL}",
    )


def ensure_template(root: Path | str | None = None) -> Path:
    """Build once the seeded SQLite template ``<root>/template/erp.sqlite`` and return it.

    Steps: trytond-admin (activate MODULES, admin password from TRYTONPASSFILE) then
    seed.py in-process with the venv's python. Rebuilt when seed.py, requirements.txt or
    the module list change. The build happens in a scratch dir and the finished file is
    moved into place, so a crashed build never leaves a half-seeded template behind.
    """
    root = _root(root)
    venv = ensure_venv(root)
    template_dir = root / "template"
    template = template_dir / f"{ERP_DATABASE}.sqlite"
    stamp = template_dir / f"{ERP_DATABASE}.sqlite.sha256"
    digest = _template_digest()

    def ready() -> bool:
        return _stamp_matches(stamp, digest) and template.exists()

    if ready():
        return template
    with _file_lock(root / "template.lock"):
        if ready():
            return template
        started = time.monotonic()
        log.info("building the ERP template database (about 35 s)")
        build = root / "template-build"
        shutil.rmtree(build, ignore_errors=True)
        db_dir = build / "db"
        db_dir.mkdir(parents=True)
        (db_dir / f"{ERP_DATABASE}.sqlite").touch()  # trytond refuses a missing SQLite file
        conf = write_config(build / CONFFILE, db_dir, port=None)
        passfile = build / "admin.pass"
        passfile.write_text(ERP_ADMIN_PASSWORD + "\n")
        logfile = build / "build.log"
        _run(
            [
                venv / "bin" / "trytond-admin",
                *("-c", conf, "-d", ERP_DATABASE),
                *("--all", "--activate-dependencies", "--email", ERP_ADMIN_EMAIL),
                *("-u", *MODULES),
            ],
            logfile,
            TRYTONPASSFILE=str(passfile),
        )
        log.info("database initialised in %.1f s, seeding", time.monotonic() - started)
        with (build / "seed.json").open("w") as summary:
            _run(
                [
                    venv / "bin" / "python",
                    SEED_SCRIPT,
                    *("-c", conf, "-d", ERP_DATABASE, "--products", str(SEED_PRODUCTS)),
                ],
                logfile,
                stdout=summary,
            )
        template_dir.mkdir(exist_ok=True)
        stamp.unlink(missing_ok=True)
        os.replace(db_dir / f"{ERP_DATABASE}.sqlite", template)
        for name in ("seed.json", "build.log"):
            os.replace(build / name, template_dir / name)
        stamp.write_text(digest + "\n")
        shutil.rmtree(build, ignore_errors=True)
        log.info("ERP template ready in %.1f s", time.monotonic() - started)
    return template


# --------------------------------------------------------------------------- server


def _rpc_ping(url: str, timeout: float = 2.0) -> bool:
    """True once trytond answers common.server.version on ``url``/rpc/."""
    body = json.dumps({"id": 0, "method": "common.server.version", "params": []}).encode()
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 URL built by us
        f"{url}/rpc/", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return "result" in json.loads(response.read())
    except (OSError, ValueError):  # URLError, connection refused/reset, timeout, bad JSON
        return False


@dataclasses.dataclass
class ErpServer:
    """A trytond process serving the ``erp`` SQLite database in ``workdir``.

    ``url`` is the server root (``http://127.0.0.1:PORT``); JSON-RPC calls go to
    ``rpc_url`` (``<url>/<database>/rpc/``), server-level calls to ``<url>/rpc/``.
    """

    url: str
    database: str
    port: int
    workdir: Path
    pid: int
    user: str = ERP_USER
    password: str = ERP_PASSWORD
    trytond: Path = dataclasses.field(default=DEFAULT_ROOT / "venv" / "bin" / "trytond", repr=False)
    _process: subprocess.Popen[bytes] | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def rpc_url(self) -> str:
        return f"{self.url}/{self.database}/rpc/"

    @property
    def log_path(self) -> Path:
        return self.workdir / LOGFILE

    @property
    def config_path(self) -> Path:
        return self.workdir / CONFFILE

    # -- lifecycle --------------------------------------------------------------

    def _spawn(self, timeout: float = START_TIMEOUT) -> None:
        """Start trytond in its own process group and wait until it answers."""
        if port_is_open(self.port):
            raise ErpError(f"port {self.port} is already in use")
        started = time.monotonic()
        with self.log_path.open("a") as out:
            out.write(f"--- erp.py: starting trytond on port {self.port} at {time.ctime()}\n")
            out.flush()
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv
                [str(self.trytond), "-c", str(self.config_path), "-d", self.database],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_erp_env(),
                start_new_session=True,  # own process group: stop() signals the whole group
            )
        self.pid = self._process.pid
        (self.workdir / PIDFILE).write_text(f"{self.pid}\n")
        self._save_state()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if _rpc_ping(self.url, timeout=1.0):
                log.info("trytond ready on %s in %.1f s", self.url, time.monotonic() - started)
                return
            time.sleep(0.1)
        exited = self._process.poll()
        self.stop()
        reason = f"exited with {exited}" if exited is not None else f"did not answer within {timeout:.0f} s"
        raise ErpError(f"trytond on port {self.port} {reason}; log tail:\n{_tail(self.log_path)}")

    def _save_state(self) -> None:
        state = {
            "url": self.url,
            "rpc_url": self.rpc_url,
            "database": self.database,
            "port": self.port,
            "pid": self.pid,
            "user": self.user,
            "password": self.password,
            "trytond": str(self.trytond),
        }
        (self.workdir / STATEFILE).write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def from_workdir(cls, workdir: Path | str) -> ErpServer:
        """Re-attach to a server started in ``workdir`` (by another process, e.g. the CLI)."""
        workdir = Path(workdir).resolve()
        try:
            state = json.loads((workdir / STATEFILE).read_text())
        except FileNotFoundError:
            raise ErpError(f"no ERP server state in {workdir}") from None
        try:
            pid = int((workdir / PIDFILE).read_text().strip())
        except (FileNotFoundError, ValueError):
            pid = 0
        if pid and not (_pid_alive(pid) and _is_trytond(pid)):
            pid = 0  # stale pidfile: that server is gone
        return cls(
            url=state["url"],
            database=state["database"],
            port=int(state["port"]),
            workdir=workdir,
            pid=pid,
            user=state["user"],
            password=state["password"],
            trytond=Path(state["trytond"]),
        )

    def is_running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return _pid_alive(self.pid)

    def stop(self) -> None:
        """SIGTERM the process group, wait, SIGKILL if needed. Idempotent."""
        if self.pid > 0 and self.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            if not self._wait_exit(STOP_TIMEOUT):
                log.warning("trytond %s ignored SIGTERM, killing it", self.pid)
            # SIGKILL whatever is left of the group (the leader, or children it orphaned).
            # Only here, right after we saw it alive: later the pgid could be recycled.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self._wait_exit(STOP_TIMEOUT)
        pidfile = self.workdir / PIDFILE
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(pidfile.read_text().strip()) == self.pid:
                pidfile.unlink()

    def _wait_exit(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(self.pid):
                return True
            time.sleep(0.05)
        return False

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start again on the same port with the SAME database (no reset)."""
        self.stop()
        deadline = time.monotonic() + 5
        while port_is_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._spawn(timeout)

    def __enter__(self) -> ErpServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    workdir: Path | str,
    port: int | None = None,
    root: Path | str | None = None,
    timeout: float = START_TIMEOUT,
    *,
    demo: bool = False,
) -> ErpServer:
    """Start a fresh ERP (copy of the template DB) in ``workdir``; free port if ``port`` is None.

    Builds the venv and the template first if needed. ``demo``: before the server starts, seed.py
    ``--demo-invoices`` posts the demo invoices (dated from today) into the copy, a few seconds; the
    seed's summary goes to ``<workdir>/seed-demo.json``. Raises ErpError (with the log tail) if
    trytond does not answer within ``timeout`` seconds.
    """
    root = _root(root)
    template = ensure_template(root)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if (previous := _attach(workdir)) and previous.is_running():
        raise ErpError(f"an ERP server is already running in {workdir} (pid {previous.pid}); stop it first")
    db_dir = workdir / "db"
    db_dir.mkdir(exist_ok=True)
    database = db_dir / f"{ERP_DATABASE}.sqlite"
    for leftover in (database, *(db_dir / f"{database.name}{s}" for s in ("-journal", "-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(template, database)
    port = port or _free_port()
    write_config(workdir / CONFFILE, db_dir, port)
    (workdir / LOGFILE).write_text("")
    if demo:
        with (workdir / DEMO_SUMMARY).open("w") as summary:
            _run(
                [
                    root / "venv" / "bin" / "python",
                    SEED_SCRIPT,
                    *("-c", workdir / CONFFILE, "-d", ERP_DATABASE, "--products", str(SEED_PRODUCTS)),
                    "--demo-invoices",
                ],
                workdir / LOGFILE,
                stdout=summary,
            )
    server = ErpServer(
        url=f"http://127.0.0.1:{port}",
        database=ERP_DATABASE,
        port=port,
        workdir=workdir,
        pid=0,
        trytond=root / "venv" / "bin" / "trytond",
    )
    server._spawn(timeout)
    return server


def _attach(workdir: Path | str) -> ErpServer | None:
    try:
        return ErpServer.from_workdir(workdir)
    except ErpError:
        return None


def stop(workdir: Path | str) -> bool:
    """Stop the server started in ``workdir`` (via its pidfile). False if none was running."""
    server = _attach(workdir)
    if server is None:
        return False
    running = server.is_running()
    server.stop()
    return running


# --------------------------------------------------------------------------- CLI


def _print_env(server: ErpServer) -> None:
    """KEY=value lines named like the portal's settings (config/settings/base.py reads
    ERP_URL, ERP_DATABASE, ERP_USERNAME and the password from ERP_PASSWORD), so a run
    script can do ``set -a; eval "$(python tools/tryton/erp.py up)"; set +a``."""
    values = {
        "ERP_URL": server.url,
        "ERP_RPC_URL": server.rpc_url,
        "ERP_DATABASE": server.database,
        "ERP_USERNAME": server.user,
        "ERP_PASSWORD": server.password,
        "ERP_FINANCE_USER": ERP_FINANCE_USER,
        # The user that may accept a credit-limit warning for an order finance released on purpose.
        "ERP_FINANCE_USERNAME": ERP_FINANCE_USER,
        "ERP_FINANCE_PASSWORD": server.password,
        "ERP_ADMIN_USER": ERP_ADMIN_USER,
        "ERP_ADMIN_PASSWORD": ERP_ADMIN_PASSWORD,
        "ERP_PID": str(server.pid),
        "ERP_LOG": str(server.log_path),
    }
    print("\n".join(f"{key}={shlex.quote(value)}" for key, value in values.items()), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="erp.py", description="Local Tryton 8.2 ERP for the B2B portal (dev server and tests)."
    )
    parser.add_argument(
        "command",
        choices=("install", "template", "up", "down", "status"),
        help="install: ERP venv; template: seeded template DB; up/down/status: background server",
    )
    parser.add_argument("--root", type=Path, help=f"work root (default $ERP_ROOT or {DEFAULT_ROOT})")
    parser.add_argument("--workdir", type=Path, help="server workdir (default <root>/run)")
    parser.add_argument(
        "--port",
        type=int,
        default=CLI_PORT,
        help=f"port for `up` (default {CLI_PORT}, the portal's default ERP_URL; 0 = any free port)",
    )
    parser.add_argument(
        "--no-demo",
        action="store_true",
        help="up: leave out the demo invoices (credit aging of CUST-009 and CUST-010)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="erp: %(message)s", stream=sys.stderr)

    root = _root(args.root)
    workdir = (args.workdir or root / "run").resolve()
    started = time.monotonic()
    try:
        if args.command == "install":
            print(ensure_venv(root))
        elif args.command == "template":
            print(ensure_template(root))
        elif args.command == "up":
            server = _attach(workdir)
            if server is not None and server.is_running():
                log.info("already running (pid %s)", server.pid)
            else:
                server = start(workdir, port=args.port or None, root=root, demo=not args.no_demo)
                log.info(
                    "up in %.1f s; stop with: erp.py down --workdir %s", time.monotonic() - started, workdir
                )
            _print_env(server)
        elif args.command == "down":
            log.info("stopped" if stop(workdir) else "not running")
        elif args.command == "status":
            server = _attach(workdir)
            if server is None or not server.is_running():
                print("stopped")
                return 1
            answering = _rpc_ping(server.url)
            print(f"running pid={server.pid} url={server.url} answering={'yes' if answering else 'no'}")
            return 0 if answering else 1
    except ErpError as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
