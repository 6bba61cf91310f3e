"""``ragserve admin``: administer a running server through its admin API (``/api/v1/admin``).

Commands are RAGFlow's admin CLI statements, as words (``ragserve admin list users``,
``ragserve admin drop key <key> of <email>``) or typed into ``ragserve admin shell``, which
reads RAGFlow's statement syntax (``LIST USERS;``, ``CREATE USER 'a@b.c' 'pw';``). Both go
through one parser (``parse``) and one executor (``execute``). It talks HTTP only: nothing of
the server is imported.

Credentials, first found wins: ``--api-key`` (or ``RAGSERVE_ADMIN_API_KEY``), an
administrator's API key; ``--email``/``--password`` (or ``RAGSERVE_ADMIN_EMAIL``/
``RAGSERVE_ADMIN_PASSWORD``), which log in for this one command; the session saved by
``ragserve admin login`` (``$XDG_CONFIG_HOME/ragserve/admin.json``, mode 0600).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:9380"
PREFIX = "/api/v1/admin"
TIMEOUT_S = 60.0

out = Console()
err = Console(stderr=True)


class CommandError(Exception):
    """A command that failed: the message is for the user; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# --- the statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One admin statement: its pattern's name and its values (e-mails, keys, names)."""

    name: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grammar:
    name: str
    pattern: str
    """Keywords in capitals, ``[OF]`` a keyword that may be left out, ``<x>`` a value."""
    destructive: bool = False
    summary: str = ""

    def match(self, words: Sequence[str]) -> tuple[str, ...] | None:
        return _match(self.pattern.split(), list(words), ())


GRAMMAR = [
    Grammar("list_users", "LIST USERS", summary="every user"),
    Grammar("show_permission", "SHOW USER PERMISSION <email>", summary="a user's role and rights"),
    Grammar("show_user", "SHOW USER <email>", summary="one user"),
    Grammar("create_admin", "CREATE USER <email> <password> ADMIN", summary="an administrator"),
    Grammar("create_user", "CREATE USER <email> <password>", summary="a user"),
    Grammar("drop_user", "DROP USER <email>", True, "a user and all their data"),
    Grammar("alter_password", "ALTER USER PASSWORD <email> <password>", True, "set a password"),
    Grammar("alter_active", "ALTER USER ACTIVE <email> <on|off>", summary="(de)activate a user"),
    Grammar("alter_role", "ALTER USER <email> SET ROLE <admin|user>", summary="set the role"),
    Grammar("grant_admin", "GRANT ADMIN <email>", summary="make an administrator"),
    Grammar("revoke_admin", "REVOKE ADMIN <email>", True, "take the admin role away"),
    Grammar("list_datasets", "LIST DATASETS [OF] <email>", summary="a user's datasets"),
    Grammar("list_agents", "LIST AGENTS [OF] <email>", summary="a user's agents"),
    Grammar("list_services", "LIST SERVICES", summary="every service, checked now"),
    Grammar("show_service", "SHOW SERVICE <id>", summary="one service in detail"),
    Grammar("startup_service", "STARTUP SERVICE <id>"),
    Grammar("shutdown_service", "SHUTDOWN SERVICE <id>"),
    Grammar("restart_service", "RESTART SERVICE <id>"),
    Grammar("generate_key", "GENERATE KEY [FOR] [USER] <email>", summary="a new API key"),
    Grammar("list_keys", "LIST KEYS [OF] <email>", summary="a user's API keys"),
    Grammar("drop_key", "DROP KEY <key> [OF] <email>", True, "delete an API key"),
    Grammar("set_var", "SET VAR <name> <value>", summary="set a system variable"),
    Grammar("show_var", "SHOW VAR <name>", summary="one system variable"),
    Grammar("list_vars", "LIST VARS", summary="the system variables"),
    Grammar("list_configs", "LIST CONFIGS", summary="the settings in force"),
    Grammar("list_envs", "LIST ENVS", summary="the server's environment"),
    Grammar("list_roles", "LIST ROLES", summary="the roles"),
    Grammar("list_audit", "LIST AUDIT", summary="the audit log, newest first"),
    Grammar("show_version", "SHOW VERSION", summary="the server's version"),
]
UNSUPPORTED = {"startup_service", "shutdown_service", "restart_service"}


