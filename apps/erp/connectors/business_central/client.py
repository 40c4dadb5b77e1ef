"""A Business Central API v2.0 client on httpx: Entra client-credentials tokens kept in memory, the
company's path, retries with back-off for what is safe to repeat, ``$batch``, and BC's errors as ERP errors.

Wire facts (the fact sheet shared/erp-wire/business-central.md, ``learn:`` =
https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/):
    token   POST {token_url} grant_type=client_credentials, client_id, client_secret,
            scope=https://api.businesscentral.dynamics.com/.default → {access_token, expires_in}
            (learn: administration/automation-apis-using-s2s-authentication); no refresh token.
    paths   {api}/companies({id})/customers … (learn: developer/devenv-connect-apps-tips)
    errors  {"error": {"code", "message"}}; 409 Request_EntityChanged on a stale If-Match
            (learn: webservices/dynamics-error-codes); 429 must be retried with back-off
            (learn: api-reference/v2.0/dynamics-rate-limits).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from apps.erp.connectors.base import ErpBusinessError, ErpError, ErpTransientError, ErpUnavailableError

SCOPE = "https://api.businesscentral.dynamics.com/.default"
DEFAULT_TOKEN_URL = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"  # noqa: S105 - a URL
# A token is renewed this long before it expires (or at a tenth of its life, if that is longer), so a
# request never goes out with one about to lapse.
TOKEN_MARGIN_SECONDS = 120.0
# Reads (and throttled writes, which BC refused before doing anything) are tried this often in one call.
MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 8.0
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_PAGE = 20_000  # learn: administration/operational-limits-online — larger pages are 413
MAX_BATCH = 100  # learn: administration/operational-limits-online — at most 100 operations per $batch
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

# One semaphore per API base in this process: the connection's concurrency limit (BC allows 5 at once per
# user; learn: administration/operational-limits-online).
_LIMITS: dict[str, threading.BoundedSemaphore] = {}
_LIMITS_LOCK = threading.Lock()
# Tokens by (token URL, client id), in this process's memory only: never written anywhere.
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def _limit_for(key: str, size: int) -> threading.BoundedSemaphore:
    with _LIMITS_LOCK:
        if key not in _LIMITS:
            _LIMITS[key] = threading.BoundedSemaphore(max(1, size))
        return _LIMITS[key]


def odata_text(value: str) -> str:
    """A string literal for ``$filter`` (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


class StaleRecord(ErpTransientError):
    """409 Request_EntityChanged (or 412): the record changed since its ETag was read."""


@dataclass(frozen=True)
class BatchAnswer:
    status: int
    body: Any

    def ok(self) -> bool:
        return 200 <= self.status < 300


class BusinessCentralClient:
    def __init__(
        self,
        api_url: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        company_id: str = "",
        company_name: str = "",
        timeout: float = 30.0,
        concurrency_limit: int = 2,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self._company_id = company_id.strip("{}").lower()
        self.company_name = company_name
        self._http = httpx.Client(timeout=timeout)
        self._limit = _limit_for(self.api_url, concurrency_limit)
        self._company_lock = threading.Lock()
        self.system_version = ""
        self.sleep = time.sleep  # tests may shorten the back-off

    # -- tokens -------------------------------------------------------------------------------------------
    def _token(self, *, renew: bool = False) -> str:
        key = (self.token_url, self.client_id)
        with _TOKENS_LOCK:
            held = _TOKENS.get(key)
            if held is not None and not renew and held[1] > time.monotonic():
                return held[0]
            try:
                response = self._http.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self._secret,
                        "scope": SCOPE,
                    },
                )
            except httpx.TransportError as exc:
                raise _transport_error("the token endpoint", exc) from exc
            if response.status_code >= 500 or response.status_code == 429:
                raise ErpTransientError(f"The sign-in service failed (HTTP {response.status_code}).")
            try:
                data = response.json()
            except ValueError:
                data = {}
            if response.status_code != 200 or "access_token" not in data:
                reason = data.get("error_description") or data.get("error") or f"HTTP {response.status_code}"
                raise ErpBusinessError(
                    f"Business Central sign-in refused client {self.client_id!r}: {reason}. "
                    "Check the client id, "
                    "the secret and the app's registration in Business Central."
                )
            lifetime = float(data.get("expires_in") or 3600)
            margin = max(TOKEN_MARGIN_SECONDS, lifetime / 10)
            _TOKENS[key] = (str(data["access_token"]), time.monotonic() + max(lifetime - margin, 1.0))
            return str(data["access_token"])

    # -- company ------------------------------------------------------------------------------------------
    @property
    def company_id(self) -> str:
        """The company's id: the connection's ``company_id`` option, else the company named like the
        connection's ``database``."""
        with self._company_lock:
            if self._company_id and self.system_version:
                return self._company_id
            companies = self.request("GET", f"{self.api_url}/companies")["value"]
            for company in companies:
                wanted = (
                    (company["id"].lower() == self._company_id)
                    if self._company_id
                    else (self.company_name in (company.get("name"), company.get("displayName")))
                )
                if wanted:
                    self._company_id = company["id"].lower()
                    self.system_version = str(company.get("systemVersion") or "")
                    return self._company_id
            names = ", ".join(sorted(str(c.get("name")) for c in companies)) or "none"
            raise ErpBusinessError(
                f"Business Central has no company {self._company_id or self.company_name!r} "
                f"(it has: {names})."
            )

    @property
    def company_path(self) -> str:
        return f"companies({self.company_id})"

    def url(self, path: str) -> str:
        """An absolute URL for a path relative to the company (``customers``), to the API (``/$batch``)
        or already absolute (a next link)."""
        if path.startswith("http"):
            return path
        if path.startswith("/"):
            return f"{self.api_url}{path}"
        return f"{self.api_url}/{self.company_path}/{path}"

    def relative(self, url: str) -> str:
        """A next link without the API base, as a position to store (it survives a changed host name)."""
        return url[len(self.api_url) :] if url.startswith(self.api_url) else url

    # -- requests -----------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
        page_size: int | None = None,
        raw: bool = False,
    ) -> Any:
        """One request; its JSON answer (None for 204). ``retry`` (default: GET only) repeats it on 429,
        408 and 5xx with exponential back-off (``Retry-After`` honoured when BC sends it). A write is
        repeated only on 429: BC refuses a throttled request before doing anything. ``raw``: the answer
        itself (``httpx.Response``: a media stream's bytes and content type), not its JSON."""
        url = self.url(path)
        retry = method == "GET" if retry is None else retry
        head = {"Accept": "*/*" if raw else "application/json", **(headers or {})}
        if page_size:
            # learn: webservices/Server-Driven-Paging-in-OData-Web-Services — the client asks for a page size.
            head["Prefer"] = f"odata.maxpagesize={min(page_size, MAX_PAGE)}"
        content = None
        if body is not None:
            content = dumps(body)
            head["Content-Type"] = "application/json"
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            head["Authorization"] = f"Bearer {self._token()}"
            with self._limit:
                try:
                    response = self._http.request(method, url, content=content, headers=head)
                except httpx.TransportError as exc:
                    if retry and attempt < MAX_ATTEMPTS and not isinstance(exc, httpx.ConnectError):
                        self._back_off(attempt, None)
                        continue
                    raise _transport_error(f"{method} {self.relative(url)}", exc) from exc
            status = response.status_code
            if status == 401 and not renewed:
                renewed = True  # expired or revoked early: one new token, then the same request again
                self._token(renew=True)
                attempt -= 1
                continue
            if status in RETRIED_STATUSES and attempt < MAX_ATTEMPTS and (retry or status == 429):
                self._back_off(attempt, response.headers.get("Retry-After"))
                continue
            return self._answer(method, url, response, raw=raw)

    def _back_off(self, attempt: int, retry_after: str | None) -> None:
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        delay *= 0.5 + random.random()  # noqa: S311 - jitter, not a secret
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), BACKOFF_MAX_SECONDS * 4)
        self.sleep(delay)

    def _answer(self, method: str, url: str, response: httpx.Response, *, raw: bool = False) -> Any:
        status = response.status_code
        if 200 <= status < 300 and raw:
            return response
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return None
            return json.loads(response.content, parse_float=Decimal)
        code, message = _error_of(response)
        where = f"{method} {self.relative(url).split('?')[0]}"
        if status in (409, 412):
            raise StaleRecord(f"The record changed in Business Central meanwhile ({code}: {message}).")
        if status == 429:
            raise ErpTransientError(f"Business Central throttled {where} (HTTP 429): {message}")
        if status in RETRIED_STATUSES or status >= 500:
            raise ErpTransientError(f"Business Central failed on {where} (HTTP {status} {code}): {message}")
        if status == 401:
            raise ErpBusinessError(f"Business Central refused the token on {where}: {message}")
        raise BusinessCentralError(status, code, message)

    def get_all(self, path: str, *, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every record of a (small) collection, following next links."""
        records: list[dict[str, Any]] = []
        url: str | None = path
        while url:
            page = self.request("GET", url, page_size=page_size)
            records += page["value"]
            url = page.get("@odata.nextLink")
        return records

    def batch(self, requests: Iterable[tuple[str, str, Any]], *, atomic: bool = False) -> list[BatchAnswer]:
        """``$batch`` (learn: webservices/use-odata-batch): (method, company-relative path, body) each, at
        most 100 per call; answers in the same order. Reads are retried as a whole."""
        items = list(requests)
        answers: list[BatchAnswer] = []
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            reads_only = all(method == "GET" for method, _, _ in chunk)
            body = {
                "requests": [
                    {
                        "id": str(n),
                        "method": method,
                        "url": f"{self.company_path}/{path}",
                        "headers": {"Content-Type": "application/json"} if payload is not None else {},
                        **({"body": payload} if payload is not None else {}),
                    }
                    for n, (method, path, payload) in enumerate(chunk)
                ]
            }
            headers = {"Isolation": "snapshot"} if atomic else {}
            result = self.request("POST", "/$batch", body=body, headers=headers, retry=reads_only)
            by_id = {str(item.get("id")): item for item in result["responses"]}
            for n in range(len(chunk)):
                item = by_id[str(n)]
                answers.append(BatchAnswer(int(item["status"]), item.get("body")))
        return answers

    def close(self) -> None:
        self._http.close()


class BusinessCentralError(ErpBusinessError):
    """A 4xx answer: BC refused the request's content; ``code`` is BC's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    message = str(error.get("message") or response.reason_phrase or "no message")
    # BC appends "CorrelationId: <guid>." to every message: not for a person.
    message = message.split("  CorrelationId:")[0].split(" CorrelationId:")[0].strip()
    return str(error.get("code") or f"HTTP {response.status_code}"), message


def batch_error(answer: BatchAnswer) -> str:
    body = answer.body if isinstance(answer.body, dict) else {}
    error = body.get("error") or {}
    message = str(error.get("message") or f"HTTP {answer.status}")
    return message.split("  CorrelationId:")[0].split(" CorrelationId:")[0].strip()


def _transport_error(where: str, exc: httpx.TransportError) -> ErpError:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ErpUnavailableError(f"Business Central could not be reached ({where}: {exc}).")
    if isinstance(exc, httpx.TimeoutException):
        return ErpTransientError(f"Business Central did not answer {where} in time ({exc}).")
    # The connection broke after the request went out: the ERP may have done it (a lost answer).
    return ErpTransientError(f"Business Central's answer to {where} was lost ({exc}).")


_DECIMAL = "\x00decimal:"


def _marked(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_DECIMAL}{value:f}"
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def dumps(value: Any) -> bytes:
    """JSON with each Decimal as an exact JSON number (BC's amounts are numbers; a float could round)."""
    return re.sub(r'"\\u0000decimal:(-?[0-9.]+)"', r"\1", json.dumps(_marked(value))).encode()


def path_key(value: str) -> str:
    """A key inside a path segment: GUIDs go bare, anything else quoted."""
    return value if len(value) == 36 and value.count("-") == 4 else quote(odata_text(value))
