"""Fixtures for the service tests: the planned-meal fixture, an app on a fresh ledger, a live
`qinqing serve` on 127.0.0.1 (a free port chosen by the command)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures" / "records"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def planned_meal() -> dict:
    return yaml.safe_load((FIXTURES / "planned_meal.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def history_records() -> list[dict]:
    lines = (FIXTURES / "history_O-0042.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def shared_policy():
    """Load the bundled policy once for the session; apps built with default rules reuse it."""
    from checker.engine.policy import load_policy
    from checker.service import app as app_module

    policy = load_policy()
    original = app_module.load_policy

    def cached(paths=None):
        return policy if not paths else original(paths)

    app_module.load_policy = cached
    yield policy
    app_module.load_policy = original


@pytest.fixture
def make_client(tmp_path: Path, shared_policy):
    """`make_client(**config)` → a TestClient over a new app (ledger and log in tmp_path)."""
    from checker.service.app import ServiceConfig, create_app

    clients = []

    def make(raise_errors: bool = True, csrf: bool = True, **kw):
        kw.setdefault("ledger", tmp_path / "ledger.sqlite3")
        app = create_app(ServiceConfig(**kw))
        # the page's own requests: a loopback Host, JSON, the CSRF token the page carries
        headers = {"content-type": "application/json"}
        if csrf:
            headers["x-qinqing-csrf"] = app.state.csrf
        client = TestClient(app, base_url="http://127.0.0.1:8080", headers=headers,
                            raise_server_exceptions=raise_errors)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


# ---- a live server ---------------------------------------------------------------------
def start_server(tmp: Path, *args: str, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """`qinqing serve --port 0 …` in a subprocess; returns it and its base URL once listening."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "checker.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--ledger", str(tmp / "ledger.sqlite3"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            return proc, f"http://127.0.0.1:{m.group(1)}"
    stop_server(proc)
    raise AssertionError(f"qinqing serve did not start: {proc.stderr.read() if proc.stderr else ''}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """`serve(*args)` → (process, base URL) of `qinqing serve` started with those options;
    stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, str]:
        proc, url = start_server(tmp_path, *args)
        started.append(proc)
        return proc, url

    yield start
    for proc in started:
        stop_server(proc)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    proc, url = start_server(tmp_path)
    try:
        yield url
    finally:
        stop_server(proc)
