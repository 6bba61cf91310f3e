"""The ``ragserve`` command: run the server and administer accounts and API tokens; the client
commands that talk to a running server live in ``client_cli``.

Importing this module loads only the command line and the SDK: the server stack (``bootstrap``,
``services``, FastAPI, SQLAlchemy, the models) is imported inside the commands that need it, so
that a client command starts in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperOption

from ragserve import __version__, client_cli

if TYPE_CHECKING:
    from ragserve.runtime import Runtime
    from ragserve.services.tenancy import Caller
    from ragserve.settings import Settings


def _flag_type(option: TyperOption, ctx: Any) -> str | None:
    """The type shown in ``--help`` beside an option: none for a flag (``--json``, not
    ``--json <bool>``)."""
    if option.is_flag and option.metavar is None:
        return None
    return _option_type(option, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign,assignment]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


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
    typer.Option(
        "--home",
        help="Data directory (also RAGSERVE_HOME) " + escape("[default: ./ragserve-data]"),
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

_err = Console(stderr=True, soft_wrap=True, highlight=False)


class _State:
    config: Path | None = None


@app.callback()
def _main(
    config: ConfigOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _State.config = config


def _settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    from ragserve.settings import load_settings

    try:
        return load_settings(_State.config, **overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        _err.print(f"[red]Invalid settings:[/red] {escape(problems)}")
        raise typer.Exit(2) from error
    except (FileNotFoundError, ValueError) as error:
        _err.print(f"[red]Invalid settings:[/red] {escape(str(error))}")
        raise typer.Exit(2) from error


@contextmanager
def _configured() -> Iterator[None]:
    """Start-up of a server or worker: a setting whose backend cannot be used ends it with one
    line naming the setting, not a traceback."""
    from ragserve.errors import ConfigurationError

    try:
        yield
    except ConfigurationError as error:
        _err.print(f"[red]Error:[/red] {escape(str(error))}")
        raise typer.Exit(1) from error


def _sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file of the settings; ``None`` for a database server."""
    url = settings.resolved_database_url
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


@contextmanager
def _runtime(home: Path | None) -> Iterator[Runtime]:
    """The server's components for an admin command. The data directory is announced on
    stderr, and must already hold the database that ``ragserve serve`` creates: an admin command
    run from the wrong directory fails instead of creating an empty one there."""
    from ragserve.bootstrap import build_runtime
    from ragserve.errors import RagserveError

    settings = _settings(home=home)
    directory = settings.home.resolve()
    _err.print(f"Data directory: {directory}")
    database = _sqlite_file(settings)
    if database is not None and not database.is_file():
        _err.print(
            f"[red]Error:[/red] no ragserve database in {escape(str(directory))} "
            f"({escape(str(database))} does not exist). Run the command where the server's data "
            "directory is, or name it with --home or RAGSERVE_HOME; `ragserve serve` creates "
            "it on its first start."
        )
        raise typer.Exit(1)
    with _configured():
        runtime = build_runtime(settings)
    try:
        yield runtime
    except RagserveError as error:  # str(): an internal error's detail, else the message
        _err.print(f"[red]Error:[/red] {escape(str(error))}")
        raise typer.Exit(1) from error
    finally:
        runtime.close()


def _owner(runtime: Runtime, email: str) -> Caller:
    from ragserve.errors import RagserveError
    from ragserve.services import users
    from ragserve.services.tenancy import Caller, CredentialKind

    with runtime.transaction() as session:
        user = users.find_user_by_email(session, email)
        if user is None:
            raise RagserveError(f"Email: {email} is not registered!")
        return Caller(user.id, user.id, CredentialKind.SESSION)