def _match(pattern: list[str], words: list[str], taken: tuple[str, ...]) -> tuple[str, ...] | None:
    if not pattern:
        return taken if not words else None
    head, rest = pattern[0], pattern[1:]
    if head.startswith("<"):
        return _match(rest, words[1:], (*taken, words[0])) if words else None
    optional = head.startswith("[")
    keyword = head.strip("[]")
    if words and words[0].upper() == keyword:
        found = _match(rest, words[1:], taken)
        if found is not None:
            return found
    return _match(rest, words, taken) if optional else None


def parse(words: Sequence[str]) -> Statement:
    """The statement ``words`` spell (keywords in any case); a ``CommandError`` otherwise."""
    for grammar in GRAMMAR:
        values = grammar.match(words)
        if values is not None:
            return Statement(grammar.name, values)
    raise CommandError(f"Unknown statement: {' '.join(words)!s}. Type \\? for the list.", 2)


TOKEN = re.compile(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(;)|([^\s;'"]+))""")


def tokenize(text: str) -> Iterator[list[str]]:
    """RAGFlow's statement syntax: words and quoted strings, each statement ended by ``;``.
    Yields the words of each complete statement; a trailing unfinished one is an error."""
    words: list[str] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        found = TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise CommandError(f"Cannot read: {text[position:]}", 2)
        position = found.end()
        single, double, end, bare = found.groups()
        if end:
            if words:
                yield words
            words = []
        else:
            quoted = single if single is not None else double
            words.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare)
    if words:
        raise CommandError(f"Missing ';' after: {' '.join(words)}", 2)


# --- the connection ----------------------------------------------------------------------------


def session_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ragserve" / "admin.json"


@dataclass
class Options:
    url: str | None = None
    api_key: str | None = None
    email: str | None = None
    password: str | None = None
    json_output: bool = False
    yes: bool = False

    def with_flags(self, *, json_output: bool, yes: bool) -> Options:
        """These options with a command's own ``--json``/``--yes`` added."""
        return replace(self, json_output=self.json_output or json_output, yes=self.yes or yes)


@dataclass
class Client:
    """The admin API of one server, with the credential to send."""

    url: str
    authorization: str
    http: httpx.Client = field(repr=False)

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any
    ) -> Any:
        try:
            response = self.http.request(
                method,
                self.url.rstrip("/") + PREFIX + path,
                json=body,
                params=params or None,
                headers={"Authorization": self.authorization},
            )
        except httpx.TransportError as error:
            raise CommandError(f"Cannot reach {self.url}: {error}") from error
        return answer(response)


def answer(response: httpx.Response) -> Any:
    try:
        payload = response.json()
    except ValueError:
        raise CommandError(
            f"HTTP {response.status_code} from the server, not the admin API"
        ) from None
    if response.status_code == 401:
        raise CommandError("Not logged in, or the session ended: run `ragserve admin login`.")
    if payload.get("code") != 0:
        raise CommandError(str(payload.get("message")))
    return payload.get("data")


def log_in(http: httpx.Client, url: str, email: str, password: str) -> str:
    """A new admin session's token."""
    try:
        response = http.post(
            url.rstrip("/") + PREFIX + "/login", json={"email": email, "password": password}
        )
    except httpx.TransportError as error:
        raise CommandError(f"Cannot reach {url}: {error}") from error
    answer(response)
    return response.headers["Authorization"]


def connect(options: Options, http: httpx.Client) -> Client:
    saved: dict[str, str] = {}
    path = session_path()
    if path.is_file():
        saved = json.loads(path.read_text())
    url = options.url or os.environ.get("RAGSERVE_URL") or saved.get("url") or DEFAULT_URL
    api_key = options.api_key or os.environ.get("RAGSERVE_ADMIN_API_KEY")
    if api_key:
        return Client(url, f"Bearer {api_key}", http)
    email = options.email or os.environ.get("RAGSERVE_ADMIN_EMAIL")
    if email:
        password = options.password or os.environ.get("RAGSERVE_ADMIN_PASSWORD")
        if password is None:
            password = typer.prompt("Password", hide_input=True)
        return Client(url, log_in(http, url, email, password), http)
    if saved.get("token") and (options.url is None or options.url == saved.get("url")):
        return Client(saved["url"], saved["token"], http)
    raise CommandError(
        "No admin credentials: run `ragserve admin login`, or pass --api-key or --email.", 2
    )


# --- running statements ------------------------------------------------------------------------


def _quoted(value: str) -> str:
    return quote(value, safe="@")


def _requests(statement: Statement) -> tuple[str, str, dict[str, Any] | None, dict[str, Any]]:
    """(method, path, body, query) of the admin API call that runs the statement."""
    v = [_quoted(value) for value in statement.values]
    raw = statement.values
    table: dict[str, tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = {
        "list_users": ("GET", "/users", None, {}),
        "show_user": ("GET", f"/users/{v[0]}" if v else "", None, {}),
        "show_permission": ("GET", f"/users/{v[0]}/permission" if v else "", None, {}),
        "list_datasets": ("GET", f"/users/{v[0]}/datasets" if v else "", None, {}),
        "list_agents": ("GET", f"/users/{v[0]}/agents" if v else "", None, {}),
        "drop_user": ("DELETE", f"/users/{v[0]}" if v else "", None, {}),
        "grant_admin": ("PUT", f"/users/{v[0]}/admin" if v else "", None, {}),
        "revoke_admin": ("DELETE", f"/users/{v[0]}/admin" if v else "", None, {}),
        "generate_key": ("POST", f"/users/{v[0]}/keys" if v else "", None, {}),
        "list_keys": ("GET", f"/users/{v[0]}/keys" if v else "", None, {}),
        "list_services": ("GET", "/services", None, {}),
        "show_service": ("GET", f"/services/{v[0]}" if v else "", None, {}),
        "show_var": ("GET", f"/variables/{v[0]}" if v else "", None, {}),
        "list_vars": ("GET", "/variables", None, {}),
        "list_configs": ("GET", "/configs", None, {}),
        "list_envs": ("GET", "/environments", None, {}),
        "list_roles": ("GET", "/roles", None, {}),
        "list_audit": ("GET", "/audit", None, {}),
        "show_version": ("GET", "/version", None, {}),
    }
    if statement.name in table:
        return table[statement.name]
    if statement.name in ("create_user", "create_admin"):
        role = "admin" if statement.name == "create_admin" else "user"
        return "POST", "/users", {"username": raw[0], "password": raw[1], "role": role}, {}
    if statement.name == "alter_password":
        return "PUT", f"/users/{v[0]}/password", {"new_password": raw[1]}, {}
    if statement.name == "alter_active":
        return "PUT", f"/users/{v[0]}/activate", {"activate_status": raw[1].lower()}, {}
    if statement.name == "alter_role":
        return "PUT", f"/users/{v[0]}/role", {"role_name": raw[1].lower()}, {}
    if statement.name == "drop_key":
        return "DELETE", f"/users/{v[1]}/keys/{v[0]}", None, {}
    if statement.name == "set_var":
        return "PUT", "/variables", {"var_name": raw[0], "var_value": raw[1]}, {}
    raise CommandError(f"{statement.name} has no request")  # pragma: no cover - GRAMMAR is closed


def is_destructive(statement: Statement) -> bool:
    grammar = next(g for g in GRAMMAR if g.name == statement.name)
    turning_off = statement.name == "alter_active" and statement.values[1].lower() == "off"
    return grammar.destructive or turning_off


def execute(client: Client, statement: Statement) -> Any:
    if statement.name in UNSUPPORTED:
        verb = statement.name.split("_")[0]
        raise CommandError(
            f"{verb.upper()} SERVICE isn't implemented: ragserve does not start or stop "
            "services remotely."
        )
    method, path, body, query = _requests(statement)
    return client.call(method, path, body, **query)


def confirm(statement: Statement, options: Options, ask: Callable[[str], bool]) -> None:
    if options.yes or not is_destructive(statement):
        return
    text = " ".join(statement.name.split("_")).upper() + " " + " ".join(statement.values[:1])
    if not ask(f"{text.strip()}: are you sure?"):
        raise CommandError("Cancelled.", 1)


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CommandError("This changes or deletes data: confirm with --yes.", 2)
    return typer.confirm(question, default=False)


# --- output ------------------------------------------------------------------------------------


COLUMNS = {
    "list_users": ["email", "nickname", "role", "is_active", "dataset_count", "api_key_count"],
    "list_services": ["id", "name", "service_type", "backend", "status", "version", "latency_ms"],
    "list_vars": ["name", "value", "source", "updated_by"],
    "list_configs": ["name", "value"],
    "list_datasets": ["id", "name", "document_count", "chunk_count", "chunk_method"],
    "list_keys": ["token", "create_date"],
    "list_audit": ["create_date", "actor_email", "action", "target", "outcome", "detail"],
    "list_roles": ["role_name", "description"],
}
"""What a terminal table shows of each listing (``--json`` has every field)."""


def show(data: Any, json_output: bool, columns: list[str] | None = None) -> None:
    if json_output:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if isinstance(data, dict) and set(data) == {"total", "entries"}:
        data = data["entries"]
    if isinstance(data, list):
        if not data:
            typer.echo("(none)")
            return
        columns = columns or list(data[0])
        table = Table(*columns)
        for row in data:
            table.add_row(*(_cell(row.get(column)) for column in columns))
        out.print(table)
    elif isinstance(data, dict):
        table = Table("field", "value")
        for key, value in data.items():
            table.add_row(key, _cell(value))
        out.print(table)
    elif data is True:
        typer.echo("Done.")
    else:
        typer.echo(str(data))


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


# --- the typer application ---------------------------------------------------------------------

app = typer.Typer(
    help="Administer a ragserve server remotely through its admin API (superusers only).",
    no_args_is_help=True,
)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
YesFlag = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting.")]


class _State:
    options = Options()


@app.callback()
def _main(
    url: Annotated[str | None, typer.Option(help="Server URL (also RAGSERVE_URL).")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="An administrator's API key (also RAGSERVE_ADMIN_API_KEY).")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Log in as this administrator (also RAGSERVE_ADMIN_EMAIL).")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Their password (also RAGSERVE_ADMIN_PASSWORD).")
    ] = None,
    json_output: JsonFlag = False,
    yes: YesFlag = False,
) -> None:
    _State.options = Options(url, api_key, email, password, json_output, yes)


