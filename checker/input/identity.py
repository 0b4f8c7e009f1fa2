"""Record identity: one spelling per record id, so look-alike ids cannot pass as new records.

`normalise_id` is what the ledger and the HTTP API apply before their duplicate checks: the
id in Unicode NFC, or `IdentityError` (Chinese and English) when it holds a character that
cannot be seen or told apart: format characters (zero-width spaces and joiners, bidi
controls such as U+202E), control characters, lone surrogates, private-use or unassigned code
points, spaces other than U+0020 (and any space at either end), and dashes other than the
ASCII hyphen-minus (the non-breaking hyphen U+2011 looks exactly like "-").

`identity_key` is what a batch's duplicate check compares when it cannot reject (the
loader reports every record): NFKC, format characters dropped, every dash read as "-" and
every space as " ", so look-alike copies of one id are duplicates of each other.
"""

from __future__ import annotations

import unicodedata

_BAD_CATEGORIES = {
    "Cf": ("格式字符（不可见）", "a format character (invisible)"),
    "Cc": ("控制字符", "a control character"),
    "Cs": ("代理码位（无效的 Unicode）", "a lone surrogate (invalid Unicode)"),
    "Co": ("私用区字符", "a private-use character"),
    "Cn": ("未分配的码位", "an unassigned code point"),
    "Zl": ("行分隔符", "a line separator"),
    "Zp": ("段分隔符", "a paragraph separator"),
}


class IdentityError(ValueError):
    """A record id that cannot be told apart from another; the message names the character."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


def _name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()


def normalise_id(record_id: str) -> str:
    """`record_id` in NFC; IdentityError when it holds an invisible or look-alike character."""
    for position, ch in enumerate(record_id, start=1):
        if ch.isascii() and ch.isprintable():
            continue
        category = unicodedata.category(ch)
        kind = _BAD_CATEGORIES.get(category)
        if kind is None and category == "Zs":
            kind = ("非标准空格", "a space other than U+0020")
        if kind is None and category == "Pd":
            kind = ("非 ASCII 连字符（请用 -）", "a dash other than the ASCII hyphen '-'")
        if kind is not None:
            raise IdentityError(
                f"记录编号第 {position} 个字符是{kind[0]}（{_name(ch)}），会造成看似相同的编号；请删除或改用普通字符",
                f"record id character {position} is {kind[1]} ({_name(ch)}), which makes "
                "look-alike ids; remove it or use a plain character",
            )
    if record_id != record_id.strip():
        raise IdentityError("记录编号首尾不能有空格", "a record id may not start or end with a space")
    return unicodedata.normalize("NFC", record_id)


def identity_key(record_id: str) -> str:
    """What duplicate checks compare: look-alike spellings of one id give one key."""
    if record_id.isascii():
        return record_id
    out = []
    for ch in unicodedata.normalize("NFKC", record_id):
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        if category == "Pd":
            ch = "-"
        elif category == "Zs":
            ch = " "
        out.append(ch)
    return "".join(out)
