"""`qinqing serve`: the self-check page and the HTTP API (checker/service/).

On a loopback address the service runs in local mode (same-origin requests with the page's
CSRF token, or access tokens); on any other address it requires access tokens and refuses
to start while the ledger has none (`qinqing token add`). See docs/security.md.

Exit codes: 0 stopped normally (Ctrl-C or SIGTERM, after finishing the requests in flight);
2 the policy, ledger, log mask or address is unusable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_ERROR = 2


def _say(zh: str, en: str, err: bool = False) -> None:
    typer.echo(f"{zh} / {en}", err=err)


def serve(
    host: Annotated[str, typer.Option(
        "--host", help="监听地址（默认仅本机）/ Address to listen on (default: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="端口，0 表示任选空闲端口 / Port, 0 for any free port.")
    ] = 8080,
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", help="规则目录或文件（默认：内置规则）/ Policy folders or files (default: bundled).")
    ] = None,
    ledger: Annotated[Path | None, typer.Option(
        "--ledger", dir_okay=False,
        help="账本文件（默认在用户数据目录）/ Ledger file (default: the user data directory).")
    ] = None,
    log: Annotated[Path | None, typer.Option(
        "--log", dir_okay=False,
        help="决策日志（默认：账本旁的 decisions.jsonl）/ Decision log (default: decisions.jsonl "
             "beside the ledger).")] = None,
    mask: Annotated[str, typer.Option(
        "--mask", help="日志中遮蔽的字段，如 name,official.id / Fields masked in the log.")] = "",
    max_body: Annotated[int, typer.Option(
        "--max-body", min=1024, help="请求正文上限（字节）/ Request body limit in bytes.")
    ] = 1 << 20,
    max_records: Annotated[int, typer.Option(
        "--max-records", min=1, help="每次请求的记录数上限 / Records per request.")] = 1000,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="逐条记录请求 / Log every request.")] = False,
    key: Annotated[Path | None, typer.Option(
        "--key", dir_okay=False,
        help="链密钥文件（默认 QINQING_KEY_FILE 或用户配置目录下的 chain.key）/ Chain key file.")
    ] = None,
    require_tokens: Annotated[bool | None, typer.Option(
        "--require-tokens/--local", show_default=False,
        help="要求访问令牌（非本机地址时总是要求）/ Require access tokens (always on a "
             "non-loopback address).")] = None,
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", help="另外接受的主机名（如反向代理的公开域名）/ A Host name to accept "
                             "(e.g. the reverse proxy's public name).")] = None,
    rate_limit: Annotated[int, typer.Option(
        "--rate-limit", min=0, help="每个令牌每分钟的请求上限，0 表示不限 / Requests per minute "
                                    "per token (0: no limit).")] = 600,
) -> None:
    """启动自查网页与 HTTP 接口 / Serve the self-check page and the HTTP API."""
    import uvicorn

    from checker.store.audit import AuditError
    from checker.engine.policy import PolicyLoadError
    from checker.store.ledger import LedgerError
    from checker.service.app import ServiceConfig, create_app
    from policy_dsl.errors import render_all

    from checker.service.access import is_loopback

    if require_tokens is False and not is_loopback(host):
        _say(f"在非本机地址 {host} 上必须使用访问令牌，不能用 --local",
             f"--local cannot be used on the non-loopback address {host}: tokens are required",
             err=True)
        raise typer.Exit(EXIT_ERROR)
    config = ServiceConfig(rules=tuple(rules or ()), ledger=ledger, log=log, mask=mask,
                           max_body_bytes=max_body, max_records=max_records, key=key, host=host,
                           require_tokens=require_tokens, allowed_hosts=tuple(allow_host or ()),
                           rate_per_minute=rate_limit)
    try:
        app = create_app(config)
    except PolicyLoadError as exc:
        typer.echo(render_all(exc.result.errors, exc.result.sources), err=True)
        _say("规则加载失败，请先运行 `qinqing lint` 修正错误。",
             "The policies did not load; run `qinqing lint` and fix the errors.", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except (LedgerError, AuditError) as exc:
        _say(exc.message_zh, exc.message_en, err=True)
        raise typer.Exit(EXIT_ERROR) from None

    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        why = exc.strerror or str(exc)
        _say(f"无法监听 {host}:{port}：{why}", f"cannot listen on {host}:{port}: {why}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    service = app.state.service
    _say(f"qinqing 自查服务：http://{shown}:{bound}/", f"serving at http://{shown}:{bound}/")
    _say(f"账本 {service.ledger_path}；决策日志 {service.log_path}",
         f"ledger {service.ledger_path}; decision log {service.log_path}")
    if service.require_tokens:
        _say("需要访问令牌（Authorization: Bearer …）", "access tokens required "
             "(Authorization: Bearer …)")
    else:
        _say("本机模式：仅接受本机页面的请求（同源 + CSRF 令牌）或访问令牌",
             "local mode: requests from this service's own page (same origin + CSRF token) "
             "or with an access token")
    if service.recovered is not None:
        found = service.recovered
        _say(f"已恢复崩溃：决策日志末尾不完整的一行（{found.size} 字节）已移至 {found.side_file}",
             f"recovered a crash: the decision log's incomplete last line ({found.size} bytes) "
             f"was moved aside to {found.side_file}", err=True)
    server = _quiet_server(uvicorn)(uvicorn.Config(app, log_level="warning", access_log=access_log,
                                           timeout_graceful_shutdown=5))
    server.run(sockets=[sock])


def listening_socket(host: str, port: int):  # -> socket.socket
    """A TCP socket bound and listening (port 0: any free port); OSError when it cannot be."""
    import socket

    family, kind, proto, _, _ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only then
    # (without it, Nagle and delayed ACKs add ~40 ms to every answer)
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until uvicorn takes over
    except OSError:
        sock.close()
        raise
    return sock


def _quiet_server(uvicorn):  # -> type[uvicorn.Server]
    class Server(uvicorn.Server):
        """Ctrl-C or SIGTERM is how the service stops: shut down gracefully and exit 0
        (uvicorn would raise the signal again after shutting down)."""

        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    return Server


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
