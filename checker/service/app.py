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
import re
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from checker.store.audit import AuditError, DecisionLog, decision_entry, parse_mask
from checker.engine.engine import Engine, Options, Summary
from checker.engine.policy import Policy, load_policy
from checker.store.ledger import Ledger, LedgerError, default_ledger_path
from checker.reports.report import Report
from checker.reports import json_report
from checker.input.validate import default_validator, load_schema
from checker.service.catalogue import catalogue
from checker.service.errors import ApiError, install_handlers, json_response
from checker.service.grouplog import GroupLog
from checker.service.intake import SOURCE, load_records, parse_json, read_body, record_list

MAX_BODY_BYTES = 1 << 20
MAX_RECORDS = 1000
LOG_NAME = "decisions.jsonl"
ZONE = ZoneInfo("Asia/Shanghai")
_CODE = re.compile(r"[0-9]{6}\Z")

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


@dataclass(frozen=True)
class ServiceConfig:
    rules: tuple[Path, ...] = ()  # empty: the bundled rules
    ledger: Path | None = None  # None: default_ledger_path()
    log: Path | None = None  # None: decisions.jsonl beside the ledger
    mask: str = ""  # decision-log masking, as `--mask`
    max_body_bytes: int = MAX_BODY_BYTES
    max_records: int = MAX_RECORDS


def default_log_path(ledger: Path) -> Path:
    return ledger.parent / LOG_NAME


