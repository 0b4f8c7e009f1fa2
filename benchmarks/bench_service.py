"""Load test of `qinqing serve`: single-record checks over HTTP on 127.0.0.1, tokens on.

    python benchmarks/bench_service.py [--requests 2000] [--concurrency 1,8,32] [--json]

Makes a staff access token (`qinqing token add`, a throwaway chain key), starts
`qinqing serve --port 0 --require-tokens --rate-limit 0` (bundled rules, a fresh ledger
and decision log in a temporary folder), records the four history records of
fixtures/records/ in the ledger, then for each concurrency level sends POST /v1/check
with one planned record per request and `Authorization: Bearer` from that many
concurrent clients (keep-alive connections, one thread each). Each record is a variant of
fixtures/records/planned_meal.yaml (its official has ledger history, so the cross-record
rule reads the ledger on every request). Every check is appended to the decision log
with fsync, as in production.

Prints checks/second and latency percentiles (p50, p95, p99, max) per concurrency level,
measured by the clients, and the errors (any answer other than 200 with one record in the
report). Bounded: stops after --requests requests per level or --max-seconds, whichever
comes first, and only ever talks to 127.0.0.1. Exit code 1 when there were errors or p99
at concurrency 8 is over --target-p99-ms (default 50).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "records"
HOST = "127.0.0.1"  # never anything else


TOKEN: dict[str, str] = {}


def make_token(folder: Path, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "checker.cli", "token", "add", "bench", "--role", "staff",
         "--ledger", str(folder / "ledger.sqlite3")],
        capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return done.stdout.strip()


def start_server(folder: Path, env: dict) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "checker.cli", "serve", "--host", HOST, "--port", "0",
         "--ledger", str(folder / "ledger.sqlite3"), "--require-tokens", "--rate-limit", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise SystemExit(f"qinqing serve did not start: {proc.stderr.read() if proc.stderr else ''}")


def post(conn: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", path, body, {"Content-Type": "application/json",
                                      "Authorization": f"Bearer {TOKEN['secret']}"})
    r = conn.getresponse()
    return r.status, r.read()


def bodies(n: int) -> list[bytes]:
    """n planned records: the fixture with other ids and amounts (over and under the cap)."""
    base = yaml.safe_load((FIXTURES / "planned_meal.yaml").read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        rec = json.loads(json.dumps(base))
        rec["id"] = f"BENCH-{i:06d}"
        rec["meals"][0]["total_cny"] = f"{300 + (i * 37) % 600}.00"
        out.append(json.dumps(rec, ensure_ascii=False).encode())
    return out


def run(port: int, payloads: list[bytes], clients: int, max_seconds: float
        ) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    next_index = [0]
    stop_at = time.monotonic() + max_seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine: list[float] = []
        try:
            while time.monotonic() < stop_at:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(payloads):
                    break
                t0 = time.perf_counter()
                try:
                    status, body = post(conn, "/v1/check", payloads[i])
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        errors.append(f"request {i}: {exc!r}")
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=30)
                    continue
                mine.append(time.perf_counter() - t0)
                if status != 200 or body.count(b'"outcome"') < 1:
                    with lock:
                        errors.append(f"request {i}: HTTP {status} {body[:200]!r}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - t0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def figures_of(lat: list[float], errors: list[str], wall: float, clients: int) -> dict:
    lat.sort()
    ms = [x * 1000 for x in lat]
    return {
        "concurrency": clients, "requests": len(lat), "errors": len(errors),
        "seconds": round(wall, 2), "checks_per_second": round(len(lat) / wall, 1) if wall else 0,
        "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(ms[-1], 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--target-p99-ms", type=float, default=50.0)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if not (all(1 <= c <= 32 for c in levels) and 1 <= args.requests <= 100_000):
        ap.error("--concurrency 1..32 each, --requests 1..100000")

    results = []
    with tempfile.TemporaryDirectory(prefix="qinqing-bench-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "QINQING_KEY_FILE": str(folder / "chain.key")}
        TOKEN["secret"] = make_token(folder, env)
        proc, port = start_server(folder, env)
        try:
            history = [json.loads(x) for x in
                       (FIXTURES / "history_O-0042.jsonl").read_text(encoding="utf-8").splitlines()
                       if x.strip()]
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            status, body = post(conn, "/v1/records", json.dumps(history).encode())
            conn.close()
            if status != 201:
                raise SystemExit(f"could not seed the ledger: HTTP {status} {body[:200]!r}")
            payloads = bodies(args.warmup + args.requests * len(levels))
            run(port, payloads[:args.warmup], max(levels), args.max_seconds)
            at = args.warmup
            for clients in levels:
                chunk = payloads[at:at + args.requests]
                at += args.requests
                lat, errors, wall = run(port, chunk, clients, args.max_seconds)
                results.append((figures_of(lat, errors, wall, clients), errors))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    at8 = next((f for f, _ in results if f["concurrency"] == 8), results[-1][0])
    all_errors = [e for _, errs in results for e in errs]
    ok = not all_errors and at8["p99_ms"] <= args.target_p99_ms
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "levels": [f for f, _ in results]}, indent=2))
    else:
        print(f"single-record checks with a bearer token, 127.0.0.1, {os.cpu_count()} CPUs "
              "(clients and server share them)")
        for f, _ in results:
            print(f"  concurrency {f['concurrency']:>2}: {f['checks_per_second']:>7} checks/s  "
                  f"p50 {f['p50_ms']} ms  p95 {f['p95_ms']} ms  p99 {f['p99_ms']} ms  "
                  f"max {f['max_ms']} ms  errors {f['errors']}")
        print(f"  target p99 <= {args.target_p99_ms:g} ms at concurrency 8 and no errors: "
              f"{'met' if ok else 'NOT met'}")
    for e in all_errors[:5]:
        print("  error:", e, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