def _run_words(verb: str, words: list[str], *, json_output: bool, yes: bool) -> None:
    options = _State.options.with_flags(json_output=json_output, yes=yes)
    with httpx.Client(timeout=TIMEOUT_S) as http:
        try:
            statement = parse([verb, *words])
            confirm(statement, options, _ask)
            data = execute(connect(options, http), statement)
            show(data, options.json_output, COLUMNS.get(statement.name))
        except CommandError as error:
            err.print(f"Error: {error}", markup=False, highlight=False)
            raise typer.Exit(error.status) from None


def _verb_help(verb: str) -> str:
    lines = [g.pattern.lower() for g in GRAMMAR if g.pattern.startswith(verb.upper() + " ")]
    return "Forms:\n\n" + "\n\n".join(f"ragserve admin {line}" for line in lines)


Words = Annotated[list[str], typer.Argument(help="The rest of the statement.", show_default=False)]


def _verb(verb: str, summary: str) -> None:
    def command(words: Words, json_output: JsonFlag = False, yes: YesFlag = False) -> None:
        _run_words(verb, words, json_output=json_output, yes=yes)

    command.__doc__ = f"{summary}\n\n{_verb_help(verb)}"
    app.command(verb)(command)


for _name, _summary in (
    ("list", "List users, services, variables, configs, environments, roles, the audit log."),
    ("show", "Show a user, a service, a variable, the version."),
    ("create", "Create a user."),
    ("drop", "Delete a user with all their data, or an API key (asks unless --yes)."),
    ("alter", "Change a user's password, state or role."),
    ("grant", "Make a user an administrator."),
    ("revoke", "Take the admin role from a user (asks unless --yes)."),
    ("generate", "Make an API key for a user."),
    ("set", "Set a system variable (applied at once, without a restart)."),
):
    _verb(_name, _summary)


