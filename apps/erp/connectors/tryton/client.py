"""A Tryton 8.2 JSON-RPC client on httpx: session login, re-login on 401, the type codec, error classes.

Wire format (POST {url}/{database}/rpc/):
    request  {"id": n, "method": "model.<model>.<method>", "params": [..., context]}
    success  {"id": n, "result": ...}
    failure  {"id": n, "error": [<kind>, <args>]} with HTTP 200 (UserError, UserWarning, ...)
             or HTTP 401 (session), 403 (method), 429 (login rate limit), 503 (lock/serialization)
Decimal, date and datetime travel as tagged objects: {"__class__": "Decimal", "decimal": "9.90"}.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import threading
from decimal import Decimal
from typing import Any

import httpx

from apps.erp.connectors.base import ErpBusinessError, ErpError, ErpTransientError, ErpUnavailableError

# One semaphore per (url, database) in this process: the connection's concurrency limit.
_LIMITS: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_LIMITS_LOCK = threading.Lock()


def _limit_for(url: str, database: str, size: int) -> threading.BoundedSemaphore:
    with _LIMITS_LOCK:
        key = (url, database)
        if key not in _LIMITS:
            _LIMITS[key] = threading.BoundedSemaphore(max(1, size))
        return _LIMITS[key]


def encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # Tryton stores naive UTC
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"Cannot send {type(value).__name__} to Tryton")


def decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj["hour"],
            obj["minute"],
            obj["second"],
            obj["microsecond"],
            tzinfo=dt.UTC,  # Tryton's timestamps are naive UTC
        )
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.decodebytes(obj["base64"].encode())
    return obj


class TrytonWarning(ErpBusinessError):
    """A bypassable UserWarning (e.g. a credit limit for a privileged user); ``name`` identifies it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class TrytonClient:
    def __init__(
        self,
        url: str,
        database: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        concurrency_limit: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self.username = username
        self._password = password
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._ids = itertools.count(1)
        self._session_header: str | None = None
        self._login_lock = threading.Lock()
        self._limit = _limit_for(url, database, concurrency_limit)
        self.context: dict[str, Any] = {}

    # -- transport ---------------------------------------------------------------------------------------
    def _post(self, method: str, params: list[Any], authenticated: bool = True) -> Any:
        body = json.dumps({"id": next(self._ids), "method": method, "params": params}, default=encode)
        headers = {"Content-Type": "application/json"}
        if authenticated and self._session_header:
            headers["Authorization"] = self._session_header
        with self._limit:
            response = self._send(method, self.endpoint, content=body, headers=headers)
        return self._result(method, response)

    def _send(self, method: str, url: str, **request: Any) -> httpx.Response:
        """POST, with the transport's failures as ERP errors: no connection is an outage, a connection
        that gets no answer in time is an overloaded ERP."""
        try:
            return self._http.post(url, **request)
        except httpx.ConnectTimeout as exc:
            raise ErpUnavailableError(f"The ERP could not be reached in time ({exc}).") from exc
        except httpx.TimeoutException as exc:
            # Connected but no answer in time: the ERP is overloaded, not gone. Back off.
            raise ErpTransientError(f"The ERP did not answer {method} in time ({exc}).") from exc
        except httpx.TransportError as exc:
            raise ErpUnavailableError(f"The ERP is unreachable ({exc}).") from exc

    @staticmethod
    def _result(method: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401:
            raise _SessionExpired(method)
        if status == 429:
            raise ErpTransientError(f"The ERP rate-limited {method} (HTTP 429).")
        if status == 503:
            raise ErpTransientError(
                f"The ERP was busy (HTTP 503, lock or serialization failure) on {method}."
            )
        if status >= 500:
            raise ErpTransientError(f"The ERP failed on {method} (HTTP {status}).")
        if status == 403:
            raise ErpBusinessError(f"The ERP does not allow {method} (HTTP 403).")
        if status != 200:
            raise ErpError(f"Unexpected HTTP {status} from the ERP on {method}.")
        data = json.loads(response.content, object_hook=decode)
        if "error" in data:
            raise _classify(data["error"])
        return data["result"]

    def call(self, method: str, *params: Any) -> Any:
        if self._session_header is None:
            self.login()
        try:
            return self._post(method, list(params))
        except _SessionExpired:
            # Sessions expire and are bound to the client address: log in again once, then retry.
            self.login(force=True)
            try:
                return self._post(method, list(params))
            except _SessionExpired as exc:
                raise ErpTransientError("The ERP refused the session right after a fresh login.") from exc

    def model(self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None) -> Any:
        if self._session_header is None:
            self.login()  # first: the user's preferences (company, …) are the base of every context
        return self.call(f"model.{model}.{method}", *args, {**self.context, **(context or {})})

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: list[list[str]] | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """``model.<model>.search_read(domain, offset, limit, order, fields)``: the matching rows, each with
        its ``id`` and ``fields`` (a dotted field comes back nested under ``"<name>."``)."""
        return list(self.model(model, "search_read", domain, offset, limit, order, fields, context=context))

    def read(
        self, model: str, ids: list[int], fields: list[str], *, context: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """``model.<model>.read(ids, fields)``: one row per id the ERP has."""
        return list(self.model(model, "read", ids, fields, context=context))

    def report(self, name: str, ids: list[int], data: dict[str, Any] | None = None) -> tuple[str, bytes, str]:
        """``report.<name>.execute(ids, data)``: the rendered report's format (its file extension), bytes
        and name, as the ERP's own client would save it."""
        if self._session_header is None:
            self.login()
        extension, content, _direct_print, name = self.call(
            f"report.{name}.execute", ids, data or {}, dict(self.context)
        )
        if isinstance(content, str):
            content = content.encode()
        return str(extension), bytes(content), str(name)

    def login(self, force: bool = False) -> None:
        with self._login_lock:
            if self._session_header is not None and not force:
                return
            try:
                user_id, session, _ = self._post(
                    "common.db.login",
                    [self.username, {"password": self._password}, "en"],
                    authenticated=False,
                )
            except _SessionExpired as exc:
                raise ErpTransientError(
                    f"The ERP refused the login of {self.username!r}; check the credentials."
                ) from exc
            token = base64.b64encode(f"{self.username}:{user_id}:{session}".encode()).decode()
            self._session_header = f"Session {token}"
            self.context = self._post("model.res.user.get_preferences", [True, {}])

    def server_version(self) -> str:
        response = self._send(
            "common.server.version",
            self.endpoint.rsplit("/", 3)[0] + "/rpc/",
            json={"id": 0, "method": "common.server.version", "params": []},
        )
        return str(self._result("common.server.version", response))

    def close(self) -> None:
        self._http.close()


class _SessionExpired(ErpTransientError):
    def __init__(self, method: str) -> None:
        super().__init__(f"The ERP answered 401 to {method}.")


def _classify(error: list[Any]) -> ErpError:
    kind = error[0]
    args = error[1] if len(error) > 1 else None
    if kind == "UserError":
        message = args[0] if isinstance(args, list) and args else str(args)
        detail = args[1] if isinstance(args, list) and len(args) > 1 and args[1] else ""
        return ErpBusinessError(f"{message} {detail}".strip())
    if kind == "UserWarning":
        name, message = (args[0], args[1]) if isinstance(args, list) and len(args) > 1 else ("", str(args))
        return TrytonWarning(name, message)
    if kind == "ConcurrencyException":
        return ErpTransientError("The record changed in the ERP meanwhile (concurrency); will retry.")
    if kind in {"LoginException", "RateLimitException"}:
        return ErpTransientError(f"The ERP refused the login ({kind}).")
    # Any other exception text is a server-side crash: retrying may help (e.g. a lock), and if it
    # does not, the job is dead-lettered with this text for a person.
    return ErpTransientError(f"The ERP failed: {kind} {args if args else ''}".strip())
