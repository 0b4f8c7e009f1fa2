"""`qinqing serve`: a live uvicorn on 127.0.0.1, and the refusals before it starts."""

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.cli import _register_all, app

LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def request(url: str, data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with LOCAL.open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_live_server_answers_on_localhost(tmp_path: Path, planned_meal, serve):
    proc, url = serve("--max-body", "65536", "--log", str(tmp_path / "log.jsonl"))
    try:
        status, _, body = request(url + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        data = json.dumps(planned_meal, ensure_ascii=False).encode()
        status, _, _ = request(url + "/v1/check", data, {"Content-Type": "application/json"})
        assert status == 403  # not from the page: no CSRF token
        status, _, page = request(url + "/")
        csrf = re.search(rb'name="qinqing-csrf" content="([^"]+)"', page).group(1).decode()
        status, headers, body = request(url + "/v1/check", data,
                                        {"Content-Type": "application/json", "X-Qinqing-CSRF": csrf})
        assert status == 200
        assert json.loads(body)["records"][0]["outcome"] == "violation"
        assert "x-qinqing-decision-hash" in {k.lower() for k in headers}
        status, _, body = request(url + "/v1/check?lang=en", b"[" + b" " * 70000 + b"]",
                                  {"Content-Type": "application/json", "X-Qinqing-CSRF": csrf})
        assert status == 413
        assert json.loads(body)["error"]["message"] == \
            "the request body exceeds the 65536 B limit; send smaller batches"
        status, _, body = request(url + "/")
        assert status == 200 and "政商交往事前自查".encode() in body
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    lines = (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # header and the one check


def invoke(*args: str):
    _register_all()
    return CliRunner().invoke(app, ["serve", *args])


def test_bad_mask_is_refused(tmp_path: Path):
    result = invoke("--ledger", str(tmp_path / "l.sqlite3"), "--mask", "salary")
    assert result.exit_code == 2
    assert "无法遮蔽字段 salary" in result.output
    assert "Cannot mask field salary" in result.output


def test_policies_that_do_not_load_are_refused(tmp_path: Path):
    bad = tmp_path / "bad.policy"
    bad.write_text('policy x.y "x" / "x"\n  forbid\n', encoding="utf-8")
    result = invoke("--ledger", str(tmp_path / "l.sqlite3"), "--rules", str(bad))
    assert result.exit_code == 2
    assert "规则加载失败，请先运行 `qinqing lint` 修正错误。" in result.output


def test_unreadable_ledger_is_refused(tmp_path: Path):
    ledger = tmp_path / "l.sqlite3"
    ledger.write_bytes(b"not a database" * 100)
    result = invoke("--ledger", str(ledger))
    assert result.exit_code == 2
    assert f"无法打开账本 {ledger}" in result.output


def test_busy_port_is_refused(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("--ledger", str(tmp_path / "l.sqlite3"), "--port", str(port))
    assert result.exit_code == 2
    assert f"无法监听 127.0.0.1:{port}：" in result.output
    assert f"cannot listen on 127.0.0.1:{port}: " in result.output


@pytest.mark.parametrize("option", ["--help"])
def test_help_names_the_defaults(option: str):
    result = invoke(option)
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output and "8080" in result.output


def test_accepted_connections_get_tcp_nodelay():
    """Answers are written in pieces; without TCP_NODELAY each would wait ~40 ms for an ACK."""
    import asyncio

    from checker.commands.serve import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    seen: list[int] = []

    async def main() -> None:
        def accepted(reader, writer) -> None:
            raw = writer.get_extra_info("socket")
            seen.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0
