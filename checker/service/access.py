"""Who may call the service: host and origin checks, CSRF, bearer tokens, roles, rate limits.

Two modes, chosen by `qinqing serve`:

* **local** (a loopback address and no `--require-tokens`): one user on this machine. Every
  request must name a loopback Host (or one of `--allow-host`), which defeats DNS
  rebinding. Requests that change state or read history (`POST /v1/check`,
  `POST /v1/records`) must also be JSON (`Content-Type: application/json`, which a
  cross-site form cannot send without a preflight), come from the page's own origin when
  the browser names one (`Origin`), and carry the per-start CSRF token that the page
  embeds (`X-Qinqing-CSRF`) — or a valid bearer token.
* **tokens** (any other address): those requests need `Authorization: Bearer <token>`
  (`qinqing token add`); the Host check applies when `--allow-host` is given.

Roles (`checker.store.tokens`): `official` may check only records of its own official id
(so it reads no one else's history) and may not add records; `staff` and `admin` may do
everything. Each principal has a token bucket (`rate_per_minute`, bursts of a tenth of a
minute's worth); past it the answer is 429 with Retry-After.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any

from checker.service.errors import ApiError, error_response

PROTECTED = {("POST", "/v1/check"), ("POST", "/v1/records")}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CSRF_HEADER = "x-qinqing-csrf"


@dataclass(frozen=True)
class Principal:
    """Who acts: `local` (the page or a script on this machine) or a token's holder."""

    name: str  # "local" or "token:NAME"
    role: str  # official | staff | admin
    official_id: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role in ("staff", "admin")


LOCAL = Principal("local", "staff")


def is_loopback(host: str) -> bool:
    import ipaddress

    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The host part of a Host header or an origin's authority (no port, lower case)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RateLimiter:
    """A token bucket per principal."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, who: str) -> float:
        """0 when allowed now, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            level, since = self._buckets.get(who, (self.burst, now))
            level = min(self.burst, level + (now - since) * self.rate)
            if level >= 1.0:
                self._buckets[who] = (level - 1.0, now)
                return 0.0
            self._buckets[who] = (level, now)
            return (1.0 - level) / self.rate


class AccessGuard:
    """Pure ASGI middleware: refuses what the caller may not do; puts the Principal of an
    allowed request in ``scope["qinqing.principal"]``."""

    def __init__(self, app: Any, *, require_tokens: bool, allowed_hosts: tuple[str, ...],
                 find_token: Any, rate_per_minute: int, csrf: str) -> None:
        self.app = app
        self.require_tokens = require_tokens
        names = {h.lower().strip("[]") for h in allowed_hosts}
        self.allowed = names if require_tokens else names | set(LOOPBACK_NAMES)
        self.csrf = csrf
        self.find_token = find_token
        self.limiter = RateLimiter(rate_per_minute)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope["qinqing.principal"] = self._admit(scope)
        except ApiError as exc:
            lang = "en" if b"lang=en" in scope.get("query_string", b"") else "zh"
            response = error_response(exc, lang)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="qinqing"'
            if exc.status == 429:
                response.headers["Retry-After"] = str(exc.extra.get("retry_after_seconds", 1))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _admit(self, scope: dict) -> Principal | None:
        headers = _headers(scope)
        if self.allowed:
            host = host_name(headers.get("host", ""))
            if host not in self.allowed:
                raise ApiError(421, "host_not_allowed",
                               "请求的主机名不被本服务接受（防止 DNS 重绑定）；请用 127.0.0.1 或 localhost 访问",
                               "this service does not answer to that host name (a DNS rebinding "
                               "defence); use 127.0.0.1 or localhost")
        if (scope["method"], scope["path"]) not in PROTECTED:
            return None
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "json_only",
                           "请求正文须为 JSON（Content-Type: application/json）",
                           "the request body must be JSON (Content-Type: application/json)")
        origin = headers.get("origin")
        if origin is not None:
            authority = origin.split("://", 1)[-1]
            if origin == "null" or host_name(authority) != host_name(headers.get("host", "")):
                raise ApiError(403, "cross_origin",
                               "拒绝跨站请求：只有本服务自己的页面可以提交",
                               "cross-site request refused: only this service's own page may "
                               "send it")
        principal = self._principal(headers)
        wait = self.limiter.allow(principal.name)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise ApiError(429, "rate_limited", f"请求过于频繁；请 {seconds} 秒后重试",
                           f"too many requests; try again in {seconds} s",
                           retry_after_seconds=seconds)
        return principal

    def _principal(self, headers: dict[str, str]) -> Principal:
        auth = headers.get("authorization")
        if auth is not None:
            scheme, _, secret = auth.partition(" ")
            token = self.find_token(secret.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                raise ApiError(401, "bad_token", "访问令牌无效或已撤销",
                               "the access token is invalid or revoked")
            return Principal(f"token:{token.name}", token.role, token.official_id)
        if self.require_tokens:
            raise ApiError(401, "token_required",
                           "需要访问令牌（Authorization: Bearer …；由管理员用 qinqing token add 创建）",
                           "an access token is needed (Authorization: Bearer …; an "
                           "administrator makes one with qinqing token add)")
        given = headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.csrf.encode("ascii")):
            raise ApiError(403, "csrf",
                           "缺少或错误的 CSRF 令牌：请从本服务的页面提交，或使用访问令牌",
                           "missing or wrong CSRF token: send from this service's page, or use "
                           "an access token")
        return LOCAL


def _headers(scope: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1").lower()
        if key not in out:  # the first of repeated headers counts
            out[key] = value.decode("latin-1")
    return out
