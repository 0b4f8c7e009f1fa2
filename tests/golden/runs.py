"""The `qinqing check` runs whose reports are pinned byte for byte (`digests.json`).

Each run is a name and its arguments (paths relative to the repository root). The digests
were recorded before the evaluator and the layout were restructured; `python -m
tests.golden.record` records them again when a report is meant to change (say why in the
CHANGELOG).
"""

from __future__ import annotations

FORMATS = ("text", "json", "jsonl", "csv", "md", "html", "xlsx", "junit", "sarif")
LANGS = ("zh", "en")

SCENARIOS = [
    "fixtures/scenarios/S01-chamber-annual-meeting.yaml",
    "fixtures/scenarios/S03-chamber-meeting-no-approval.yaml",
    "fixtures/scenarios/S04-internal-anniversary-banquet.yaml",
    "fixtures/scenarios/S05-site-visit-canteen-employee-rate.yaml",
    "fixtures/scenarios/S07-inspection-canteen-open-case.yaml",
    "fixtures/scenarios/S08-work-meal-exactly-at-cap.yaml",
    "fixtures/scenarios/S10-work-meal-diners-missing.yaml",
    "fixtures/scenarios/S12a-investment-lunch-beer-2018-legacy.yaml",
    "fixtures/scenarios/S12b-investment-lunch-beer-2025.yaml",
    "fixtures/scenarios/S14-classmate-dinner-aa.yaml",
    "fixtures/scenarios/S15-classmate-dinner-pending-licence.yaml",
    "fixtures/scenarios/S17-mooncakes-returned.yaml",
    "fixtures/scenarios/S18-tea-set-registered-kept.yaml",
    "fixtures/scenarios/S23-wechat-red-envelope-kept.yaml",
    "fixtures/scenarios/S24-exhibition-notebook-pen.yaml",
    "fixtures/scenarios/S26-dedicated-pickup-car.yaml",
    "fixtures/scenarios/S27-shared-forum-shuttle.yaml",
    "fixtures/records/self_check_ok.yaml",
]

INPUTS: dict[str, list[str]] = {
    "batch": ["fixtures/sample/batch.jsonl"],
    "batch-csv": ["fixtures/sample/batch.csv"],
    "batch-xlsx": ["fixtures/sample/batch.xlsx"],
    "malformed": ["fixtures/records/malformed.jsonl"],
    "planned": ["fixtures/records/planned_meal.yaml", "--history",
                "fixtures/records/history_O-0042.jsonl"],
    "history": ["fixtures/records/history_O-0042.jsonl"],
    "scenarios": SCENARIOS,
}
EXPLAINED = ("planned", "scenarios", "batch-csv")  # also run with --explain (json and text)


def runs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, args in INPUTS.items():
        for fmt in FORMATS:
            for lang in LANGS:
                out[f"{name}.{lang}.{fmt}"] = [*args, "--format", fmt, "--lang", lang]
        if name in EXPLAINED:
            for fmt in ("json", "text"):
                for lang in LANGS:
                    out[f"{name}.{lang}.explain.{fmt}"] = [*args, "--format", fmt, "--lang", lang,
                                                           "--explain"]
    out["batch.zh.jobs2.jsonl"] = [*INPUTS["batch"], "--format", "jsonl", "--jobs", "2"]
    return out
