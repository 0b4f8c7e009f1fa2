"""The hash-chained decision log: writing, masking, verifying, and `qinqing audit verify`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from checker.store.audit import (
    ZERO_HASH,
    AuditError,
    DecisionLog,
    input_hash,
    line_hash,
    log_decisions,
    parse_mask,
)
from checker.store.audit_verify import verify
from checker.store.keys import ChainKey
from checker.store.ledger import to_canonical_json


def chain_key() -> ChainKey:
    return ChainKey.load(create=True)

T0 = dt.datetime(2024, 3, 5, 4, 0, tzinfo=dt.UTC)


def entry(i: int = 0, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "record_id": f"R-{i}",
        "official_id": "O-0042",
        "official_name": "张三",
        "enterprise_name": "某某科技有限公司",
        "jurisdiction": "150300",
        "date": dt.date(2024, 3, 5),
        "input_hash": "a" * 64,
        "policy_hash": "b" * 64,
        "outcome": "violation",
        "rules": ["N2", "B1"],
        "time": T0 + dt.timedelta(seconds=i),
    }
    base.update(extra)
    return base


def make_log(path: Path, n: int = 5, mask: Any = ()) -> list[str]:
    log = DecisionLog(path, mask)
    for i in range(1, n + 1):
        log.append(entry(i))
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def kinds(report) -> list[tuple[int, str]]:
    return [(p.line, p.kind) for p in report.problems]


# --------------------------------------------------------------------------- writing


def test_first_append_writes_header_then_entry(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    written = DecisionLog(path).append(entry(1))
    header, line = (json.loads(x) for x in path.read_text(encoding="utf-8").splitlines())
    assert header["seq"] == 0 and header["prev"] == ZERO_HASH
    assert header["format"] == "qinqing-decision-log" and header["version"] == 2
    assert len(header["salt"]) == 32 and header["mask"] == [] and header["keyed"] is False
    assert header["chain"] == "hmac-sha256" and header["key_id"] == chain_key().key_id
    assert line == written
    assert line == {
        "seq": 1,
        "time": "2024-03-05T04:00:01.000Z",
        "record_id": "R-1",
        "official_id": "O-0042",
        "official_name": "张三",
        "enterprise_name": "某某科技有限公司",
        "jurisdiction": "150300",
        "date": "2024-03-05",
        "input_hash": "a" * 64,
        "policy_hash": "b" * 64,
        "outcome": "violation",
        "rules": ["B1", "N2"],
        "actor": None,
        "ledger_seq": None,
        "history_records": None,
        "history_hash": None,
        "prev": header["hash"],
        "hash": line["hash"],
    }
    # the documented formula, recomputed by hand
    body = {k: v for k, v in line.items() if k != "hash"}
    expected = chain_key().mac("qinqing log line", line["prev"], to_canonical_json(body))
    assert line["hash"] == expected == line_hash(line["prev"], line, chain_key())
    unkeyed = hashlib.sha256((line["prev"] + to_canonical_json(body)).encode()).hexdigest()
    assert line["hash"] != unkeyed  # version 1's formula: anyone could recompute it
    # lines are canonical JSON
    assert path.read_text(encoding="utf-8").splitlines()[1] == to_canonical_json(line)


def test_time_defaults_to_now_in_utc_with_z(tmp_path: Path) -> None:
    line = DecisionLog(tmp_path / "l").append({"record_id": "R-1"})
    parsed = dt.datetime.fromisoformat(line["time"])
    assert line["time"].endswith("Z") and parsed.utcoffset() == dt.timedelta(0)
    assert line["official_name"] is None and line["rules"] == []


def test_time_converted_to_utc(tmp_path: Path) -> None:
    cst = dt.timezone(dt.timedelta(hours=8))
    line = DecisionLog(tmp_path / "l").append(
        {"record_id": "R-1", "time": dt.datetime(2024, 3, 5, 12, 0, tzinfo=cst)}
    )
    assert line["time"] == "2024-03-05T04:00:00.000Z"


def test_bad_entries_are_refused(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "l")
    with pytest.raises(ValueError, match="unknown decision fields: colour"):
        log.append({"record_id": "R-1", "colour": "red"})
    with pytest.raises(ValueError, match="time zone"):
        log.append({"record_id": "R-1", "time": dt.datetime(2024, 3, 5)})
    assert not (tmp_path / "l").exists()


def test_resume_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    DecisionLog(path).append(entry(1))
    again = DecisionLog(path).append(entry(2))
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["seq"] for x in lines] == [0, 1, 2]
    assert again["prev"] == lines[1]["hash"]
    assert verify(path).ok


def test_append_many_is_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    assert log.append_many([]) == []
    written = log.append_many([entry(i) for i in range(1, 4)])
    assert [w["seq"] for w in written] == [1, 2, 3]
    assert written[1]["prev"] == written[0]["hash"]
    report = verify(path)
    assert report.ok and report.entries == 3 and report.head == written[-1]["hash"]


def _append_many_times(path: str, worker: int, count: int) -> None:
    log = DecisionLog(path)
    for i in range(count):
        log.append(entry(worker * 1000 + i))


def test_appends_from_several_processes_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append_many_times, args=(str(path), w, 40)) for w in range(4)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(30)
        assert proc.exitcode == 0
    report = verify(path)
    assert report.ok, [p.message_en for p in report.problems]
    assert report.entries == 160
    seqs = [json.loads(x)["seq"] for x in path.read_text(encoding="utf-8").splitlines()]
    assert seqs == list(range(161))


def test_append_refuses_a_truncated_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    write(path, [*lines[:-1], lines[-1][:40]])  # a whole line cut short: not a crash
    with pytest.raises(AuditError) as info:
        DecisionLog(path).append(entry(9))
    assert info.value.code == "truncated"
    assert info.value.message_en == (
        f"the recorded last line of {path} is seq 3 but the log ends at seq 2: lines were cut "
        "from its end; run qinqing audit verify and start a new log file"
    )
    [side] = tmp_path.glob("log.jsonl.torn-*")  # the cut bytes are kept
    assert side.read_text(encoding="utf-8") == lines[-1][:40]


def test_append_refuses_an_edited_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    write(path, [*lines[:-1], lines[-1].replace("violation", "compliant")])
    with pytest.raises(AuditError) as info:
        DecisionLog(path).append(entry(9))
    assert info.value.code == "damaged_tail"
    assert info.value.message_zh == (
        f"{path} 的最后一行已损坏或被修改；请先运行 qinqing audit verify"
    )
    assert info.value.message_en == (
        f"The last line of {path} is damaged or was edited; run qinqing audit verify first"
    )


def test_append_refuses_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n", encoding="utf-8")
    with pytest.raises(AuditError) as info:
        DecisionLog(path).append(entry(1))
    assert info.value.code == "not_a_log"
    assert info.value.message_zh == f"{path} 不是 qinqing 决策日志（第 1 行不是日志头）"
    assert info.value.message_en == (
        f"{path} is not a qinqing decision log (line 1 is not its header)"
    )
    assert path.read_text(encoding="utf-8") == "hello\n"


# --------------------------------------------------------------------------- masking


def test_parse_mask_forms() -> None:
    assert parse_mask("name,official.id") == ("enterprise.name", "official.id", "official.name")
    assert parse_mask(["official"]) == ("official.id", "official.name")
    assert parse_mask(["official_name", " enterprise "]) == ("enterprise.name", "official.name")
    assert parse_mask("all") == ("enterprise.name", "official.id", "official.name")
    assert parse_mask("") == ()


def test_unknown_mask_field() -> None:
    with pytest.raises(AuditError) as info:
        parse_mask("name,phone")
    allowed = "official.name, official.id, enterprise.name, name, official, enterprise, all"
    assert info.value.message_zh == f"无法遮蔽字段 phone；可用：{allowed}"
    assert info.value.message_en == f"Cannot mask field phone; choose from: {allowed}"


def test_masked_values_are_keyed_pseudonyms(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path, mask=["official.name", "official.id", "enterprise.name"])
    one = log.append(entry(1))
    two = log.append(entry(2))
    other = log.append(entry(3, official_name="李四", enterprise_name=None))
    assert one["official_name"].startswith("masked:") and len(one["official_name"]) == 19
    assert one["official_name"] == two["official_name"]  # linkable within the log
    assert one["official_id"] == two["official_id"] != "O-0042"
    assert other["official_name"] != one["official_name"]
    assert other["enterprise_name"] is None  # absent stays absent
    text = path.read_text(encoding="utf-8")
    assert "张三" not in text and "O-0042" not in text and "某某科技" not in text
    # the pseudonym is HMAC-SHA256 keyed by the header's salt
    import hmac

    salt = json.loads(text.splitlines()[0])["salt"]
    digest = hmac.new(bytes.fromhex(salt), "张三".encode(), hashlib.sha256).hexdigest()
    assert one["official_name"] == "masked:" + digest[:12]
    assert verify(path).ok


def test_pseudonyms_differ_between_logs(tmp_path: Path) -> None:
    a = DecisionLog(tmp_path / "a", mask="name").append(entry(1))
    b = DecisionLog(tmp_path / "b", mask="name").append(entry(1))
    assert a["official_name"] != b["official_name"]
    assert a["official_id"] == "O-0042"  # not masked by "name"


def test_mask_of_a_log_sticks_when_resumed(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first = DecisionLog(path, mask="name").append(entry(1))
    resumed = DecisionLog(path).append(entry(2))
    assert resumed["official_name"] == first["official_name"]


def test_secret_key(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    keyed = DecisionLog(path, mask="name", secret=b"kept elsewhere").append(entry(1))
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert header["keyed"] is True and len(header["key_check"]) == 16
    import hmac

    plain = hmac.new(bytes.fromhex(header["salt"]), "张三".encode(), hashlib.sha256).hexdigest()
    assert keyed["official_name"] != "masked:" + plain[:12]
    again = DecisionLog(path, mask="name", secret=b"kept elsewhere").append(entry(2))
    assert again["official_name"] == keyed["official_name"]
    for secret in (None, b"wrong"):
        with pytest.raises(AuditError) as info:
            DecisionLog(path, secret=secret).append(entry(3))
        assert info.value.code == "wrong_secret"
        assert info.value.message_zh == f"{path} 的遮蔽使用了密钥；需要同一密钥才能继续写入"
        assert info.value.message_en == (
            f"{path} masks with a secret key; the same secret is needed to append"
        )
    assert verify(path).ok  # verifying needs no secret
    unkeyed = tmp_path / "plain.jsonl"
    DecisionLog(unkeyed).append(entry(1))
    with pytest.raises(AuditError) as info:
        DecisionLog(unkeyed, secret=b"x").append(entry(2))
    assert info.value.message_en == (
        f"{unkeyed} was created without a secret key; cannot append with one"
    )


# --------------------------------------------------------------------------- log_decisions


def test_log_decisions_from_report_entries(tmp_path: Path) -> None:
    record = {
        "id": "R-1",
        "stage": "planned",
        "jurisdiction": "150300",
        "date": dt.date(2024, 3, 5),
        "official": {"id": "O-0042", "name": "张三"},
        "enterprise": {"name": "某某科技有限公司"},
        "meals": [{"total_cny": Decimal("900.00"), "diners": 5}],
    }
    report = {
        "id": "R-1",
        "outcome": "violation",
        "jurisdiction": "150300",
        "date": "2024-03-05",
        "findings": [{"rule": "B2.cap", "outcome": "violation"}, {"rule": "A1"}],
    }
    path = tmp_path / "log.jsonl"
    count = log_decisions(
        path,
        [{**report, "record": record}, (report | {"id": "R-2"}, None)],
        "p" * 64,
        mask=["official.id"],
    )
    assert count == 2
    first, second = (json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()[1:])
    assert first["record_id"] == "R-1" and first["outcome"] == "violation"
    assert first["rules"] == ["A1", "B2.cap"]
    assert first["policy_hash"] == "p" * 64
    assert first["input_hash"] == hashlib.sha256(to_canonical_json(record).encode()).hexdigest()
    assert first["input_hash"] == input_hash(record)
    assert first["official_name"] == "张三" and first["official_id"].startswith("masked:")
    assert first["enterprise_name"] == "某某科技有限公司"
    assert first["date"] == "2024-03-05" and first["jurisdiction"] == "150300"
    assert second["record_id"] == "R-2" and second["input_hash"] is None
    assert second["official_id"] is None
    assert verify(path).ok


# --------------------------------------------------------------------------- verify


def test_intact_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    make_log(path, 5)
    report = verify(path)
    assert report.ok and report.entries == 5 and report.lines == 6
    assert report.summary("zh") == "日志完整：5 条记录，哈希链一致"
    assert report.summary("en") == "Log intact: 5 records, hash chain consistent"


def test_empty_file_is_an_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"")
    report = verify(path)
    assert report.ok and report.entries == 0 and report.head is None


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        verify(tmp_path / "nope.jsonl")


def test_edited_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 5)
    lines[3] = lines[3].replace('"violation"', '"compliant"')
    write(path, lines)
    report = verify(path)
    assert kinds(report) == [(4, "edited")]
    assert report.problems[0].message_zh == (
        "第 4 行：内容被修改（seq 3）：MAC 不符（即使重算了哈希链，没有密钥也无法伪造）")
    assert report.problems[0].message_en == (
        "line 4: content was edited (seq 3): its MAC does not match (a chain recomputed "
        "without the key cannot match)")
    assert report.summary("zh") == "日志被篡改或损坏：发现 1 处问题"
    assert report.summary("en") == "Log tampered with or damaged: 1 problem found"


def test_edited_line_with_recomputed_hash(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 5)
    forged = json.loads(lines[3])
    forged["outcome"] = "compliant"
    forged["hash"] = line_hash(forged["prev"], forged)  # without the key
    lines[3] = to_canonical_json(forged) + "\n"
    # and the rest of the chain recomputed from there on, still without the key
    prev = forged["hash"]
    for i in range(4, len(lines)):
        obj = json.loads(lines[i])
        obj["prev"] = prev
        obj["hash"] = prev = line_hash(prev, obj)
        lines[i] = to_canonical_json(obj) + "\n"
    write(path, lines)
    report = verify(path)
    # named at the edited line (and each line rechained after it), not at the end
    assert kinds(report) == [(4, "edited"), (5, "edited"), (6, "edited"), (6, "head_mismatch")]


def test_removed_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 5)
    del lines[3]  # seq 3
    write(path, lines)
    report = verify(path)
    assert kinds(report) == [(4, "removed")]
    assert report.problems[0].message_zh == "第 4 行：此行之前缺少 seq 3（1 行被删除）"
    assert (
        report.problems[0].message_en == "line 4: seq 3 missing before this line (1 line removed)"
    )


def test_removed_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 6)
    del lines[2:5]  # seq 2, 3, 4
    write(path, lines)
    report = verify(path)
    assert kinds(report) == [(3, "removed")]
    assert report.problems[0].message_en == (
        "line 3: seq 2–4 missing before this line (3 lines removed)"
    )


def test_reordered_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 5)
    lines[2], lines[3] = lines[3], lines[2]  # seq 2 and 3 swapped
    write(path, lines)
    report = verify(path)
    assert kinds(report) == [(4, "reordered")]
    assert report.problems[0].message_zh == (
        "第 4 行：seq 2 出现在 seq 3（第 3 行）之后：行的顺序被调换"
    )
    assert report.problems[0].message_en == (
        "line 4: seq 2 comes after seq 3 (line 3): lines were reordered"
    )


def test_duplicated_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    lines.insert(3, lines[2])
    write(path, lines)
    report = verify(path)
    assert kinds(report) == [(4, "duplicated")]
    assert report.problems[0].message_zh == "第 4 行：seq 2 重复（与第 3 行相同）"
    assert report.problems[0].message_en == "line 4: seq 2 is repeated (same as line 3)"


def test_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    lines[-1] = lines[-1][:50]
    write(path, lines)
    report = verify(path)
    # the .head file names seq 3: a complete line was cut (a crash leaves the head behind)
    assert kinds(report) == [(4, "truncated")]
    assert report.problems[0].message_en == (
        "line 4: the recorded last line is seq 3 but the log ends at seq 2: 1 line cut from the end")
    assert [(n.line, n.kind) for n in report.notices] == [(4, "torn")]
    assert report.entries == 2


def test_last_line_missing_only_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    lines[-1] = lines[-1].rstrip("\n")
    write(path, lines)
    assert kinds(verify(path)) == [(4, "truncated")]


def test_line_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 4)
    lines[2] = "this is not json\n"
    write(path, lines)
    report = verify(path)
    assert kinds(report) == [(3, "not_json")]  # the seq gap it leaves is not reported twice
    assert report.problems[0].message_zh == "第 3 行：不是有效的日志行（JSON）"
    assert report.problems[0].message_en == "line 3: not a valid log line (JSON)"


@pytest.mark.parametrize(
    "text",
    ['["a list"]\n', '{"seq": "1", "prev": "x", "hash": "y"}\n', "\n", "\udcff\n"],
    ids=["list", "seq-not-int", "blank", "bad-utf8"],
)
def test_malformed_lines_are_not_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    path.write_bytes("".join(lines[:2]).encode() + text.encode("utf-8", "surrogateescape"))
    path.write_bytes(path.read_bytes() + "".join(lines[2:]).encode())
    assert kinds(verify(path)) == [(3, "not_json")]


def test_removed_header(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    write(path, lines[1:])
    report = verify(path)
    assert kinds(report) == [(1, "bad_header")]
    assert report.problems[0].message_en == (
        "line 1: the first line is not the log header (seq 1): lines were removed from the start"
    )


def test_edited_header_salt(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 2, mask="name")
    header = json.loads(lines[0])
    header["salt"] = "0" * 32
    lines[0] = to_canonical_json(header) + "\n"
    write(path, lines)
    assert kinds(verify(path)) == [(1, "forged")]


def test_cut_tail_is_caught_only_with_a_head(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 4)
    head = json.loads(lines[-1])["hash"]
    assert verify(path, head=head).ok
    write(path, lines[:-1])
    report = verify(path)  # the .head file beside the log names seq 4
    assert kinds(report) == [(4, "truncated")]
    assert report.problems[0].message_zh == (
        "第 4 行：末行记录为 seq 4，但日志只到 seq 3：末尾 1 行被删除")
    (tmp_path / "log.jsonl.head").unlink()  # cut together with the head file:
    assert verify(path).ok  # a chain alone cannot see its end cut off
    report = verify(path, head=head)  # a hash kept elsewhere can
    assert kinds(report) == [(4, "head_mismatch")]
    assert report.problems[0].message_zh == (
        "第 4 行：给定的哈希不在日志中：它之后的行被删除或替换"
    )


def test_several_problems_are_listed_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 8)
    lines[2] = lines[2].replace("R-2", "R-X")  # edit seq 2
    del lines[5]  # remove seq 5
    lines[-1] = lines[-1][:30]  # truncate the last
    write(path, lines)
    assert kinds(verify(path)) == [(3, "edited"), (6, "removed"), (8, "truncated")]


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def runner_app():
    from checker.cli import _register_all, app

    _register_all()
    return app


def test_cli_verify_intact(tmp_path: Path, runner_app) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    head = json.loads(lines[-1])["hash"]
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path)])
    assert result.exit_code == 0
    assert result.stdout == f"日志完整：3 条记录，哈希链一致\n末行哈希：{head}\n"
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path), "--lang", "en"])
    assert result.stdout == f"Log intact: 3 records, hash chain consistent\nLast hash: {head}\n"


def test_cli_verify_tampered(tmp_path: Path, runner_app) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 4)
    lines[1] = lines[1].replace("R-1", "R-9")
    del lines[3]
    write(path, lines)
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path)])
    assert result.exit_code == 1
    assert result.stdout == (
        "第 2 行：内容被修改（seq 1）：MAC 不符（即使重算了哈希链，没有密钥也无法伪造）\n"
        "第 4 行：此行之前缺少 seq 3（1 行被删除）\n"
        "日志被篡改或损坏：发现 2 处问题\n"
    )
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "Log tampered with or damaged: 2 problems found"


def test_cli_verify_with_head(tmp_path: Path, runner_app) -> None:
    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    write(path, lines[:-1])
    head = json.loads(lines[-1])["hash"]
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path), "--head", head])
    assert result.exit_code == 1
    assert "第 3 行：给定的哈希不在日志中" in result.stdout
    assert "第 3 行：末行记录为 seq 3，但日志只到 seq 2：末尾 1 行被删除" in result.stdout


def test_cli_verify_missing_file(tmp_path: Path, runner_app) -> None:
    path = tmp_path / "nope.jsonl"
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"无法读取 {path}：No such file or directory\n"
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path), "--lang", "en"])
    assert result.stderr == f"Cannot read {path}: No such file or directory\n"


def test_cli_bad_lang(tmp_path: Path, runner_app) -> None:
    path = tmp_path / "log.jsonl"
    make_log(path, 1)
    result = CliRunner().invoke(runner_app, ["audit", "verify", str(path), "--lang", "fr"])
    assert result.exit_code == 2
    assert "zh | en" in result.output


def test_long_lines_span_read_blocks(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    log.append(entry(1, official_name="张" * 9000))  # a line longer than one read block
    DecisionLog(path).append(entry(2, enterprise_name="某" * 20000))
    DecisionLog(path).append(entry(3))
    report = verify(path)
    assert report.ok and report.entries == 3


def test_overlong_line_is_not_json(tmp_path: Path, monkeypatch) -> None:
    import checker.store.audit_verify as verify_mod

    path = tmp_path / "log.jsonl"
    lines = make_log(path, 3)
    monkeypatch.setattr(verify_mod, "MAX_LINE_BYTES", 1000)
    lines[2] = '{"x": "' + "y" * 5000 + '"}\n'
    write(path, lines)
    assert kinds(verify(path)) == [(3, "not_json")]