@app.command()
def login(
    url: Annotated[str, typer.Option(help="Server URL.")] = DEFAULT_URL,
    email: Annotated[str, typer.Option(prompt=True, help="Administrator's e-mail.")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="Their password.")
    ] = "",
) -> None:
    """Log in and save the session (``$XDG_CONFIG_HOME/ragserve/admin.json``, mode 0600)."""
    with httpx.Client(timeout=TIMEOUT_S) as http:
        try:
            token = log_in(http, url, email, password)
        except CommandError as error:
            err.print(f"Error: {error}", markup=False, highlight=False)
            raise typer.Exit(error.status) from None
    path = session_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as saved:
        json.dump({"url": url, "token": token}, saved)
    err.print(f"Logged in to {url} as {email}.", highlight=False)


@app.command()
def logout() -> None:
    """End the saved session on the server and forget it."""
    path = session_path()
    if path.is_file():
        saved = json.loads(path.read_text())
        with httpx.Client(timeout=TIMEOUT_S) as http:
            try:
                Client(saved["url"], saved["token"], http).call("GET", "/logout")
            except CommandError as error:
                err.print(f"The server says: {error}", markup=False, highlight=False)
        path.unlink()
    err.print("Logged out.")


@app.command()
def shell(json_output: JsonFlag = False, yes: YesFlag = False) -> None:
    """Read statements in RAGFlow's syntax (``LIST USERS;``) from the terminal or a pipe;
    ``\\?`` lists them, ``\\q`` quits. Exits 1 if any statement failed."""
    options = _State.options.with_flags(json_output=json_output, yes=yes)
    with httpx.Client(timeout=TIMEOUT_S) as http:
        try:
            client = connect(options, http)
        except CommandError as error:
            err.print(f"Error: {error}", markup=False, highlight=False)
            raise typer.Exit(error.status) from None
        failed = run_shell(client, options)
    raise typer.Exit(1 if failed else 0)


