"""`qinqing token add|list|revoke`: access tokens of the HTTP service (kept hashed in the ledger).

Exit codes: 0 done; 1 refused (a name taken, no such token, a bad role); 2 the ledger or the
chain key is unusable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from checker.commands.ledger import LangOption, LedgerOption, _lang, _open, _t

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2
KeyOption = Annotated[Path | None, typer.Option(
    "--key", dir_okay=False, help="链密钥文件 / Chain key file (default: QINQING_KEY_FILE or "
                                  "chain.key in the user configuration folder).")]
_UNUSABLE = {"ledger_missing", "ledger_unreadable", "ledger_newer", "ledger_busy",
             "ledger_write_failed", "key_missing", "key_unreadable", "key_exposed",
             "key_invalid", "wrong_key"}


def add(
    name: Annotated[str, typer.Argument(help="令牌名称 / Token name.")],
    role: Annotated[str, typer.Option("--role", help="official | staff | admin")],
    official: Annotated[str | None, typer.Option(
        "--official", help="official 角色：公职人员编号 / For an official token: the official id.")
    ] = None,
    ledger: LedgerOption = None,
    key: KeyOption = None,
    lang: LangOption = "zh",
) -> None:
    """创建访问令牌（只显示一次）/ Make an access token (shown once)."""
    from checker.store.ledger import LedgerError
    from checker.store.tokens import add_token

    lang = _lang(lang)
    with _open(ledger, lang, create=True, key=key) as store:
        try:
            token, secret = add_token(store, name, role.lower(), official)
        except LedgerError as exc:
            typer.echo(exc.message(lang), err=True)
            raise typer.Exit(EXIT_UNUSABLE if exc.code in _UNUSABLE else EXIT_REFUSED) from None
    who = f" ({token.official_id})" if token.official_id else ""
    typer.echo(_t(lang, f"已创建令牌 {token.name}，角色 {token.role}{who}。令牌只显示这一次，请妥善保存：",
                  f"Token {token.name} made, role {token.role}{who}. It is shown this once only; "
                  "keep it safe:"), err=True)
    typer.echo(secret)


def list_(ledger: LedgerOption = None, lang: LangOption = "zh") -> None:
    """列出令牌（不含令牌本身）/ List tokens (never the secrets)."""
    from checker.store.tokens import list_tokens

    lang = _lang(lang)
    with _open(ledger, lang, create=False) as store:
        tokens = list_tokens(store)
    if not tokens:
        typer.echo(_t(lang, "没有访问令牌", "No access tokens"))
        return
    typer.echo(_t(lang, "名称\t角色\t公职人员\t创建时间\t撤销时间", "name\trole\tofficial\tcreated\trevoked"))
    for t in tokens:
        typer.echo(f"{t.name}\t{t.role}\t{t.official_id or '-'}\t{t.created_at}\t{t.revoked_at or '-'}")


def revoke(
    name: Annotated[str, typer.Argument(help="令牌名称 / Token name.")],
    ledger: LedgerOption = None,
    key: KeyOption = None,
    lang: LangOption = "zh",
) -> None:
    """撤销令牌（立即生效）/ Revoke a token (at once, also in a running service)."""
    from checker.store.ledger import LedgerError
    from checker.store.tokens import revoke_token

    lang = _lang(lang)
    with _open(ledger, lang, create=False, key=key) as store:
        try:
            token = revoke_token(store, name)
        except LedgerError as exc:
            typer.echo(exc.message(lang), err=True)
            raise typer.Exit(EXIT_UNUSABLE if exc.code in _UNUSABLE else EXIT_REFUSED) from None
    typer.echo(_t(lang, f"已撤销令牌 {token.name}", f"Token {token.name} revoked"))


def register(app: typer.Typer) -> None:
    group = typer.Typer(name="token", help="HTTP 服务的访问令牌 / Access tokens of the HTTP service.",
                        no_args_is_help=True)
    group.command("add")(add)
    group.command("list")(list_)
    group.command("revoke")(revoke)
    app.add_typer(group, name="token")