def _default(text: str) -> str:
    """`` [default: text]`` for a help text (escaped: Rich would take it for markup)."""
    return " " + escape(f"[default: {text}]")


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Listen address (also RAGSERVE_HOST)." + _default("127.0.0.1")),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (also RAGSERVE_PORT)." + _default("9380"))
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Worker processes for parsing; 0 parses inside the server (also "
            "RAGSERVE_WORKERS)." + _default(f"the number of CPUs, {os.cpu_count() or 1} here"),
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            help="debug, info, warning or error (also RAGSERVE_LOG_LEVEL)." + _default("info")
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Run the HTTP server (settings not given here come from RAGSERVE_* variables, then
    --config's file; see docs/configuration.md)."""
    from ragserve.app import create_app, run_server
    from ragserve.blas import use_one_blas_thread

    settings = _settings(host=host, port=port, home=home, workers=workers, log_level=log_level)
    _configure_logging(settings)
    use_one_blas_thread()
    _prepare_builtin_model(settings)
    with _configured():
        application = create_app(settings)
    worker_processes = _start_workers(settings) if settings.workers > 0 else None
    reaper = None
    if worker_processes is not None:
        from ragserve.worker import Reaper

        reaper = Reaper(application.state.runtime)
        reaper.start()
    # What is loaded by now lives as long as the server. Out of the collector's sight, a full
    # collection scans a few thousand objects instead of ~170k: 70+ ms, a request's worth of
    # latency, whenever one strikes.
    gc.freeze()
    try:
        run_server(application, settings)
    finally:
        if reaper is not None:
            reaper.stop()
        if worker_processes is not None:
            worker_processes.terminate()
            try:
                worker_processes.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker_processes.kill()


def _prepare_builtin_model(settings: Settings) -> None:
    """Build the int8 builtin model now (the first start after an install: ~10 s, once), so that
    no worker stops to build it. A failure is logged; the model's first use reports it."""
    from ragserve.models.builtin_minilm import onnx_model_path
    from ragserve.models.minilm_q8 import q8_model_path

    try:
        q8_model_path(onnx_model_path(), settings.resolved_models_dir)
    except Exception as error:  # the server runs on; embedding says why
        logging.getLogger("ragserve").warning("The builtin int8 model was not built: %s", error)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _start_workers(settings: Settings) -> subprocess.Popen[bytes]:
    """``ragserve worker`` (as ``python -m ragserve.worker``, without the command line's
    libraries) as a child process, with the same settings, that the kernel stops
    when the server dies, however it dies (Linux; elsewhere the server stops it on exit)."""
    command = [sys.executable, "-m", "ragserve.worker", "--no-reaper"]  # the server reaps
    if _State.config is not None:
        command += ["--config", str(_State.config)]
    command += ["--processes", str(settings.workers), "--home", str(settings.home)]
    environment = {**os.environ, "RAGSERVE_LOG_LEVEL": settings.log_level}
    # glibc gives each thread that allocates an arena of its own (up to 8 per core), and keeps
    # what a parse freed in them: 2 bound a worker's heap (its parse and embedding threads).
    environment.setdefault("MALLOC_ARENA_MAX", "2")
    return subprocess.Popen(command, env=environment, preexec_fn=_die_with_parent)  # noqa: S603


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@app.command()
def worker(
    processes: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes." + _default("the setting `workers`, at least 1")
        ),
    ] = None,
    home: HomeOption = None,
    reaper: Annotated[
        bool,
        typer.Option(
            hidden=True, help="Run the reaper of abandoned tasks (serve's workers: the server)."
        ),
    ] = True,
) -> None:
    """Run parsing workers (they take tasks from the queue the servers fill)."""
    from ragserve.bootstrap import check_backends
    from ragserve.worker import run_workers

    settings = _settings(home=home)
    _configure_logging(settings)
    with _configured():
        check_backends(settings)
    run_workers(settings, processes or max(settings.workers, 1), reaper=reaper)


@app.command("migrate-store")
def migrate_store(
    to: Annotated[
        str, typer.Option("--to", help="The PostgreSQL chunk store: a `postgresql://` URL.")
    ],
    home: HomeOption = None,
) -> None:
    """Copy the embedded chunk store (chunks and vectors, nothing embedded again) to PostgreSQL;
    run it again to resume. Stop the servers and workers first."""
    from ragserve import bootstrap

    settings = _settings(home=home, chunk_store_url=to)  # --to is checked as that setting
    _configure_logging(settings)
    if not (settings.home / "chunks.db").is_file():
        _err.print(f"[red]Error:[/red] no embedded chunk store in {escape(str(settings.home))}")
        raise typer.Exit(1)
    with _configured():
        report = bootstrap.migrate_store(settings, to, typer.echo)
    typer.echo(
        f"{report.datasets} datasets: {report.documents_copied} documents copied "
        f"({report.chunks_copied} chunks), {report.documents_skipped} already there"
    )


@app.command()
def version() -> None:
    """Print the version (as --version does)."""
    typer.echo(__version__)


