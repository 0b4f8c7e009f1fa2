"""`qinqing check --engine spark` on a real standalone Spark cluster on this machine: a master
and two workers started from the PySpark distribution (`bin/spark-class`), all on 127.0.0.1;
the report equals `--engine python` byte for byte. Skipped without pyspark or Java."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("no Java runtime", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]
MINI = Path(__file__).parents[1] / "data" / "minipolicy"
SCENARIOS = ROOT / "fixtures" / "scenarios"
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(path: Path, text: str, count: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_text(errors="replace").count(text) >= count:
            return True
        time.sleep(0.5)
    return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A standalone master and two one-core workers; yields the master URL."""
    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    logs = tmp_path_factory.mktemp("spark")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "SPARK_WORKER_DIR": str(logs / "work")}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    try:
        master_log = logs / "master.log"
        procs.append(subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(_free_port())], stdout=master_log.open("wb"), stderr=subprocess.STDOUT, env=env))
        assert _wait_for(master_log, "I have been elected leader", 1, 120), master_log.read_text(errors="replace")
        for i in range(2):
            procs.append(subprocess.Popen(
                [str(spark_class), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                 "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port())],
                stdout=(logs / f"worker{i}.log").open("wb"), stderr=subprocess.STDOUT, env=env))
        assert _wait_for(master_log, "Registering worker", 2, 120), master_log.read_text(errors="replace")
        yield url, master_log
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_check_on_a_standalone_cluster(cluster, tmp_path: Path) -> None:
    url, master_log = cluster
    files = sorted(SCENARIOS.glob("*.yaml"))[:8]
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE), "SPARK_LOCAL_IP": "127.0.0.1"}
    base = [sys.executable, "-m", "checker.cli", "check", *map(str, files), "--rules", str(MINI),
            "--format", "json", "--fail-on", "never"]
    py = subprocess.run(base, capture_output=True, cwd=ROOT, env=env, timeout=300, check=False)
    sp = subprocess.run([*base, "--engine", "spark", "--spark-master", url], capture_output=True, cwd=ROOT,
                        env=env, timeout=900, check=False)
    assert b"Traceback" not in sp.stderr, sp.stderr.decode(errors="replace")[-3000:]
    assert sp.returncode == py.returncode == 0
    assert sp.stdout == py.stdout
    # the job ran on the cluster: the master gave it executors on both workers
    text = master_log.read_text(errors="replace")
    assert "Registering app qinqing" in text
    assert text.count("Launching executor") >= 2
