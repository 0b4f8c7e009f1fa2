"""The self-check service: the HTTP API and the page, over the engine, the ledger and the log.

`create_app(ServiceConfig(...))` loads the policy, opens the ledger and prepares the
decision log once; `qinqing serve` runs the app under uvicorn. Requests are small (1 MiB,
1,000 records by default); evaluation runs in the thread pool so the event loop only
reads bodies and writes answers.

Endpoints: `POST /v1/check`, `POST /v1/records`, `GET /v1/rules`, `GET /v1/schema`,
`GET /healthz`, `GET /openapi.json`, `GET /docs`, the page at `GET /` and its assets under
`/static/`. Every answer that is not the page or an asset is JSON, errors included.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import secrets
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from checker.engine.engine import Engine, Options, Summary
from checker.engine.policy import Policy, load_policy
from checker.input.validate import load_schema
from checker.schema import record_schema
from checker.reports import json_report
from checker.reports.report import Report
from checker.service.access import LOCAL, AccessGuard, Principal, is_loopback
from checker.service.catalogue import catalogue
from checker.store.audit import AuditError, DecisionLog, decision_entry, load_key, parse_mask
from checker.store.ledger import Ledger, LedgerError, default_ledger_path
from checker.store.ledger_chain import history_digest
from checker.store.tokens import Token, find_token, has_tokens
from checker.service.errors import ApiError, install_handlers, json_response
from checker.service.grouplog import GroupLog
from checker.service.intake import SOURCE, load_records, parse_json, read_body, record_list

MAX_BODY_BYTES = 1 << 20
MAX_RECORDS = 1000
LOG_NAME = "decisions.jsonl"
ZONE = ZoneInfo("Asia/Shanghai")
_CODE = re.compile(r"[0-9]{6}\Z")
CSRF_META = '<meta name="qinqing-csrf" content="">'
log = logging.getLogger("qinqing.service")

STATIC = Path(str(resources.files("checker.service") / "static"))

# Headers on every answer: nothing but qinqing's own assets may load in the page.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     (b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
     b"frame-ancestors 'none'")),
]
# Answers carry personal data (verdicts, histories) or the page's CSRF token: never cached.
NO_STORE = [*SECURITY_HEADERS, (b"cache-control", b"no-store")]


@dataclass(frozen=True)
class ServiceConfig:
    rules: tuple[Path, ...] = ()  # empty: the bundled rules
    ledger: Path | None = None  # None: default_ledger_path()
    log: Path | None = None  # None: decisions.jsonl beside the ledger
    mask: str = ""  # decision-log masking, as `--mask`
    max_body_bytes: int = MAX_BODY_BYTES
    max_records: int = MAX_RECORDS
    key: Path | None = None  # the chain key file (None: checker.store.keys.default_key_path)
    host: str = "127.0.0.1"  # the address served: loopback means local mode
    require_tokens: bool | None = None  # None: when `host` is not a loopback address
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted besides loopback ones
    rate_per_minute: int = 600  # per principal; 0: no limit
    ledger_timeout: float = 5.0  # how long an import waits for another one


def default_log_path(ledger: Path) -> Path:
    return ledger.parent / LOG_NAME


class Service:
    """What the endpoints share: policy, validator, ledger and decision log."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.mask = parse_mask(config.mask)  # AuditError for an unknown field
        self.policy: Policy = load_policy(list(config.rules) or None)  # PolicyLoadError
        self.validator = self.policy.validator()  # each record against its kind's schema
        self.ledger_path = Path(config.ledger) if config.ledger else default_ledger_path()
        self.log_path = Path(config.log) if config.log else default_log_path(self.ledger_path)
        self.key = load_key(config.key, create=True)  # AuditError
        self.ledger = Ledger(self.ledger_path, key=self.key,
                             timeout=config.ledger_timeout)  # LedgerError
        decision_log = DecisionLog(self.log_path, self.mask, key=self.key)
        try:
            self.recovered = decision_log.prepare()  # AuditError: a log it cannot extend
        except BaseException:
            self.ledger.close()
            raise
        self.log = GroupLog(decision_log)  # one fsync per group
        self.window_days = max((c.ir.window.days for c in self.policy.evaluator.window_rules),
                               default=0)
        self.require_tokens = (config.require_tokens if config.require_tokens is not None
                               else not is_loopback(config.host))
        if self.require_tokens and not has_tokens(self.ledger):
            self.ledger.close()
            raise LedgerError(
                "no_tokens",
                f"在 {config.host} 上提供服务需要访问令牌，但账本 {self.ledger_path} 中没有；"
                "请先运行 qinqing token add NAME --role staff",
                f"serving on {config.host} needs access tokens and ledger {self.ledger_path} "
                "has none; run qinqing token add NAME --role staff first")

    def close(self) -> None:
        self.ledger.close()

    def find_token(self, secret: str) -> Token | None:
        return find_token(self.ledger, secret)

    # -- POST /v1/check
    def check(self, body: bytes, lang: str, explain: bool, who: Principal = LOCAL) -> Response:
        loaded = load_records(record_list(parse_json(body), self.config.max_records),
                              self.validator)
        if who.role == "official":
            _only_own_records(loaded, who)
        engine = Engine(self.policy, Options(lang=lang, explain=explain))
        used = self.history(loaded) if engine.needs_windows else _History()
        summary = Summary()
        store = None
        if engine.needs_store:  # lookups: the request's records, then the ledger's
            from checker.store.lookups import LedgerStore

            store = LedgerStore(self.ledger, [*used.records, *(i.data for i in loaded if i.data is not None)])
        entries = list(engine.check(loaded, history=used.records, summary=summary, store=store))
        out = io.BytesIO()
        json_report.write(Report(self.policy.describe(), entries, summary, lang, explain,
                                 inputs=[SOURCE]), out)
        answer = out.getvalue()  # the whole answer exists before its lines are logged
        head = self.log_decisions(entries, loaded, who, used)
        headers = {"X-Qinqing-History-Records": str(len(used.records))}
        if head:
            headers["X-Qinqing-Decision-Hash"] = head
        return Response(answer, media_type="application/json", headers=headers)

    def history(self, loaded: Sequence[Any]) -> _History:
        """Completed interactions of the batch's officials from the ledger, as far back as the
        longest window reaches (records of the batch itself are left out), read in one
        snapshot with the ledger's chain head."""
        spans: dict[str, tuple[dt.date, dt.date]] = {}
        ids = {item.record_id for item in loaded if item.record_id is not None}
        for item in loaded:
            if item.data is None or "official" not in item.data:
                continue  # (a record of another kind has no official)
            oid, day = item.data["official"]["id"], item.data["date"]
            lo, hi = spans.get(oid, (day, day))
            spans[oid] = (min(lo, day), max(hi, day))
        used = _History()
        with self.ledger.snapshot():
            used.ledger_seq = self.ledger.head()[0]
            for oid, (lo, hi) in sorted(spans.items()):
                hashes = []
                for row_hash, h in self.ledger.history_rows(oid, since=_days_before(lo, self.window_days),
                                                            until=hi, stage="completed"):
                    if h["id"] not in ids:
                        used.records.append(h)
                        hashes.append(row_hash)
                used.by_official[oid] = (len(hashes), history_digest(hashes))
        return used

    def log_decisions(self, entries: list[dict], loaded: Sequence[Any], who: Principal,
                      used: _History) -> str | None:
        lines = []
        for e, item in zip(entries, loaded, strict=True):
            oid = item.data["official"]["id"] if item.data is not None and "official" in item.data else None
            count, digest = used.by_official.get(oid, (0, None)) if oid else (0, None)
            lines.append(decision_entry(
                e, item.raw if isinstance(item.raw, dict) else None, self.policy.content_hash,
                actor=who.name, ledger_seq=used.ledger_seq, history_records=count,
                history_hash=digest))
        if not lines:
            return None
        try:
            written = self.log.append(lines)
        except AuditError as exc:
            log.error("decision log %s: %s", self.log_path, exc.message_en)
            if exc.code == "log_no_space":
                raise ApiError(503, "decision_log_full",
                               "决策日志所在磁盘已满；未给出结论，请稍后重试",
                               "the disk holding the decision log is full; no verdict given, "
                               "try again later") from None
            if exc.code == "log_write_failed":
                raise ApiError(503, "decision_log_unavailable",
                               "暂时无法写入决策日志；未给出结论，请稍后重试",
                               "the decision log cannot be written now; no verdict given, try "
                               "again later") from None
            raise ApiError(500, "decision_log_failed",
                           "决策日志无法续写，需管理员运行 qinqing audit verify 检查（未给出结论）",
                           "the decision log cannot be extended; an administrator must run "
                           "qinqing audit verify (no verdict given)") from None
        except OSError as exc:
            log.error("decision log %s: %s", self.log_path, exc)
            raise ApiError(503, "decision_log_unavailable",
                           "暂时无法写入决策日志；未给出结论，请稍后重试",
                           "the decision log cannot be written now; no verdict given, try "
                           "again later") from None
        return written[-1]["hash"]

    # -- POST /v1/records
    def record(self, body: bytes, who: Principal = LOCAL) -> Response:
        if not who.can_write:
            raise ApiError(403, "forbidden", "此访问令牌不能向账本记入记录",
                           "this access token may not add records to the ledger")
        items = record_list(parse_json(body), self.config.max_records)
        if not items:
            raise ApiError(422, "no_records", "请求中没有记录", "the request contains no records")
        loaded = load_records(items, self.validator)
        try:
            added = self.ledger.add_records(loaded, source=SOURCE)
        except LedgerError as exc:
            raise _ledger_api_error(exc) from None
        total = self.ledger.count()
        return json_response({
            "added": added,
            "ids": [item.record_id for item in loaded],
            "ledger_records": total,
            "message_zh": f"已记入账本 {added} 条记录；账本现有 {total} 条记录",
            "message_en": f"Recorded {added} records; the ledger now holds {total} records",
        }, status=201)