HELP_TEXT = "\n".join(
    [
        "Statements end with ';'. Values may be quoted: 'a@b.c'. Keywords in any case.",
        *(f"  {g.pattern};" for g in GRAMMAR if g.name not in UNSUPPORTED),
        "  \\?  this list      \\q  quit",
    ]
)


def run_shell(client: Client, options: Options) -> bool:
    """Run the statements read from stdin; whether any failed."""
    interactive = sys.stdin.isatty()
    failed = False
    pending = ""
    while True:
        if interactive:
            line = typer.prompt(
                "ragserve" if not pending else "     ...",
                prompt_suffix="> ",
                default="",
                show_default=False,
            )
        else:
            line = sys.stdin.readline()
            if not line:
                break
        stripped = line.strip()
        if not pending.strip():
            pending = ""
        if not pending and stripped in ("\\q", "\\quit", "exit", "quit"):
            break
        if not pending and stripped in ("\\?", "\\h", "help"):
            typer.echo(HELP_TEXT)
            continue
        pending += line + ("\n" if interactive else "")
        if ";" not in pending:
            continue
        text, _, pending = pending.rpartition(";")
        failed |= not _run_text(client, options, text + ";")
    if pending.strip():
        err.print(f"Error: missing ';' after: {pending.strip()}", markup=False, highlight=False)
        failed = True
    return failed


def _run_text(client: Client, options: Options, text: str) -> bool:
    ok = True
    try:
        statements = list(tokenize(text))
    except CommandError as error:
        err.print(f"Error: {error}", markup=False, highlight=False)
        return False
    for words in statements:
        try:
            statement = parse(words)
            confirm(statement, options, _ask)
            show(execute(client, statement), options.json_output, COLUMNS.get(statement.name))
        except CommandError as error:
            err.print(f"Error: {error}", markup=False, highlight=False)
            ok = False
    return ok


def run(args: list[str]) -> None:
    """``ragserve admin <args>`` (``cli.py`` hands the arguments over)."""
    app(args=args, prog_name="ragserve admin")