class Service:
    """What the endpoints share: policy, validator, ledger and decision log."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.mask = parse_mask(config.mask)  # AuditError for an unknown field
        self.policy: Policy = load_policy(list(config.rules) or None)  # PolicyLoadError
        self.validator = default_validator()
        self.ledger_path = Path(config.ledger) if config.ledger else default_ledger_path()
        self.log_path = Path(config.log) if config.log else default_log_path(self.ledger_path)
        self.ledger = Ledger(self.ledger_path)  # LedgerError
        self.log = GroupLog(DecisionLog(self.log_path, self.mask))  # one fsync per group
        self.window_days = max((c.ir.window.days for c in self.policy.evaluator.window_rules),
                               default=0)

    def close(self) -> None:
        self.ledger.close()

    # -- POST /v1/check
    def check(self, body: bytes, lang: str, explain: bool) -> Response:
        loaded = load_records(record_list(parse_json(body), self.config.max_records),
                              self.validator)
        engine = Engine(self.policy, Options(lang=lang, explain=explain))
        history = self.history(loaded) if engine.needs_windows else []
        summary = Summary()
        entries = list(engine.check(loaded, history=history, summary=summary))
        head = self.log_decisions(entries, loaded)
        out = io.BytesIO()
        json_report.write(Report(self.policy.describe(), entries, summary, lang, explain,
                                 inputs=[SOURCE]), out)
        headers = {"X-Qinqing-History-Records": str(len(history))}
        if head:
            headers["X-Qinqing-Decision-Hash"] = head
        return Response(out.getvalue(), media_type="application/json", headers=headers)

    def history(self, loaded: Sequence[Any]) -> list[dict]:
        """Completed interactions of the batch's officials from the ledger, as far back as the
        longest window reaches (records of the batch itself are left out)."""
        spans: dict[str, tuple[dt.date, dt.date]] = {}
        ids = {item.record_id for item in loaded if item.record_id is not None}
        for item in loaded:
            if item.data is None:
                continue
            oid, day = item.data["official"]["id"], item.data["date"]
            lo, hi = spans.get(oid, (day, day))
            spans[oid] = (min(lo, day), max(hi, day))
        reach = dt.timedelta(days=self.window_days)
        out: list[dict] = []
        for oid, (lo, hi) in sorted(spans.items()):
            for h in self.ledger.history(oid, since=lo - reach, until=hi, stage="completed"):
                if h["id"] not in ids:
                    out.append(h)
        return out

    def log_decisions(self, entries: list[dict], loaded: Sequence[Any]) -> str | None:
        lines = [decision_entry(e, item.raw if isinstance(item.raw, dict) else None,
                                self.policy.content_hash)
                 for e, item in zip(entries, loaded, strict=True)]
        if not lines:
            return None
        try:
            written = self.log.append(lines)
        except AuditError as exc:
            raise ApiError(500, "decision_log_failed",
                           f"无法写入决策日志：{exc.message_zh}（未给出结论）",
                           f"cannot write the decision log: {exc.message_en} (no verdict given)"
                           ) from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ApiError(500, "decision_log_failed",
                           f"无法写入决策日志 {self.log_path}：{why}（未给出结论）",
                           f"cannot write the decision log {self.log_path}: {why} "
                           "(no verdict given)") from None
        return written[-1]["hash"]

    # -- POST /v1/records
    def record(self, body: bytes) -> Response:
        items = record_list(parse_json(body), self.config.max_records)
        if not items:
            raise ApiError(422, "no_records", "请求中没有记录", "the request contains no records")
        loaded = load_records(items, self.validator)
        try:
            added = self.ledger.add_records(loaded, source=SOURCE)
        except LedgerError as exc:
            status = {"duplicate_ids": 409, "invalid_records": 422, "too_many_records": 413,
                      "ledger_busy": 503}.get(exc.code, 500)
            raise ApiError(status, exc.code, exc.message_zh, exc.message_en,
                           duplicate_ids=list(exc.duplicate_ids),
                           details={"zh": exc.describe("zh").split("\n"),
                                    "en": exc.describe("en").split("\n")}) from None
        total = self.ledger.count()
        return json_response({
            "added": added,
            "ids": [item.record_id for item in loaded],
            "ledger_records": total,
            "message_zh": f"已记入账本 {added} 条记录；账本现有 {total} 条记录",
            "message_en": f"Recorded {added} records; the ledger now holds {total} records",
        }, status=201)


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

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
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
            500: "decision log or ledger failure / 日志或账本写入失败",
            503: "ledger busy / 账本繁忙"}
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
    app.add_middleware(_SecurityHeaders)
    limit = config.max_body_bytes

    @app.post("/v1/check", tags=["check"], openapi_extra={"requestBody": _RECORD_BODY},
              responses={200: {"description": "The JSON report of `qinqing check --format json`"
                                              " (docs/report.schema.json)."},
                         **_error_doc(400, 413, 422, 500)})
    async def check(request: Request,
                    explain: Annotated[bool, Query(description="逐条说明 / explain every rule")] = False,
                    lang: Annotated[Literal["zh", "en"], Query(description="报告语言")] = "zh"
                    ) -> Response:
        """检查记录 / Check records: one verdict per record, with findings, citations, advice
        and the facts still missing. A planned record is checked together with its
        official's completed interactions in the ledger (cross-record rules). Every
        check is appended to the decision log."""
        body = await read_body(request.headers, request.stream(), limit)
        return await run_in_threadpool(service.check, body, lang, explain)

    @app.post("/v1/records", tags=["ledger"], status_code=201,
              openapi_extra={"requestBody": _RECORD_BODY},
              responses={201: {"description": "Recorded: `{added, ids, ledger_records}`"},
                         **_error_doc(400, 409, 413, 422, 503)})
    async def records(request: Request,
                      lang: Annotated[Literal["zh", "en"], Query(description="消息语言")] = "zh"
                      ) -> Response:
        """记入账本 / Record completed interactions in the ledger: all of the request's
        records or none; an id already in the ledger or repeated in the request → 409."""
        body = await read_body(request.headers, request.stream(), limit)
        return await run_in_threadpool(service.record, body)

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
    def schema() -> Response:
        """记录的 JSON Schema / The record JSON Schema (titles, descriptions and enum labels
        in Chinese and English)."""
        return Response(schema_bytes, media_type="application/json")

    @app.get("/healthz", tags=["service"])
    def healthz() -> Response:
        """运行状态 / Liveness: policy hash and ledger size."""
        return json_response({"status": "ok", "version": app_version,
                              "policy": service.policy.describe(),
                              "ledger_records": service.ledger.count()})

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
