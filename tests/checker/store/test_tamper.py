"""Tamper evidence of the ledger and the decision log: each kind of tampering is named at
the row or line where it happened (edit, edit-and-rechain without the key, delete, reorder,
duplicate, truncate, forged log, deleted ledger row), and `qinqing audit verify|checkpoint`,
`qinqing ledger check|backup`, `qinqing token` on the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.store.audit import DecisionLog
from checker.store.audit_format import line_hash
from checker.store.audit_verify import make_checkpoint, verify
from checker.store.canonical import to_canonical_json
from checker.store.keys import ChainKey
from checker.store.ledger import Ledger, LedgerError
from checker.store.ledger_chain import check_ledger


def rec(i: int, official: str = "O-1") -> dict:
    return {"id": f"R-{i}", "stage": "completed", "jurisdiction": "150300",
            "date": dt.date(2024, 3, 1) + dt.timedelta(days=i), "official": {"id": official}}


@pytest.fixture
def key(tmp_path: Path) -> ChainKey:
    return ChainKey.load(tmp_path / "keys" / "chain.key", create=True)


@pytest.fixture
def ledger(tmp_path: Path, key: ChainKey) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path, key=key) as store:
        store.add_records([rec(i) for i in range(1, 6)], "a")
        store.add_records([rec(i) for i in range(6, 9)], "b")
    return path


def sql(path: Path, statement: str, *args) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def problems(report) -> list[tuple]:
    return [(p.seq, p.kind) for p in report.problems]


def test_key_file_is_private_and_made_once(tmp_path: Path, key: ChainKey) -> None:
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert ChainKey.load(key.path).key_id == key.key_id
    key.path.chmod(0o644)
    with pytest.raises(Exception) as info:
        ChainKey.load(key.path)
    assert info.value.code == "key_exposed"


def test_intact_ledger(ledger: Path, key: ChainKey) -> None:
    report = check_ledger(ledger, key)
    assert report.ok and report.rows == 8 and report.head_seq == 8
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600


def test_deleted_ledger_row_changes_nothing_silently(ledger: Path, key: ChainKey) -> None:
    sql(ledger, "DELETE FROM records WHERE id = 'R-3'")
    report = check_ledger(ledger, key)
    assert problems(report) == [(4, "removed")]
    assert report.problems[0].message_en == (
        "ledger row 4 (record R-4): row 3 missing before this row (1 removed)")


def test_edited_ledger_row(ledger: Path, key: ChainKey) -> None:
    sql(ledger, "UPDATE records SET official_id = 'O-2' WHERE id = 'R-5'")
    assert problems(check_ledger(ledger, key)) == [(5, "edited")]


def test_edited_and_rechained_without_the_key(ledger: Path, key: ChainKey) -> None:
    """The forger recomputes every later hash with plain SHA-256 (no key): caught at the row."""
    conn = sqlite3.connect(ledger)
    conn.execute("UPDATE records SET stage = 'planned' WHERE id = 'R-6'")
    prev = conn.execute("SELECT hash FROM records WHERE seq = 5").fetchone()[0]
    for seq in range(6, 9):
        digest = hashlib.sha256(f"{prev}{seq}".encode()).hexdigest()
        conn.execute("UPDATE records SET prev = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = digest
    conn.execute("UPDATE chain SET hash = ?", (prev,))
    conn.commit()
    conn.close()
    found = problems(check_ledger(ledger, key))
    assert found[0] == (6, "edited") and (None, "forged") in found


def test_truncated_ledger(ledger: Path, key: ChainKey) -> None:
    sql(ledger, "DELETE FROM records WHERE seq >= 7")
    report = check_ledger(ledger, key)
    assert problems(report) == [(6, "truncated")]
    assert "2 rows cut from the end" in report.problems[0].message_en


def test_reordered_ledger_rows(ledger: Path, key: ChainKey) -> None:
    conn = sqlite3.connect(ledger)
    conn.execute("UPDATE records SET seq = -1 WHERE seq = 2")
    conn.execute("UPDATE records SET seq = 2 WHERE seq = 3")
    conn.execute("UPDATE records SET seq = 3 WHERE seq = -1")
    conn.commit()
    conn.close()
    assert [s for s, _ in problems(check_ledger(ledger, key))] == [2, 3, 4]


def test_row_added_by_hand(ledger: Path, key: ChainKey) -> None:
    sql(ledger, "INSERT INTO records (id, official_id, date, stage, jurisdiction, record_json,"
                " added_at, source, import_id) SELECT 'R-X', official_id, date, stage,"
                " jurisdiction, record_json, added_at, source, import_id FROM records WHERE seq=1")
    assert problems(check_ledger(ledger, key)) == [(None, "inserted")]


def test_writing_with_another_key_is_refused(ledger: Path, tmp_path: Path) -> None:
    other = ChainKey.load(tmp_path / "other.key", create=True)
    with Ledger(ledger, key=other) as store, pytest.raises(LedgerError) as info:
        store.add_records([rec(20)], "c")
    assert info.value.code == "wrong_key"
    assert problems(check_ledger(ledger, other)) == [(None, "wrong_key")]


def test_version_1_ledger_is_chained_on_first_write(tmp_path: Path, key: ChainKey) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    from checker.store.ledger import _SCHEMA

    for statement in _SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("INSERT INTO imports VALUES (1, 'old', '2024', 1)")
    conn.execute("INSERT INTO records VALUES ('R-0', 'O-1', NULL, '2024-03-01', 'completed',"
                 " '150300', ?, '2024', 'old', 1)", (to_canonical_json(rec(0)),))
    conn.commit()
    conn.close()
    with Ledger(path, key=key) as store:
        assert store.history("O-1")[0]["id"] == "R-0"
        store.add_records([rec(1)], "new")
    report = check_ledger(path, key)
    assert report.ok and report.rows == 2


# ---- the log ---------------------------------------------------------------------------------
def make_log(path: Path, key: ChainKey, n: int = 5) -> list[str]:
    log = DecisionLog(path, key=key)
    for i in range(1, n + 1):
        log.append({"record_id": f"R-{i}", "outcome": "violation", "rules": ["B1"]})
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def kinds(report) -> list[tuple[int, str]]:
    return [(p.line, p.kind) for p in report.problems]


def test_forged_log(tmp_path: Path, key: ChainKey) -> None:
    """A whole log written by someone without the key (with the version-1 formula)."""
    path = tmp_path / "log.jsonl"
    lines = make_log(path, key, 3)
    prev = "0" * 64
    out = []
    for text in lines:
        obj = json.loads(text)
        obj["prev"] = prev
        obj["hash"] = prev = line_hash(prev, obj)
        out.append(to_canonical_json(obj) + "\n")
    path.write_text("".join(out), encoding="utf-8")
    assert kinds(verify(path, key=key))[0] == (1, "forged")


def test_reordered_and_duplicated_log_lines(tmp_path: Path, key: ChainKey) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, key)
    swapped = [*lines[:2], lines[3], lines[2], *lines[4:]]
    path.write_text("".join(swapped), encoding="utf-8")
    assert (4, "reordered") in kinds(verify(path, key=key))
    path.write_text("".join([*lines[:3], lines[2], *lines[3:]]), encoding="utf-8")
    assert (4, "duplicated") in kinds(verify(path, key=key))


def test_log_refers_to_ledger_rows_cut_since(tmp_path: Path, key: ChainKey, ledger: Path) -> None:
    path = tmp_path / "log.jsonl"
    DecisionLog(path, key=key).append({"record_id": "P-1", "outcome": "review", "ledger_seq": 8})
    assert verify(path, key=key, ledger=ledger).ok
    sql(ledger, "DELETE FROM records WHERE seq = 8")
    sql(ledger, "UPDATE chain SET seq = 7, hash = (SELECT hash FROM records WHERE seq = 7)")
    report = verify(path, key=key, ledger=ledger)
    assert kinds(report) == [(2, "ledger_missing_rows")]


def test_checkpoint_catches_a_rewind(tmp_path: Path, key: ChainKey, ledger: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, key, 4)
    point = make_checkpoint(path, ledger, key, "2026-01-01T00:00:00Z")
    saved_head = (tmp_path / "log.jsonl.head").read_bytes()
    assert verify(path, key=key, ledger=ledger, checkpoint=point).ok
    DecisionLog(path, key=key).append({"record_id": "R-9", "outcome": "compliant"})
    assert verify(path, key=key, checkpoint=point).ok  # later lines are fine
    path.write_text("".join(lines[:3]), encoding="utf-8")  # cut back, old head put back
    (tmp_path / "log.jsonl.head").write_bytes(saved_head)
    report = verify(path, key=key, checkpoint=point)
    assert (3, "truncated") in kinds(report)


# ---- the command line ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli():
    from checker.cli import _register_all, app

    _register_all()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_cli_ledger_check_backup_and_audit(cli, tmp_path: Path, key: ChainKey, ledger: Path):
    result = cli("ledger", "check", "--ledger", ledger, "--key", key.path, "--lang", "en")
    assert result.exit_code == 0 and "Ledger intact: 8 records" in result.stdout
    copy = tmp_path / "copy.sqlite3"
    result = cli("ledger", "backup", copy, "--ledger", ledger, "--lang", "en")
    assert result.exit_code == 0 and stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert check_ledger(copy, key).ok
    assert cli("ledger", "backup", copy, "--ledger", ledger).exit_code == 1  # never overwrites
    sql(ledger, "DELETE FROM records WHERE id = 'R-2'")
    result = cli("ledger", "check", "--ledger", ledger, "--key", key.path, "--lang", "en")
    assert result.exit_code == 1
    assert "ledger row 3 (record R-3): row 2 missing before this row (1 removed)" in result.stdout
    log = tmp_path / "decisions.jsonl"
    make_log(log, key, 2)
    result = cli("audit", "verify", "--ledger", ledger, "--key", key.path, "--lang", "en")
    assert result.exit_code == 1
    assert "Log intact: 2 records" in result.stdout and "row 2 missing" in result.stdout
    result = cli("audit", "checkpoint", log, "--key", key.path, "-o", tmp_path / "cp.json")
    assert result.exit_code == 0
    result = cli("audit", "verify", log, "--key", key.path, "--checkpoint", tmp_path / "cp.json")
    assert result.exit_code == 0


def test_cli_tokens(cli, tmp_path: Path, key: ChainKey) -> None:
    ledger = tmp_path / "t.sqlite3"
    result = cli("token", "add", "zhang", "--role", "official", "--official", "O-1",
                 "--ledger", ledger, "--key", key.path, "--lang", "en")
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert secret.startswith("qq_") and len(secret) > 40
    assert secret not in ledger.read_bytes().decode("latin-1")  # stored hashed
    assert cli("token", "add", "x", "--role", "official", "--ledger", ledger).exit_code == 1
    assert cli("token", "add", "zhang", "--role", "staff", "--ledger", ledger).exit_code == 1
    listed = cli("token", "list", "--ledger", ledger, "--lang", "en").stdout
    assert "zhang\tofficial\tO-1\t" in listed and secret not in listed
    assert cli("token", "revoke", "zhang", "--ledger", ledger).exit_code == 0
    assert cli("token", "revoke", "nobody", "--ledger", ledger).exit_code == 1


def test_cli_ledger_add_of_a_surrogate_is_a_message(cli, tmp_path: Path) -> None:
    src = tmp_path / "r.json"
    src.write_text('{"id": "R-1", "stage": "completed", "jurisdiction": "150300", '
                   '"date": "2024-03-01", "official": {"id": "O-1", "name": "\\ud800"}}')
    result = cli("ledger", "add", src, "--ledger", tmp_path / "l.sqlite3", "--lang", "en")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (1, 2)
