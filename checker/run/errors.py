"""The check pipeline's expected failures: a message in both languages, exit code 2."""

from __future__ import annotations

import sys


class CheckError(Exception):
    """An expected failure: message in both languages, exit code 2."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str) -> str:
        return self.message_zh if lang == "zh" else self.message_en


def err(msg_zh: str, msg_en: str, lang: str) -> None:
    sys.stderr.write((msg_zh if lang == "zh" else msg_en) + "\n")
