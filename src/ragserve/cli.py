"""The ``ragserve`` command: run the server and administer accounts and API tokens; the client
commands that talk to a running server live in ``client_cli``."""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ragserve import __version__, client_cli
from ragserve.bootstrap import build_runtime
from ragserve.errors import RagserveError
from ragserve.runtime import Runtime
from ragserve.services import tokens, users
from ragserve.services.tenancy import Caller, CredentialKind
from ragserve.settings import Settings, load_settings

app = typer.Typer(help="ragserve: a RAG engine with RAGFlow's HTTP API.", no_args_is_help=True)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (also RAGSERVE_CONFIG).", show_default=False),
]
HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (also RAGSERVE_HOME).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

_err = Console(stderr=True)


class _State:
    config: Path | None = None


@app.callback()
def _main(config: ConfigOption = None) -> None:
    _State.config = config


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(_State.config, **overrides)
    except (ValidationError, FileNotFoundError, ValueError) as error:
        _err.print(f"[red]Invalid settings:[/red] {error}")
        raise typer.Exit(2) from error


@contextmanager
def _runtime(home: Path | None) -> Iterator[Runtime]:
    runtime = build_runtime(_settings(home=home))
    try:
        yield runtime
    except RagserveError as error:  # str(): an internal error's detail, else the message
        _err.print(f"[red]Error:[/red] {error}")
        raise typer.Exit(1) from error
    finally:
        runtime.close()


def _owner(runtime: Runtime, email: str) -> Caller:
    with runtime.transaction() as session:
        user = users.find_user_by_email(session, email)
        if user is None:
            raise RagserveError(f"Email: {email} is not registered!")
        return Caller(user.id, user.id, CredentialKind.SESSION)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [default: 9380]")] = None,
    home: HomeOption = None,
) -> None:
    """Run the HTTP server."""
    from ragserve.app import create_app, run_server
    from ragserve.blas import use_one_blas_thread

    settings = _settings(host=host, port=port, home=home)
    _configure_logging(settings)
    use_one_blas_thread()
    application = create_app(settings)
    workers = _start_workers(settings) if settings.workers > 0 else None
    # What is loaded by now lives as long as the server. Out of the collector's sight, a full
    # collection scans a few thousand objects instead of ~170k: 70+ ms, a request's worth of
    # latency, whenever one strikes.
    gc.freeze()
    try:
        run_server(application, settings)
    finally:
        if workers is not None:
            workers.terminate()
            try:
                workers.wait(timeout=30)
            except subprocess.TimeoutExpired:
                workers.kill()


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _start_workers(settings: Settings) -> subprocess.Popen[bytes]:
    """``ragserve worker`` as a child process, with the same settings, that the kernel stops
    when the server dies, however it dies (Linux; elsewhere the server stops it on exit)."""
    command = [sys.executable, "-m", "ragserve"]
    if _State.config is not None:
        command += ["--config", str(_State.config)]
    command += ["worker", "--processes", str(settings.workers), "--home", str(settings.home)]
    return subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: S603


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@app.command()
def worker(
    processes: Annotated[
        int | None, typer.Option(help="Worker processes [default: setting `workers`]")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Run parsing workers (they take tasks from the queue the servers fill)."""
    from ragserve.worker import run_workers

    settings = _settings(home=home)
    _configure_logging(settings)
    run_workers(settings, processes or max(settings.workers, 1))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="E-mail address, the login name.")],
    password: Annotated[str, typer.Option(help="Password.")],
    nickname: Annotated[
        str | None, typer.Option(help="Display name [default: e-mail user].")
    ] = None,
    superuser: Annotated[bool, typer.Option("--superuser", help="Make an administrator.")] = False,
    home: HomeOption = None,
) -> None:
    """Create a user and the tenant it owns."""
    with _runtime(home) as runtime, runtime.transaction() as session:
        user = users.create_account(
            session,
            email=email,
            nickname=nickname or email.split("@")[0],
            password=password,
            defaults=runtime.tenant_defaults,
            superuser=superuser,
        )
        typer.echo(user.id)


@user_app.command("list")
def user_list(json_output: JsonOption = False, home: HomeOption = None) -> None:
    """List users."""
    with _runtime(home) as runtime, runtime.transaction() as session:
        rows = [
            {
                "id": user.id,
                "email": user.email,
                "nickname": user.nickname,
                "active": user.is_active,
                "superuser": user.is_superuser,
            }
            for user in users.list_users(session)
        ]
    _print_rows(rows, json_output)


@user_app.command("delete")
def user_delete(
    email: Annotated[str, typer.Option(help="E-mail address of the user.")],
    home: HomeOption = None,
) -> None:
    """Delete a user, its tenant and its API tokens."""
    with _runtime(home) as runtime, runtime.transaction() as session:
        users.delete_user(session, email)


@user_app.command("disable")
def user_disable(
    email: Annotated[str, typer.Option(help="E-mail address of the user.")],
    home: HomeOption = None,
) -> None:
    """Stop a user from logging in; its sessions and API tokens stop working."""
    with _runtime(home) as runtime, runtime.transaction() as session:
        users.set_active(session, email, active=False)


@user_app.command("enable")
def user_enable(
    email: Annotated[str, typer.Option(help="E-mail address of the user.")],
    home: HomeOption = None,
) -> None:
    """Let a disabled user log in again."""
    with _runtime(home) as runtime, runtime.transaction() as session:
        users.set_active(session, email, active=True)


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="E-mail address of the token's owner.")],
    home: HomeOption = None,
) -> None:
    """Create an API token; prints only the token."""
    with _runtime(home) as runtime:
        caller = _owner(runtime, email)
        with runtime.transaction() as session:
            made = tokens.create_token(session, caller)
    typer.echo(made.token)


@token_app.command("list")
def token_list(
    email: Annotated[str, typer.Option(help="E-mail address of the tokens' owner.")],
    json_output: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """List a user's API tokens (shortened: the full token is shown only at creation)."""
    with _runtime(home) as runtime:
        caller = _owner(runtime, email)
        with runtime.transaction() as session:
            rows = [
                {"token": record.token_prefix, "created": record.create_date.isoformat() + "Z"}
                for record in tokens.list_tokens(session, caller)
            ]
    _print_rows(rows, json_output)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token, in full or as listed.")],
    home: HomeOption = None,
) -> None:
    """Revoke an API token."""
    with _runtime(home) as runtime, runtime.transaction() as session:
        record = tokens.find_token(session, token)
        if record is None:
            raise RagserveError("Token not found!")
        owner = Caller(record.tenant_id, record.tenant_id, CredentialKind.API_TOKEN)
        tokens.revoke_token(session, owner, token)


def _print_rows(rows: list[dict[str, Any]], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("(none)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    Console().print(table)


client_cli.register(app)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def admin(ctx: typer.Context) -> None:
    """Administer a server remotely: users, API keys, services, variables (`admin --help`)."""
    from ragserve.admin_cli import run

    run(ctx.args)


def main() -> None:
    app(prog_name="ragserve")


if __name__ == "__main__":
    main()
