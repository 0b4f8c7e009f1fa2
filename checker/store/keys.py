"""The chain key: a secret kept outside the ledger and the log that MACs their hash chains.

The key is 32 random bytes, written in hex to a file created on first use with mode 0600
(its folder 0700). Its path is, in order: the `path` given (`--key`), the environment
variable QINQING_KEY_FILE, or `chain.key` in the user's configuration folder (not the data
folder that holds the ledger, so that a copy of the data is not a copy of the key).

Every chain step is HMAC-SHA256(key, label + previous hash + canonical row), so a chain
cannot be recomputed without the key. `key_id` names a key without revealing it; ledgers and
logs record it, so a wrong key is reported as such rather than as tampering everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

ENV = "QINQING_KEY_FILE"
KEY_BYTES = 32


class ChainKeyError(Exception):
    """The key cannot be read or created (code ``key_missing``, ``key_unreadable``,
    ``key_exposed``, ``key_invalid``)."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


def default_key_path() -> Path:
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("qinqing")) / "chain.key"


class ChainKey:
    """A loaded key. `mac(label, *parts)` is HMAC-SHA256 over the label and the parts."""

    def __init__(self, secret: bytes, path: Path | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("chain key too short")
        self._secret = secret
        self.path = path
        self.key_id = hmac.new(secret, b"qinqing key id", hashlib.sha256).hexdigest()[:16]

    def mac(self, label: str, *parts: str) -> str:
        h = hmac.new(self._secret, label.encode("utf-8"), hashlib.sha256)
        for part in parts:
            h.update(b"\x1f")
            h.update(part.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def derive(self, label: str) -> bytes:
        """A sub-key for another purpose (never the chain key itself)."""
        return hmac.new(self._secret, label.encode("utf-8"), hashlib.sha256).digest()

    @classmethod
    def load(cls, path: str | Path | None = None, *, create: bool = False) -> ChainKey:
        """The key at `path` (see the module docstring); created when missing and `create`."""
        where = Path(path) if path is not None else default_key_path()
        try:
            fd = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            if not create:
                raise ChainKeyError(
                    "key_missing",
                    f"找不到链密钥 {where}；校验需要写入时使用的密钥（--key 或 {ENV}）",
                    f"chain key {where} not found; verifying needs the key the chain was "
                    f"written with (--key or {ENV})",
                ) from None
            return cls._create(where)
        except OSError as exc:
            raise _unreadable(where, exc) from None
        try:
            mode = os.fstat(fd).st_mode
            data = os.read(fd, 4096)
        except OSError as exc:
            raise _unreadable(where, exc) from None
        finally:
            os.close(fd)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ChainKeyError(
                "key_exposed",
                f"链密钥 {where} 可被其他用户读取（权限 {stat.S_IMODE(mode):o}）；请运行 chmod 600 {where}",
                f"chain key {where} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run chmod 600 {where}",
            )
        try:
            secret = bytes.fromhex(data.decode("ascii").strip())
            return cls(secret, where)
        except ValueError:
            raise ChainKeyError(
                "key_invalid", f"链密钥文件 {where} 内容无效", f"chain key file {where} is not a key"
            ) from None

    @classmethod
    def _create(cls, where: Path) -> ChainKey:
        secret = secrets.token_bytes(KEY_BYTES)
        try:
            where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return cls.load(where)
        except OSError as exc:
            raise _unreadable(where, exc) from None
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (secret.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(secret, where)


def _unreadable(where: Path, exc: OSError) -> ChainKeyError:
    why = exc.strerror or str(exc)
    return ChainKeyError("key_unreadable", f"无法读取或创建链密钥 {where}：{why}",
                     f"cannot read or create the chain key {where}: {why}")