@dataclass
class _History:
    records: list[dict] = field(default_factory=list)
    by_official: dict[str, tuple[int, str]] = field(default_factory=dict)  # count, digest
    ledger_seq: int | None = None


def _days_before(day: dt.date, days: int) -> dt.date:
    """`day` minus `days`, no earlier than 0001-01-01 (a record dated 0001-01-01 overflowed)."""
    return day - dt.timedelta(days=min(days, (day - dt.date.min).days))


def _only_own_records(loaded: Sequence[Any], who: Principal) -> None:
    for item in loaded:
        raw = item.raw if isinstance(item.raw, dict) else {}
        official = raw.get("official") if isinstance(raw.get("official"), dict) else {}
        oid = official.get("id")
        if not isinstance(oid, str) or oid != who.official_id:
            raise ApiError(403, "not_your_records",
                           f"此访问令牌只能检查公职人员 {who.official_id} 本人的记录（{item.location}）",
                           f"this access token may only check records of official "
                           f"{who.official_id} ({item.location})")


def _ledger_api_error(exc: LedgerError) -> ApiError:
    if exc.code in ("duplicate_ids", "invalid_records", "too_many_records"):
        status = {"duplicate_ids": 409, "invalid_records": 422, "too_many_records": 413}[exc.code]
        return ApiError(status, exc.code, exc.message_zh, exc.message_en,
                        duplicate_ids=list(exc.duplicate_ids),
                        details={"zh": exc.describe("zh").split("\n"),
                                 "en": exc.describe("en").split("\n")})
    log.error("ledger: %s", exc.message_en)  # paths and OS words stay in the server log
    if exc.code == "ledger_busy":
        return ApiError(503, "ledger_busy", "账本正被其他导入占用，请稍后重试（未记入任何记录）",
                        "the ledger is busy with another import; try again later (nothing added)")
    return ApiError(500, "ledger_write_failed", "无法写入账本（未记入任何记录）；请查看服务日志",
                    "the ledger could not be written (nothing added); see the service log")