def _new_password(password: str | None, from_stdin: bool) -> str:
    """The password from ``--password``, the first line of stdin, or asked for twice with
    hidden input on a terminal."""
    if password is not None and from_stdin:
        _err.print("Give either --password or --password-stdin.")
        raise typer.Exit(2)
    if password is not None:
        return password
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            _err.print("No password on stdin.")
            raise typer.Exit(2)
        return line
    if not sys.stdin.isatty():
        _err.print("No terminal to ask for the password: use --password-stdin.")
        raise typer.Exit(2)
    entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return entered


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="E-mail address, the login name.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="The password (visible to other users of the machine and kept in the shell's "
            "history: prefer the prompt or --password-stdin).",
            show_default=False,
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    nickname: Annotated[
        str | None,
        typer.Option(help="Display name." + _default("the e-mail address before the @")),
    ] = None,
    superuser: Annotated[bool, typer.Option("--superuser", help="Make an administrator.")] = False,
    home: HomeOption = None,
) -> None:
    """Create a user and the tenant it owns; without --password or --password-stdin, asks for
    the password (hidden, twice)."""
    from ragserve.services import users, variables

    with _runtime(home) as runtime:
        secret = _new_password(password, password_stdin)
        with runtime.transaction() as session:
            user = users.create_account(
                session,
                email=email,
                nickname=nickname or email.split("@")[0],
                password=secret,
                defaults=variables.tenant_defaults(session, runtime.settings),
                superuser=superuser,
            )
            typer.echo(user.id)


@user_app.command("list")
def user_list(json_output: JsonOption = False, home: HomeOption = None) -> None:
    """List users."""
    from ragserve.services import users

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
    from ragserve.services import users

    with _runtime(home) as runtime, runtime.transaction() as session:
        users.delete_user(session, email)


@user_app.command("disable")
def user_disable(
    email: Annotated[str, typer.Option(help="E-mail address of the user.")],
    home: HomeOption = None,
) -> None:
    """Stop a user from logging in; its sessions and API tokens stop working."""
    from ragserve.services import users

    with _runtime(home) as runtime, runtime.transaction() as session:
        users.set_active(session, email, active=False)


@user_app.command("enable")
def user_enable(
    email: Annotated[str, typer.Option(help="E-mail address of the user.")],
    home: HomeOption = None,
) -> None:
    """Let a disabled user log in again."""
    from ragserve.services import users

    with _runtime(home) as runtime, runtime.transaction() as session:
        users.set_active(session, email, active=True)


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="E-mail address of the token's owner.")],
    home: HomeOption = None,
) -> None:
    """Create an API token; prints only the token."""
    from ragserve.services import tokens
    from ragserve.services.secrets import SecretBox

    with _runtime(home) as runtime:
        caller = _owner(runtime, email)
        box = SecretBox(runtime.settings.signing_key())
        with runtime.transaction() as session:
            made = tokens.create_token(session, caller, box)
    typer.echo(made.token)


@token_app.command("list")
def token_list(
    email: Annotated[str, typer.Option(help="E-mail address of the tokens' owner.")],
    json_output: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """List a user's API tokens (shortened: the full token is shown only at creation)."""
    from ragserve.services import tokens

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
    from ragserve.errors import RagserveError
    from ragserve.services import tokens
    from ragserve.services.tenancy import Caller, CredentialKind

    with _runtime(home) as runtime, runtime.transaction() as session:
        record = tokens.find_token(session, token)
        if record is None:
            raise RagserveError("Token not found!")
        owner = Caller(record.tenant_id, record.tenant_id, CredentialKind.API_TOKEN)
        tokens.revoke_token(session, owner, token)


@app.command("mcp")
def mcp_stdio(
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="The API key whose datasets the tools see (also RAGSERVE_API_KEY).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Serve MCP over stdin/stdout for desktop clients: the ragserve_retrieval,
    ragserve_list_datasets and ragserve_list_documents tools, in this process, over the data
    directory, as the API key's tenant (see docs/cli.md)."""
    import anyio

    from ragserve.api.mcp_server import build_server
    from ragserve.services.auth import authenticate_api_key

    key = api_key or os.environ.get("RAGSERVE_API_KEY")
    if not key:
        _err.print("[red]Error:[/red] no API key: pass --api-key or set RAGSERVE_API_KEY.")
        raise typer.Exit(2)
    with _runtime(home) as runtime:
        with runtime.read() as session:
            authenticate_api_key(session, f"Bearer {key}")  # a bad key fails here, exit 1
        anyio.run(build_server(runtime, key).run_stdio_async)


def _print_rows(rows: list[dict[str, Any]], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    client_cli.show(rows, json_output=False)


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
