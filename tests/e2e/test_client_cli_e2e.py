"""The client commands of ``ragserve`` as a user runs them: subprocesses without a terminal,
against a real server whose chat model is the fake provider."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.fake_openai import FakeOpenAI
from helpers.server import RunningServer, running_server
from helpers.terminal import Terminal

pytestmark = pytest.mark.e2e

FACT = "Barn owls hunt at night by sound alone."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=lambda messages: FACT) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[RunningServer]:
    env = fake.server_env("sk-e2e")
    with running_server(tmp_path_factory.mktemp("cli") / "home", env) as running:
        yield running


@pytest.fixture(scope="module")
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg")


def environment(config_home: Path, **env: str) -> dict[str, str]:
    """This environment without ``RAGSERVE_*`` settings, with ``PYTHONPATH`` absolute (commands
    run in other directories too)."""
    found = {key: value for key, value in os.environ.items() if not key.startswith("RAGSERVE_")}
    if found.get("PYTHONPATH"):
        paths = found["PYTHONPATH"].split(os.pathsep)
        found["PYTHONPATH"] = os.pathsep.join(str(Path(path).resolve()) for path in paths)
    return {**found, "XDG_CONFIG_HOME": str(config_home), **env}


def cli(
    config_home: Path, *args: str, stdin: str | None = None, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``ragserve <args>`` with no terminal (stdin empty, or ``stdin``), a narrow ``COLUMNS``
    (which must not wrap anything) and its own config directory."""
    done = subprocess.run(
        [sys.executable, "-m", "ragserve", *args],
        env=environment(config_home, **{"COLUMNS": "60", **env}),
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        cwd=cwd,
    )
    assert "\x1b[" not in done.stdout + done.stderr, "control codes without a terminal"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_client_commands(server: RunningServer, config_home: Path, tmp_path: Path) -> None:
    missing = cli(config_home, "dataset", "list")
    assert missing.returncode == 2 and "No API key" in missing.stderr

    login = cli(config_home, "login", "--url", server.base_url, "--api-key", server.api_key)
    assert login.returncode == 0, login.stderr
    saved = config_home / "ragserve" / "client.json"
    assert json.loads(saved.read_text()) == {"url": server.base_url, "api_key": server.api_key}
    assert saved.stat().st_mode & 0o777 == 0o600

    [dataset] = as_json(cli(config_home, "dataset", "create", "birds", "--json"))
    assert dataset["name"] == "birds" and dataset["chunks"] == 0

    folder = tmp_path / "docs"
    (folder / "more").mkdir(parents=True)
    (folder / "owls.md").write_text(f"# Owls\n\n{FACT} They rest by day.")
    (folder / "more" / "cranes.txt").write_text("Cranes migrate across continents in autumn.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    (folder / ".hidden").write_text("skipped")
    # --dataset takes the name as well as the id
    upload = cli(config_home, "doc", "upload", str(folder), "--dataset", "birds", "--json")
    assert upload.returncode == 1, upload.stderr
    outcomes = {Path(row["file"]).name: row for row in json.loads(upload.stdout)}
    assert set(outcomes) == {"owls.md", "cranes.txt", "broken.pdf"}
    assert outcomes["owls.md"]["run"] == outcomes["cranes.txt"]["run"] == "DONE"
    assert outcomes["owls.md"]["chunks"] >= 1 and outcomes["owls.md"]["name"] == "owls.md"
    assert outcomes["broken.pdf"]["run"] == "FAIL" and outcomes["broken.pdf"]["message"]
    assert "1 of 3 file(s) failed." in upload.stderr

    plain = cli(config_home, "doc", "list", "--dataset", dataset["id"])
    assert plain.returncode == 0 and "owls.md" in plain.stdout and "DONE" in plain.stdout
    documents = {d["name"]: d for d in as_json(cli(config_home, "doc", "list", "-d", "birds",
                                                   "--json"))}  # fmt: skip
    owls = documents["owls.md"]["id"]
    chunks = as_json(cli(config_home, "chunk", "list", "-d", dataset["id"], "--doc", owls,
                         "--keywords", "hunting", "--json"))  # fmt: skip
    assert len(chunks) == 1 and "<em>hunt</em>" in chunks[0]["content"]
    by_name = as_json(
        cli(config_home, "chunk", "list", "-d", "birds", "--doc", "owls.md", "--json")
    )
    assert [c["id"] for c in by_name] == [c["id"] for c in as_json(cli(
        config_home, "chunk", "list", "-d", "birds", "--doc", owls, "--json"))]  # fmt: skip

    [hit, *_] = as_json(cli(config_home, "retrieve", "How do owls hunt?", "-d", "birds", "--json"))
    [stored] = as_json(cli(config_home, "chunk", "list", "-d", "birds", "--doc", owls, "--json"))
    assert hit["rank"] == 1 and hit["document_name"] == "owls.md" and hit["document_id"] == owls
    assert hit["chunk_id"] == stored["id"] and hit["content"] == stored["content"]
    assert hit["dataset_id"] == dataset["id"]
    assert 0 < hit["similarity"] <= 1 and hit["vector_similarity"] and hit["term_similarity"]
    table = cli(config_home, "retrieve", "How do owls hunt?", "-d", dataset["id"])
    assert table.returncode == 0 and "owls.md" in table.stdout

    [chat] = as_json(cli(config_home, "chat", "create", "owl expert", "-d", "birds", "--json"))
    assert any(c["id"] == chat["id"] for c in as_json(cli(config_home, "chat", "list", "--json")))
    asked = cli(config_home, "ask", "How do owls hunt?", "--chat", "owl expert")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith(FACT)
    assert "Sources:" in asked.stdout and "[0] owls.md" in asked.stdout
    answer = as_json(cli(config_home, "ask", "And owls?", "--chat", chat["id"], "--json"))
    assert answer["answer"].startswith(FACT) and answer["sources"]

    renamed = cli(config_home, "dataset", "update", "birds", "--name", "raptors")
    assert renamed.returncode == 0, renamed.stderr
    assert as_json(cli(config_home, "dataset", "list", "--json"))[0]["name"] == "raptors"

    # deleting asks first: no answer (or "n") deletes nothing; "y" or --yes deletes
    unanswered = cli(config_home, "doc", "delete", "owls.md", "-d", "raptors")
    assert unanswered.returncode == 1 and "Delete owls.md" in unanswered.stderr
    assert "Nothing deleted" in unanswered.stderr
    declined = cli(config_home, "chat", "delete", "owl expert", stdin="n\n")
    assert declined.returncode == 1 and "Nothing deleted" in declined.stderr
    assert (
        cli(config_home, "doc", "delete", "owls.md", "-d", "raptors", stdin="y\n").returncode == 0
    )
    assert "owls.md" not in cli(config_home, "doc", "list", "-d", "raptors").stdout
    assert cli(config_home, "chat", "delete", "owl expert", "--yes").returncode == 0
    assert as_json(cli(config_home, "chat", "list", "--json")) == []
    kept = cli(config_home, "dataset", "delete", "raptors", stdin="no\n")
    assert kept.returncode == 1 and len(as_json(cli(config_home, "dataset", "list", "--json"))) == 1
    assert cli(config_home, "dataset", "delete", dataset["id"], "-y").returncode == 0
    assert as_json(cli(config_home, "dataset", "list", "--json")) == []

    wrong = cli(config_home, "dataset", "list", "--api-key", "ragflow-wrong")
    assert wrong.returncode == 1 and wrong.stderr.startswith("Error:")
    unreachable = cli(config_home, "dataset", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "Cannot reach the server" in unreachable.stderr


def test_unknown_names_and_ids_do_not_exist(server: RunningServer, tmp_path: Path) -> None:
    """An unknown name or id, or another user's, says it does not exist (the server's own texts
    are about UUID formats and permissions)."""
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    note = tmp_path / "note.md"
    note.write_text("A note.")
    for args, what in [
        (("doc", "list", "-d", "nope"), "Dataset nope"),
        (("doc", "list", "-d", "0123456789abcdef0123456789abcdef"),
         "Dataset 0123456789abcdef0123456789abcdef"),
        (("doc", "upload", str(note), "-d", "nope"), "Dataset nope"),
        (("retrieve", "anything", "-d", "nope"), "Dataset nope"),
        (("chat", "create", "c", "-d", "nope"), "Dataset nope"),
        (("dataset", "update", "nope", "--name", "x"), "Dataset nope"),
        (("dataset", "delete", "nope", "--yes"), "Dataset nope"),
        (("ask", "hello", "--chat", "nope"), "Chat nope"),
        (("chat", "delete", "0123456789abcdef0123456789abcdef", "--yes"),
         "Chat 0123456789abcdef0123456789abcdef"),
    ]:  # fmt: skip
        done = cli(config_home, *args, **key)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr == f"Error: {what} does not exist.\n", (args, done.stderr)
        assert "permission" not in done.stderr and "UUID" not in done.stderr


def test_skip_existing_and_stored_names(server: RunningServer, tmp_path: Path) -> None:
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    assert cli(config_home, "dataset", "create", "backups", "-q", **key).returncode == 0
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "backup.md").write_text("# Backups\n\nBackups run nightly at two.")
    (folder / "restore.md").write_text("# Restores\n\nRestores take an hour.")
    first = cli(config_home, "doc", "upload", str(folder / "backup.md"), "-d", "backups",
                "--no-parse", **key)  # fmt: skip
    assert first.returncode == 0, first.stderr

    # without --skip-existing, the server stores a second backup.md as backup(1).md
    again = cli(config_home, "doc", "upload", str(folder / "backup.md"), "-d", "backups",
                "--no-parse", **key)  # fmt: skip
    assert again.returncode == 0 and "backup(1).md" in again.stdout, again.stdout
    assert f"uploaded {folder / 'backup.md'} as backup(1).md" in again.stderr

    # with it, backup.md is not uploaded again but parsed (it never was), restore.md is new
    retry = cli(config_home, "doc", "upload", str(folder), "-d", "backups", "--skip-existing",
                "--json", **key)  # fmt: skip
    assert retry.returncode == 0, retry.stderr
    rows = {row["name"]: row for row in json.loads(retry.stdout)}
    assert set(rows) == {"backup.md", "restore.md"}
    assert rows["backup.md"]["message"] == "already in the dataset"
    assert rows["backup.md"]["run"] == rows["restore.md"]["run"] == "DONE"
    names = sorted(d["name"] for d in as_json(cli(config_home, "doc", "list", "-d", "backups",
                                                  "--json", **key)))  # fmt: skip
    assert names == ["backup(1).md", "backup.md", "restore.md"]


def test_listings_at_80_columns_keep_whole_ids(server: RunningServer, tmp_path: Path) -> None:
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    long_name = "a dataset whose name is far too long for one narrow terminal column"
    made = cli(config_home, "dataset", "create", long_name, "-q", **key)
    assert made.returncode == 0, made.stderr
    dataset_id = made.stdout.strip()
    env = environment(config_home, **key)
    with Terminal(["dataset", "list"], env, columns=80) as term:
        assert term.wait() == 0, term.text
    lines = term.text.splitlines()
    assert any(dataset_id in line for line in lines), term.text
    assert all(len(line) <= 80 for line in lines), term.text
    assert "embedding_model" not in term.text  # dropped before anything wraps or an id is cut
    with Terminal(["dataset", "list"], env, columns=200) as wide:
        assert wide.wait() == 0
    assert "embedding_model" in wide.text and long_name in wide.text
    with Terminal(["doc", "list", "-d", dataset_id], env, columns=40) as narrow:
        assert narrow.wait() == 0
    assert "(none)" in narrow.text


def test_no_terminal_never_wraps_a_path(server: RunningServer, tmp_path: Path) -> None:
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": server.base_url, "RAGSERVE_API_KEY": server.api_key}
    assert cli(config_home, "dataset", "create", "paths", "-q", **key).returncode == 0
    deep = tmp_path / ("directory-with-a-long-name-" * 4) / ("and-another-one-" * 4)
    deep.mkdir(parents=True)
    path = deep / "a-file-with-a-long-name-too.md"
    path.write_text("# Long\n\nA file deep down.")
    done = cli(config_home, "doc", "upload", str(path), "-d", "paths", "--no-parse", **key)
    assert done.returncode == 0, done.stderr
    assert f"uploaded {path} (UPLOADED)\n" in done.stderr
    missing = cli(config_home, "doc", "upload", str(path) + ".gone", "-d", "paths", **key)
    assert f"warning: {path}.gone does not exist\n" in missing.stderr


def test_admin_commands_need_the_data_directory(server: RunningServer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("user", "list"), ("token", "create", "--email", server.email)):
        done = cli(tmp_path, *args, cwd=elsewhere)
        assert done.returncode == 1
        assert f"Data directory: {elsewhere / 'ragserve-data'}\n" in done.stderr
        assert f"no ragserve database in {elsewhere / 'ragserve-data'}" in done.stderr
        assert list(elsewhere.iterdir()) == []  # nothing created there
    found = cli(tmp_path, "user", "list", "--json", "--home", str(server.home), cwd=elsewhere)
    assert found.returncode == 0 and f"Data directory: {server.home}" in found.stderr
    assert [user["email"] for user in json.loads(found.stdout)] == [server.email]


def test_user_create_takes_the_password_without_showing_it(
    server: RunningServer, tmp_path: Path
) -> None:
    home = ["--home", str(server.home)]
    piped = cli(tmp_path, "user", "create", "--email", "piped@example.com", "--password-stdin",
                *home, stdin="piped-secret\n")  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    no_terminal = cli(tmp_path, "user", "create", "--email", "nobody@example.com", *home)
    assert no_terminal.returncode == 2 and "--password-stdin" in no_terminal.stderr

    with Terminal(["user", "create", "--email", "typed@example.com", *home],
                  environment(tmp_path)) as term:  # fmt: skip
        term.wait_for("Password: ")
        term.type("typed-secret\n")
        term.wait_for("Repeat for confirmation: ")
        term.type("typed-secret\n")
        assert term.wait() == 0, term.text
    assert "typed-secret" not in term.text  # not echoed

    for email, password in (("piped@example.com", "piped-secret"),
                            ("typed@example.com", "typed-secret")):  # fmt: skip
        login = httpx.post(server.base_url + "/v1/user/login",
                           json={"email": email, "password": password})  # fmt: skip
        assert login.json()["code"] == 0, login.text


def test_version_and_help(tmp_path: Path) -> None:
    from ragserve import __version__

    version = cli(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout == f"{__version__}\n"
    serve = cli(tmp_path, "serve", "--help", COLUMNS="200")
    for option, default in (("--host", "127.0.0.1"), ("--port", "9380"), ("--log-level", "info"),
                            ("--workers", "the number of CPUs"),
                            ("--home", "./ragserve-data")):  # fmt: skip
        [line] = [line for line in serve.stdout.splitlines() if f" {option} " in line]
        assert f"[default: {default}" in line, line
    create = cli(tmp_path, "user", "create", "--help", COLUMNS="200")
    assert "Display name. [default: the e-mail address before the @]" in create.stdout
    assert "--password-stdin" in create.stdout
    for args in (("user", "create"), ("doc", "upload"), ("serve",), ("dataset", "delete")):
        helped = cli(tmp_path, *args, "--help", COLUMNS="200")
        assert "<bool>" not in helped.stdout and "--help " in helped.stdout, helped.stdout


def test_ctrl_c_during_start_up_is_quiet(tmp_path: Path) -> None:
    """SIGINT at any moment once ``ragserve.__main__`` runs (before, Python and runpy are
    starting): no traceback, exit status 130. ``-X importtime`` tells when ``ctypes``, the first
    module ``ragserve.cli`` imports, is in; the delays after it land in the imports of the
    command line and then of the server stack (which ``user list`` imports)."""
    env = environment(tmp_path)
    for delay in (0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        process = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "ragserve", "user", "list", "--home",
             str(tmp_path / "h")],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:
            seen.append(line)
            if re.search(r"\|\s+ctypes$", line.rstrip()):
                break
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=120)
        stderr = "".join(seen) + rest
        assert "Traceback" not in stderr, (delay, stderr)
        # 130, or death by SIGINT itself (which a shell also reports as 130): CPython ends that
        # way when the interrupt lands where no Python code can catch it.
        assert process.returncode in (130, -signal.SIGINT), (delay, process.returncode, stderr)


EMBEDDING_MODEL = "fake-embed@OpenAI-API-Compatible"


@pytest.fixture(scope="module")
def held() -> Iterator[FakeOpenAI]:
    """A fake provider whose answers (embeddings too) wait until the test releases them."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def slow_server(
    tmp_path_factory: pytest.TempPathFactory, held: FakeOpenAI
) -> Iterator[RunningServer]:
    """A server that embeds with the held fake, four chunks a call: parsing waits for the test."""
    env = {**held.server_env("held"), "RAGSERVE_DEFAULT_EMBEDDING_MODEL": EMBEDDING_MODEL,
           "RAGSERVE_EMBEDDING_BATCH_SIZE": "4", "RAGSERVE_WORKERS": "1"}  # fmt: skip
    with running_server(tmp_path_factory.mktemp("slow") / "home", env) as running:
        yield running


def many_chunks(path: Path, sections: int) -> Path:
    path.write_text("\n\n".join(f"# Part {n}\n\n" + f"Paragraph {n} about owls. " * 60
                                 for n in range(sections)))  # fmt: skip
    return path


def test_progress_shows_chunks_while_embedding(
    slow_server: RunningServer, held: FakeOpenAI, tmp_path: Path
) -> None:
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": slow_server.base_url, "RAGSERVE_API_KEY": slow_server.api_key}
    assert cli(config_home, "dataset", "create", "progress", "-q", **key).returncode == 0
    document = many_chunks(tmp_path / "long.md", 12)
    pattern = r"Parsing long\.md: Embedded [1-9]\d*/\d+ chunks\."
    held.hold()
    try:
        with Terminal(["doc", "upload", str(document), "-d", "progress"],
                      environment(config_home, **key), columns=120) as term:  # fmt: skip
            # one call to the model at a time (the title's, then a batch of 4 chunks each),
            # each long enough for the command to poll
            while not re.search(pattern, term.text):
                held.wait_held(1)
                held.release()
                held.hold()
                time.sleep(2)
            held.release()
            assert term.wait() == 0, term.text[-3000:]
    finally:
        held.release()
    assert "DONE" in term.text


def test_ctrl_c_while_parsing_cancels_it(
    slow_server: RunningServer, held: FakeOpenAI, tmp_path: Path
) -> None:
    """As the SDK's parse_documents does: the parsing still running is cancelled, the command
    says so and how to go on, and exits 130 without a traceback."""
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": slow_server.base_url, "RAGSERVE_API_KEY": slow_server.api_key}
    assert cli(config_home, "dataset", "create", "interrupted", "-q", **key).returncode == 0
    document = many_chunks(tmp_path / "stopped.md", 4)
    held.hold()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragserve", "doc", "upload", str(document), "-d",
             "interrupted"],
            env=environment(config_home, **key), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        held.wait_held(1)  # uploaded, and parsing waits for the embedding model
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        held.release()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stdout == ""
    assert "Interrupted: cancelled the parsing of 1 document(s)" in stderr
    assert "--skip-existing" in stderr
    [row] = as_json(cli(config_home, "doc", "list", "-d", "interrupted", "--json", **key))
    assert row["run"] == "CANCEL"

    # the retry the message suggests: nothing uploaded again, the document parsed
    retry = cli(config_home, "doc", "upload", str(document), "-d", "interrupted",
                "--skip-existing", "--json", **key)  # fmt: skip
    assert retry.returncode == 0, retry.stderr
    [again] = json.loads(retry.stdout)
    assert again["document_id"] == row["id"] and again["run"] == "DONE"


@pytest.fixture(scope="module")
def failing_server(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI
) -> Iterator[RunningServer]:
    """A server whose chat model stops halfway through each streamed answer with an error."""
    with running_server(tmp_path_factory.mktemp("failing") / "home",
                        fake.server_env("midway")) as running:  # fmt: skip
        yield running


def test_a_failing_answer_is_an_error(failing_server: RunningServer, tmp_path: Path) -> None:
    config_home = tmp_path / "xdg"
    key = {"RAGSERVE_URL": failing_server.base_url, "RAGSERVE_API_KEY": failing_server.api_key}
    assert cli(config_home, "dataset", "create", "owls", "-q", **key).returncode == 0
    note = tmp_path / "owls.md"
    note.write_text(f"# Owls\n\n{FACT}")
    assert cli(config_home, "doc", "upload", str(note), "-d", "owls", **key).returncode == 0
    assert cli(config_home, "chat", "create", "owl", "-d", "owls", **key).returncode == 0
    for args in ((), ("--json",)):
        asked = cli(config_home, "ask", "How do owls hunt?", "--chat", "owl", *args, **key)
        assert asked.returncode == 1, asked.stdout
        assert asked.stderr.startswith("Error: ") and "server had an error" in asked.stderr
        assert "ERROR" not in asked.stdout and "Sources:" not in asked.stdout
        if args:
            assert asked.stdout == ""  # no JSON that could pass for an answer