def _who(request: Request) -> Principal:
    return request.scope.get("qinqing.principal") or LOCAL


def _today() -> dt.date:
    return dt.datetime.now(ZONE).date()


class _SecurityHeaders:
    """Pure ASGI middleware adding SECURITY_HEADERS to every HTTP answer."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = SECURITY_HEADERS if scope["path"].startswith("/static/") else NO_STORE

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_RECORD_BODY = {
    "required": True,
    "description": "一条记录（JSON 对象）或记录数组；字段见 `GET /v1/schema`。"
                   "An interaction record (a JSON object) or an array of records; "
                   "fields in `GET /v1/schema`.",
    "content": {"application/json": {"schema": {
        "oneOf": [{"type": "object", "description": "one record"},
                  {"type": "array", "items": {"type": "object"}, "maxItems": MAX_RECORDS}]},
        "example": {"id": "P-2026-0042-01", "stage": "planned", "jurisdiction": "150300",
                    "date": "2026-12-03", "official": {"id": "O-0042"},
                    "meals": [{"type": "dinner", "reason": "consultation_work_meal",
                               "payer": "enterprise", "total_cny": "768.00", "diners": 6}]}}},
}


def _error_doc(*codes: int) -> dict:
    text = {400: "malformed JSON / JSON 格式错误", 409: "duplicate record ids / 记录编号重复",
            413: "body or record count over the limit / 超过大小或条数上限",
            422: "invalid parameters or records / 参数或记录无效",
            401: "access token missing or invalid / 缺少或无效的访问令牌",
            403: "cross-site request, CSRF token missing, or not allowed for this token / "
                 "跨站请求、缺少 CSRF 令牌或令牌无此权限",
            415: "the body must be JSON / 正文须为 JSON",
            429: "rate limit / 请求过于频繁",
            500: "decision log or ledger failure / 日志或账本写入失败",
            503: "ledger busy or decision log unavailable (disk full) / 账本繁忙或日志暂不可写"}
    return {c: {"description": text[c] + ' — {"error": {"code", "message", "message_zh", '
                                          '"message_en", …}}'} for c in codes}


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The FastAPI app. Raises PolicyLoadError, LedgerError or AuditError when the
    policy, the ledger or the mask is unusable."""
    config = config or ServiceConfig()
    service = Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        service.close()

    from importlib.metadata import PackageNotFoundError, version

    try:
        app_version = version("qinqing")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        app_version = "0"
    app = FastAPI(
        title="qinqing 亲清政商关系合规自查服务",
        version=app_version,
        description="Self-check of government-business interactions against the positive and "
                    "negative lists (亲清政商关系正负面清单). Answers are JSON; errors are "
                    '`{"error": {"code", "message", "message_zh", "message_en"}}`. '
                    f"Limits: {config.max_body_bytes} bytes per body, {config.max_records} "
                    "records per request.",
        docs_url=None, redoc_url=None, openapi_url="/openapi.json", lifespan=lifespan,
    )
    app.state.service = service
    install_handlers(app)
    guard_options = {"require_tokens": service.require_tokens,
                     "allowed_hosts": tuple(config.allowed_hosts),
                     "find_token": service.find_token,
                     "rate_per_minute": config.rate_per_minute,
                     "csrf": secrets.token_urlsafe(32)}
    app.state.csrf = guard_options["csrf"]
    app.add_middleware(AccessGuard, **guard_options)
    app.add_middleware(_SecurityHeaders)
    limit = config.max_body_bytes

    @app.post("/v1/check", tags=["check"], openapi_extra={"requestBody": _RECORD_BODY},
              responses={200: {"description": "The JSON report of `qinqing check --format json`"
                                              " (docs/report.schema.json)."},
                         **_error_doc(400, 401, 403, 413, 415, 422, 429, 500, 503)})
    async def check(request: Request,
                    explain: Annotated[bool, Query(description="逐条说明 / explain every rule")] = False,
                    lang: Annotated[Literal["zh", "en"], Query(description="报告语言")] = "zh"
                    ) -> Response:
        """检查记录 / Check records: one verdict per record, with findings, citations, advice
        and the facts still missing. A planned record is checked together with its
        official's completed interactions in the ledger (cross-record rules). Every
        check is appended to the decision log."""
        body = await read_body(request.headers, request.stream(), limit)
        return await run_in_threadpool(service.check, body, lang, explain, _who(request))

    @app.post("/v1/records", tags=["ledger"], status_code=201,
              openapi_extra={"requestBody": _RECORD_BODY},
              responses={201: {"description": "Recorded: `{added, ids, ledger_records}`"},
                         **_error_doc(400, 401, 403, 409, 413, 415, 422, 429, 503)})
    async def records(request: Request,
                      lang: Annotated[Literal["zh", "en"], Query(description="消息语言")] = "zh"
                      ) -> Response:
        """记入账本 / Record completed interactions in the ledger: all of the request's
        records or none; an id already in the ledger or repeated in the request → 409."""
        body = await read_body(request.headers, request.stream(), limit)
        return await run_in_threadpool(service.record, body, _who(request))

    @app.get("/v1/rules", tags=["policy"], responses=_error_doc(422))
    def rules(jurisdiction: Annotated[str, Query(description="6 位行政区划代码")] = "000000",
              date: Annotated[str | None, Query(description="YYYY-MM-DD（默认今天）")] = None
              ) -> Response:
        """现行规则目录 / The catalogue in force for a jurisdiction and date: packs, rules
        (with citations) and parameter values with their provenance."""
        if not _CODE.match(jurisdiction):
            raise ApiError(422, "invalid_jurisdiction",
                           f"jurisdiction 应为 6 位行政区划代码，而不是 '{jurisdiction}'",
                           f"jurisdiction must be a 6-digit area code, not '{jurisdiction}'")
        try:
            day = dt.date.fromisoformat(date) if date else _today()
        except ValueError:
            raise ApiError(422, "invalid_date", f"date 应为 YYYY-MM-DD 格式的日期，而不是 '{date}'",
                           f"date must be a YYYY-MM-DD date, not '{date}'") from None
        return json_response(catalogue(service.policy, jurisdiction, day))

    schema_bytes = json_response(load_schema()).body

    @app.get("/v1/schema", tags=["policy"])
    def schema(kind: str | None = None) -> Response:
        """记录的 JSON Schema / The record JSON Schema of a kind (`?kind=complaint`; default
        interaction): titles, descriptions and enum labels in Chinese and English."""
        if kind is None or (kind == "interaction" and service.policy.program.schema_of(kind) is record_schema()):
            return Response(schema_bytes, media_type="application/json")
        found = service.policy.program.schema_of(kind)
        if found is None:
            raise ApiError(404, "unknown_kind", f"未知的记录类型 '{kind[:64]}'（见 GET /v1/kinds）",
                           f"unknown record kind '{kind[:64]}' (see GET /v1/kinds)")
        return json_response(found)

    @app.get("/v1/kinds", tags=["policy"])
    def kinds() -> Response:
        """记录类型 / The record kinds this service knows, with their titles and the packs
        that judge each."""
        program = service.policy.program
        out = []
        for k, s in program.schemas.items():
            out.append({"kind": k, "title": {"zh": s.get("x-title-zh"), "en": s.get("title")},
                        "packs": [p.name for p in program.packs if k in p.kinds and p.rules]})
        return json_response({"kinds": out})

    @app.get("/healthz", tags=["service"])
    def healthz() -> Response:
        """运行状态 / Liveness: policy hash and ledger size."""
        return json_response({"status": "ok", "version": app_version,
                              "policy": service.policy.describe(),
                              "ledger_records": service.ledger.count()})

    template = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    def page(request: Request) -> Response:
        """The page, carrying this start's CSRF token (local mode)."""
        token = "" if service.require_tokens else app.state.csrf
        html = template.replace(CSRF_META, f'<meta name="qinqing-csrf" content="{token}">')
        return Response(html, media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
