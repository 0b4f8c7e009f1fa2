"""Access tokens of the HTTP service, kept hashed in the ledger's ``tokens`` table.

A token is ``qq_`` + 43 random URL-safe characters (256 bits), shown once when it is
made; the ledger keeps only its SHA-256 (a random secret of that length needs no slow
hash). Roles: ``official`` (checks and reads only the records of its own official id),
``staff`` (adds records, checks and reads everything), ``admin`` (as staff; tokens
themselves are managed with `qinqing token` on the server). Revoking keeps the row,
with the time, so that the decision log's actor names stay meaningful.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from checker.store.ledger import Ledger, LedgerError

ROLES = ("official", "staff", "admin")
PREFIX = "qq_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    official_id: str | None
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def add_token(ledger: Ledger, name: str, role: str, official_id: str | None = None
              ) -> tuple[Token, str]:
    """Make a token; return it and its secret (the only time the secret is seen)."""
    if not _NAME.match(name):
        raise LedgerError("bad_token_name",
                          f"令牌名称 '{name}' 无效：请用字母、数字、点、下划线或连字符（最多 64 个）",
                          f"token name '{name}' is invalid: use letters, digits, '.', '_' or '-' "
                          "(at most 64)")
    if role not in ROLES:
        raise LedgerError("bad_role", f"角色应为 {' | '.join(ROLES)}，而不是 '{role}'",
                          f"role must be {' | '.join(ROLES)}, not '{role}'")
    if (role == "official") != bool(official_id):
        raise LedgerError("bad_official",
                          "official 角色的令牌须用 --official 指定公职人员编号（其他角色不能指定）",
                          "an official token needs --official with the official's id "
                          "(other roles take none)")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = Token(name, role, official_id or None, _now())
    with ledger.write_transaction(f"token {name}") as conn:
        _ensure_table(ledger, conn)
        if conn.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone():
            raise LedgerError("token_exists", f"令牌 {name} 已存在", f"token {name} already exists")
        conn.execute("INSERT INTO tokens (name, role, official_id, digest, created_at)"
                     " VALUES (?, ?, ?, ?, ?)",
                     (name, role, token.official_id, digest(secret), token.created_at))
    return token, secret


def revoke_token(ledger: Ledger, name: str) -> Token:
    with ledger.write_transaction(f"token {name}") as conn:
        _ensure_table(ledger, conn)
        row = conn.execute("SELECT name, role, official_id, created_at, revoked_at FROM tokens"
                           " WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise LedgerError("token_missing", f"没有名为 {name} 的令牌", f"no token named {name}")
        when = row[4] or _now()
        conn.execute("UPDATE tokens SET revoked_at = ? WHERE name = ?", (when, name))
    return Token(row[0], row[1], row[2], row[3], when)


def list_tokens(ledger: Ledger) -> list[Token]:
    try:
        rows = ledger._reader().execute(
            "SELECT name, role, official_id, created_at, revoked_at FROM tokens ORDER BY name"
        ).fetchall()
    except Exception:  # noqa: BLE001 - a version-1 ledger has no tokens table
        return []
    return [Token(*row) for row in rows]


def find_token(ledger: Ledger, secret: str) -> Token | None:
    """The active token with this secret, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    try:
        row = ledger._reader().execute(
            "SELECT name, role, official_id, created_at, revoked_at FROM tokens"
            " WHERE digest = ? AND revoked_at IS NULL", (digest(secret),)).fetchone()
    except Exception:  # noqa: BLE001 - no tokens table: no tokens
        return None
    return Token(*row) if row else None


def has_tokens(ledger: Ledger) -> bool:
    return any(t.active for t in list_tokens(ledger))


def _ensure_table(ledger: Ledger, conn) -> None:
    """Tokens are written to version-2 ledgers only (the upgrade needs the chain key)."""
    if ledger._version(conn) == 1:
        ledger._upgrade(conn, ledger.chain_key())
