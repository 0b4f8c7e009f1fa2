"""Errors of the HTTP service: always JSON, always in Chinese and English.

Every failure becomes ``{"error": {"status", "code", "message", "message_zh", "message_en",
…}}`` where ``message`` is in the language asked for (``?lang=en``; Chinese otherwise) and
extra keys (``duplicate_ids``, ``details``) depend on the code.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("qinqing.service")

JSON_TYPE = "application/json"


class ApiError(Exception):
    """An expected failure with a status code, a stable code and a zh/en message."""

    def __init__(self, status: int, code: str, message_zh: str, message_en: str, **extra: Any):
        super().__init__(message_en)
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.extra = extra

    def body(self, lang: str) -> dict:
        err = {
            "status": self.status,
            "code": self.code,
            "message": self.message_en if lang == "en" else self.message_zh,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        for key, value in self.extra.items():
            if isinstance(value, dict) and set(value) == {"zh", "en"}:
                value = value["en" if lang == "en" else "zh"]
            err[key] = value
        return {"error": err}


def request_lang(request: Request) -> str:
    return "en" if request.query_params.get("lang", "").lower() == "en" else "zh"


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n", status_code=status,
                    media_type=JSON_TYPE, headers=headers)


def error_response(exc: ApiError, lang: str) -> Response:
    headers = {"Connection": "close"} if exc.status == 413 else None
    return json_response(exc.body(lang), exc.status, headers)


_STATUS_TEXT = {
    404: ("找不到 {path}", "Not found: {path}", "not_found"),
    405: ("{path} 不支持 {method} 请求", "{method} is not allowed on {path}", "method_not_allowed"),
}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc, request_lang(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        zh, en, code = _STATUS_TEXT.get(exc.status_code, (
            "请求失败（{status}）：{detail}", "request failed ({status}): {detail}", "http_error"))
        fill = {"path": request.url.path, "method": request.method, "status": exc.status_code,
                "detail": exc.detail}
        err = ApiError(exc.status_code, code, zh.format(**fill), en.format(**fill))
        response = error_response(err, request_lang(request))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "body"))
            problems.append((loc, str(e.get("msg", ""))))
        zh = "；".join(f"参数 {loc} 无效：{msg}" for loc, msg in problems) or "请求参数无效"
        en = "; ".join(f"invalid parameter {loc}: {msg}" for loc, msg in problems) or \
            "invalid request parameters"
        err = ApiError(422, "invalid_parameter", zh, en,
                       parameters=[loc for loc, _ in problems])
        return error_response(err, request_lang(request))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        err = ApiError(500, "internal_error", "服务内部错误，请查看服务日志",
                       "internal error; see the service log")
        return error_response(err, request_lang(request))
