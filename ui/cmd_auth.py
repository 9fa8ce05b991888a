"""`trustrec auth`: API tokens (add, list, revoke) and the audit log of admin actions.

A token is printed once, when it is made; the store keeps only its SHA-256 hash with the principal,
role and creation time. Tokens are used when ``[server.auth] mode = "token"``.
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Annotated, Any

import typer

from catalog.errors import NotFound
from ui.common import ConfigOption, JsonFlag, config_from, console, emit_json, stdout, user_errors


def _when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _store(config: Any) -> Any:
    from catalog import Store

    return Store(config_from(config).workspace().store_target)


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    auth = typer.Typer(
        help='API tokens for `[server.auth] mode = "token"` and the admin audit log.', no_args_is_help=True
    )
    app.add_typer(auth, name="auth")

    @auth.command("add-token")
    def add_token(
        role: Annotated[
            str, typer.Option("--role", help="user (acts as one user), service (for any user it names) or admin.")
        ],
        user_id: Annotated[str | None, typer.Option("--user-id", help="The user a `user` token acts as.")] = None,
        name: Annotated[str | None, typer.Option("--name", help="Principal name (default from role and id).")] = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """Make a new random token and print it once (only its hash is stored)."""
        from catalog.store import user_hash
        from ui.auth import create_token

        with user_errors(), _store(config) as store:
            made = create_token(store, role, user_id=user_id, name=name)
            target = f"user#{user_hash(user_id)[:16]}" if user_id else made["principal"]
            store.audit(_cli_actor(), "admin", f"add-token {role}", target)
        if json_:
            emit_json(made)
            return
        stdout.print(made["token"], highlight=False, soft_wrap=True)
        console.print(
            f"token {made['token_id']} for {made['principal']} (role {made['role']}"
            + (f", user {made['user_id']}" if made["user_id"] else "")
            + "). Shown once: store it now. Send it as `Authorization: Bearer <token>`."
        )

    @auth.command("list")
    def list_tokens(config: ConfigOption = None, json_: JsonFlag = False) -> None:
        """Every token: id, principal, role, user, created, revoked (never the token or its hash)."""
        with user_errors(), _store(config) as store:
            rows = store.tokens()
        if json_:
            emit_json(rows)
            return
        from rich.table import Table

        t = Table(title=f"trustrec API tokens ({sum(r['revoked'] is None for r in rows)} live)")
        for col in ("token id", "principal", "role", "user", "created", "revoked"):
            t.add_column(col)
        for r in rows:
            t.add_row(
                r["token_id"], r["principal"], r["role"], r["user_id"] or "", _when(r["created"]), _when(r["revoked"])
            )
        stdout.print(t)

    @auth.command("revoke")
    def revoke(
        token: Annotated[str, typer.Argument(help="A token id (tok_...) or a principal name (all its tokens).")],
        config: ConfigOption = None,
    ) -> None:
        """Revoke a token at once (requests with it get 401)."""
        with user_errors(), _store(config) as store:
            if not store.revoke_token(token):
                raise NotFound(f"no live token or principal {token!r}; see `trustrec auth list`")
            from catalog.store import user_hash

            target = token if token.startswith("tok_") else f"principal#{user_hash(token)[:16]}"
            store.audit(_cli_actor(), "admin", "revoke", target)
        console.print(f"[green]revoked[/] {token}")

    @auth.command("audit")
    def audit(
        last: Annotated[int, typer.Option("--last", min=1, help="Show the last N entries.")] = 50,
        config: ConfigOption = None,
        json_: JsonFlag = False,
    ) -> None:
        """The append-only log of admin actions (who, what, when; user ids appear hashed)."""
        with user_errors(), _store(config) as store:
            rows = store.audit_log(last)
        if json_:
            emit_json(rows)
            return
        from rich.table import Table

        t = Table(title="trustrec admin audit log")
        for col in ("when", "principal", "role", "action", "target", "outcome"):
            t.add_column(col)
        for r in rows:
            t.add_row(_when(r["at"]), r["principal"], r["role"], r["action"], r["target"], r["outcome"])
        stdout.print(t)
