"""An Odoo 19 External JSON-2 API client on httpx: bearer API key, named-argument calls, the error mapping.

Wire format (https://www.odoo.com/documentation/19.0/developer/reference/external_api.html):
    request  POST {url}/json/2/<model>/<method>, headers ``Authorization: bearer <API key>``,
             ``X-Odoo-Database: <db>``; body: the method's named arguments (``ids``, ``context``, ...)
    success  200, the JSON-serialised return value (recordsets as id lists, many2one as [id, name])
    failure  4xx/5xx, ``{"name": "<exception class>", "message", "arguments", "context", "debug"}``
Each call is its own database transaction (committed on success, rolled back on error). Numbers come as
JSON numbers: they are parsed as Decimal here, never as float.
"""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from apps.erp.connectors.base import ErpBusinessError, ErpError, ErpTransientError, ErpUnavailableError

# Methods that change nothing: retried inside the call on transient failures.
READ_METHODS = frozenset({"search_read", "search", "search_count", "read", "fields_get", "context_get"})
# Statuses answered without the method's effect (a proxy's 429/503 before Odoo, a LockError's rolled-back
# transaction): a write is safe to send again.
NOT_PROCESSED = frozenset({409, 429, 503})
# The accounting groups that may read credit limits and invoices (account module, field groups).
ACCOUNTING_GROUPS = (
    "'Invoicing / Billing' (account.group_account_invoice) or "
    "'Accounting / Read-only' (account.group_account_readonly)"
)
RETRY_AFTER_MAX = 10.0  # seconds: a longer wait is the engine's backoff, not a blocked worker's

_LIMITS: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_LIMITS_LOCK = threading.Lock()


def _limit_for(url: str, database: str, size: int) -> threading.BoundedSemaphore:
    with _LIMITS_LOCK:
        key = (url, database)
        if key not in _LIMITS:
            _LIMITS[key] = threading.BoundedSemaphore(max(1, size))
        return _LIMITS[key]


def encode(value: Any) -> Any:
    """JSON for what the ORM takes: Decimal as a number (Odoo's float fields), dates as text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"Cannot send {type(value).__name__} to Odoo")


class OdooError(ErpBusinessError):
    """A business error from Odoo, with its exception class ``name`` (e.g. odoo.exceptions.UserError)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class OdooClient:
    """One API key (the portal's bot user) on one database. ``retries``: extra attempts of a read (and of
    a write the server answered 429/503 without running it), with exponential backoff and jitter."""

    def __init__(
        self,
        url: str,
        database: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        concurrency_limit: int = 2,
        retries: int = 3,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._headers = {
            "Authorization": f"bearer {api_key}",
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "b2b-portal-erp-sync",
        }
        if database:
            self._headers["X-Odoo-Database"] = database
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._limit = _limit_for(self.url, database, concurrency_limit)

    def call(
        self,
        model: str,
        method: str,
        *,
        ids: list[int] | None = None,
        context: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        """``POST /json/2/<model>/<method>`` with named arguments; the decoded result."""
        body: dict[str, Any] = dict(params)
        if ids is not None:
            body["ids"] = ids
        if context:
            body["context"] = context
        content = json.dumps(body, default=encode)
        attempt = 0
        while True:
            try:
                return self._post(model, method, content)
            except _Retryable as exc:
                safe = method in READ_METHODS or exc.status in NOT_PROCESSED
                if not safe or attempt >= self.retries:
                    raise exc.error from None
                delay = exc.retry_after if exc.retry_after is not None else self.backoff * 2**attempt
                time.sleep(min(RETRY_AFTER_MAX, delay) * (1 + random.random() / 4))  # noqa: S311 - jitter
                attempt += 1

    def _post(self, model: str, method: str, content: str) -> Any:
        label = f"{model}.{method}"
        with self._limit:
            try:
                response = self._http.post(
                    f"{self.url}/json/2/{model}/{method}", content=content, headers=self._headers
                )
            except httpx.ConnectTimeout as exc:
                raise ErpUnavailableError(f"Odoo could not be reached in time ({exc}).") from exc
            except httpx.ConnectError as exc:
                raise ErpUnavailableError(f"Odoo is unreachable ({exc}).") from exc
            except httpx.TimeoutException as exc:
                # Connected but no answer in time: overloaded, not gone; the call may have committed.
                raise _Retryable(
                    0, None, ErpTransientError(f"Odoo did not answer {label} in time ({exc}).")
                ) from exc
            except httpx.TransportError as exc:
                # The connection dropped before the answer: the call may have committed.
                raise _Retryable(0, None, ErpTransientError(f"Odoo did not answer {label} ({exc}).")) from exc
        if response.status_code == 200:
            return json.loads(response.content, parse_float=Decimal)
        raise _error(label, response)

    def version(self) -> str:
        """``GET /web/version`` (no key needed): the server's version, e.g. "19.0"."""
        try:
            response = self._http.get(f"{self.url}/web/version")
        except httpx.TransportError as exc:
            raise ErpUnavailableError(f"Odoo is unreachable ({exc}).") from exc
        if response.status_code != 200:
            raise ErpTransientError(f"Odoo answered HTTP {response.status_code} to /web/version.")
        return str(response.json().get("version") or "")

    def close(self) -> None:
        self._http.close()


class _Retryable(Exception):
    """A transient failure the call loop may retry (``status`` 0: no HTTP answer at all)."""

    def __init__(self, status: int, retry_after: float | None, error: ErpError) -> None:
        super().__init__(error.message)
        self.status = status
        self.retry_after = retry_after
        self.error = error


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use our own backoff


def _error(label: str, response: httpx.Response) -> Exception:
    """Odoo's error body mapped to what the engine does with it: transient (retry) or business (a person)."""
    status = response.status_code
    try:
        body = json.loads(response.content)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    name = str(body.get("name") or "")
    message = str(body.get("message") or "").strip()
    said = f": {message}" if message else ""
    if status == 401:
        # An expired (keys last 3 months at most) or revoked API key: the jobs wait until it is replaced.
        return ErpTransientError(
            f"Odoo refused the API key on {label} (HTTP 401{said}); create a new key for the portal's bot "
            "user and put it in the connection's key variable."
        )
    if status == 429 or status >= 500:
        kind = "rate-limited" if status == 429 else f"failed (HTTP {status}{', ' + name if name else ''})"
        return _Retryable(status, _retry_after(response), ErpTransientError(f"Odoo {kind} on {label}{said}."))
    if status == 409 or name.endswith("LockError"):
        return _Retryable(
            status, None, ErpTransientError(f"Odoo could not lock the records of {label} (busy){said}.")
        )
    if status == 403:
        return OdooError(
            name,
            f"Odoo refused access on {label}{said}. The portal's bot user (the API key's user) needs the "
            f"access group named there; for credit limits and invoices that is {ACCOUNTING_GROUPS}.",
        )
    if status == 404 and name.endswith("MissingError"):
        return OdooError(name, f"Odoo no longer has a record {label} needs{said}.")
    if status == 404:
        return OdooError(
            name,
            f"Odoo has no {label} (HTTP 404{said}); check the database name and that the Sales, Inventory "
            "and Invoicing apps are installed.",
        )
    if status == 422:
        return OdooError(name, message or f"Odoo refused {label} (HTTP 422).")
    return OdooError(name, f"Odoo answered HTTP {status} to {label}{said}.")
