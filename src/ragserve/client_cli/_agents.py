"""``ragserve agent ...``: create agents from DSL files or the server's templates, list
them (and the templates), delete them, and run one."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from ragserve.client_cli._common import (
    ID_PATTERN,
    PAGE_SIZE,
    JsonOption,
    KeyOption,
    QuietOption,
    UrlOption,
    YesOption,
    client,
    connection,
    delete_after_asking,
    err,
    failures,
    find_datasets,
    out,
    show,
    show_created,
)
from ragserve.sdk import Agent, APIError, AuthenticationError, RAGFlow, RAGServeError

agent_app = typer.Typer(help="Create, list, delete and run agents.", no_args_is_help=True)

AgentOption = Annotated[str, typer.Option("--agent", "-a", help="Agent title or id.")]
AGENT_EXTRAS = ("updated", "description")
"""The columns ``agent list`` drops on a narrow terminal, first the first."""


def _listed(rag: RAGFlow, **query: Any) -> list[Agent]:
    """``list_agents(**query)``; an id or title the server does not know is an empty list."""
    try:
        return rag.list_agents(page_size=PAGE_SIZE, **query)
    except AuthenticationError:
        raise
    except APIError:
        return []


def find_agent(rag: RAGFlow, reference: str) -> Agent:
    """The agent with this id or, failing that, this title.

    :raises RAGServeError: no agent of the caller has either.
    """
    if ID_PATTERN.fullmatch(reference):
        found = _listed(rag, id=reference)
        if found:
            return found[0]
    titled = [agent for agent in _listed(rag, title=reference) if agent.title == reference]
    if not titled:
        raise RAGServeError(f"Agent {reference} does not exist.")
    return titled[0]


def read_agent_file(path: Path) -> tuple[dict[str, Any], str | None, str | None]:
    """The DSL, title and description of a file: a DSL (with ``components``), or an agent
    as RAGFlow exports one (``{"title", "description", "dsl"}``)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RAGServeError(f"Cannot read {path}: {error.strerror}.") from None
    except ValueError as error:
        raise RAGServeError(f"{path} is not JSON: {error}.") from None
    if not isinstance(loaded, dict):
        raise RAGServeError(f"{path} does not hold a JSON object.")
    if isinstance(loaded.get("dsl"), dict):
        return loaded["dsl"], loaded.get("title"), loaded.get("description")
    if "components" not in loaded:
        raise RAGServeError(f"{path} holds no agent DSL (no `components`).")
    return loaded, None, None


def _agent_row(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "title": getattr(agent, "title", ""),
        "description": agent.description or "",
        "updated": getattr(agent, "update_date", ""),
    }


def fetch_templates(url: str | None, api_key: str | None) -> list[dict[str, Any]]:
    """The server's agent templates (``GET /v1/canvas/templates``)."""
    found = connection(url, api_key)
    try:
        response = httpx.get(
            f"{found.url}/v1/canvas/templates",
            headers={"Authorization": f"Bearer {found.api_key}"},
            timeout=30.0,
        )
        body = response.json()
    except httpx.RequestError as error:
        raise RAGServeError(f"Cannot reach {found.url}: {error}.") from None
    except ValueError:
        raise RAGServeError(f"The server answered HTTP {response.status_code}.") from None
    listed = body.get("data") if isinstance(body, dict) and body.get("code") == 0 else None
    if not isinstance(listed, list):
        message = body.get("message") if isinstance(body, dict) else None
        raise RAGServeError(str(message or f"The server answered HTTP {response.status_code}."))
    return [t for t in listed if isinstance(t, dict)]


def _text(value: Any) -> str:
    """A template's title or description: the English one, else any."""
    if isinstance(value, dict):
        return str(value.get("en") or next(iter(value.values()), ""))
    return str(value or "")


def with_datasets(dsl: dict[str, Any], dataset_ids: list[str]) -> dict[str, Any]:
    """The DSL with every Retrieval (a component, or an Agent's tool at any depth) searching
    ``dataset_ids``."""

    def fill(params: Any) -> None:
        if not isinstance(params, dict):
            return
        for tool in params.get("tools") or []:
            if not isinstance(tool, dict) or not isinstance(tool.get("params"), dict):
                continue
            if tool.get("component_name") == "Retrieval":
                tool["params"]["kb_ids"] = list(dataset_ids)
            fill(tool["params"])

    filled: dict[str, Any] = json.loads(json.dumps(dsl))
    for node in (filled.get("components") or {}).values():
        obj = node.get("obj") if isinstance(node, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("params"), dict):
            continue
        if obj.get("component_name") == "Retrieval":
            obj["params"]["kb_ids"] = list(dataset_ids)
        fill(obj["params"])
    return filled


def template_agent(
    url: str | None, api_key: str | None, name: str
) -> tuple[dict[str, Any], str, str]:
    """The DSL, title and description of the server's template ``name``."""
    found = fetch_templates(url, api_key)
    for template in found:
        if template.get("id") == name:
            return template["dsl"], _text(template.get("title")), _text(template.get("description"))
    known = ", ".join(str(t.get("id")) for t in found) or "none"
    raise RAGServeError(f"No template {name}; the server has: {known}.")


@agent_app.command("create")
def agent_create(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="A DSL file (JSON).")] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", "-t", help="A template of the server (see `agent templates`)."),
    ] = None,
    datasets: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", help="Dataset name or id every Retrieval searches."),
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="Default: the file's or template's title, else its name.")
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create an agent from a DSL file (as RAGFlow's agent editor saves it) or from one of
    the server's templates; --dataset (repeatable) sets the datasets its Retrievals search."""
    with failures():
        if (file is None) == (template is None):
            raise RAGServeError("Give either --file or --template.")
        rag = client(url, api_key)
        if file is not None:
            dsl, given_title, given_description = read_agent_file(file)
            fallback = file.stem
        else:
            assert template is not None
            dsl, given_title, given_description = template_agent(url, api_key, template)
            fallback = template
        if datasets:
            dsl = with_datasets(dsl, [str(d.id) for d in find_datasets(rag, datasets)])
        chosen = title or given_title or fallback
        rag.create_agent(chosen, dsl, description=description or given_description)
        agent = find_agent(rag, chosen)
    show_created(agent.id, _agent_row(agent), json_output, quiet, optional=AGENT_EXTRAS)


@agent_app.command("templates")
def agent_templates(
    json_output: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List the agent templates of the server (for `agent create --template NAME`)."""
    with failures():
        found = fetch_templates(url, api_key)
    rows = [
        {
            "name": t.get("id", ""),
            "title": _text(t.get("title")),
            "type": t.get("canvas_type", ""),
            "description": _text(t.get("description")),
        }
        for t in found
    ]
    show(rows, json_output, optional=("description",))


@agent_app.command("list")
def agent_list(
    json_output: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """List your agents, last changed first."""
    with failures():
        agents = client(url, api_key).list_agents(page_size=PAGE_SIZE)
    show([_agent_row(a) for a in agents], json_output, optional=AGENT_EXTRAS)


@agent_app.command("delete")
def agent_delete(
    agents: Annotated[list[str], typer.Argument(help="Agent titles or ids.")],
    yes: YesOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete agents with their sessions and versions (asks first, unless --yes)."""
    with failures():
        rag = client(url, api_key)

        def delete(found: Sequence[Agent]) -> None:
            for agent in found:
                rag.delete_agent(str(agent.id))

        delete_after_asking(
            [find_agent(rag, agent) for agent in agents],
            yes,
            delete,
            question=lambda names: f"Delete agent(s) {names} with their sessions?",
            deleted="agent(s)",
            label=lambda a: f"{getattr(a, 'title', '')} ({a.id})",
        )


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The events of an agent's streamed answer, until ``[DONE]``."""
    for line in response.iter_lines():
        line = line.strip()
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _refusal(response: httpx.Response) -> RAGServeError:
    response.read()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return RAGServeError(str(body["message"]))
    return RAGServeError(f"The server answered HTTP {response.status_code}.")


class _Progress:
    """On a terminal, the components as they start (on stderr), until the answer begins."""

    def __init__(self, agent: Agent, shown: bool) -> None:
        dsl = agent.dsl.to_json() if hasattr(agent.dsl, "to_json") else {}
        components = dsl.get("components") or {}
        self.downstream = {
            cid: list(node.get("downstream") or []) for cid, node in components.items()
        }
        self.shown = shown
        if shown:
            err.print("▶ begin", style="dim")

    def finished(self, data: dict[str, Any]) -> None:
        if not self.shown:
            return
        component = str(data.get("component_id", ""))
        outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
        routed = outputs.get("_next") if outputs else None
        following = routed if isinstance(routed, list) else self.downstream.get(component, [])
        if following:
            err.print(f"▶ {', '.join(str(name) for name in following)}", style="dim")

    def stop(self) -> None:
        self.shown = False


@agent_app.command("run")
def agent_run(
    question: str,
    agent: AgentOption,
    session_id: Annotated[
        str | None, typer.Option("--session", help="Continue this session.")
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Run an agent on a question: the answer streams, then its sources. On a terminal, the
    components show on stderr as they start. A run that fails exits with status 1."""
    answer: list[str] = []
    references: dict[str, Any] = {}
    session = session_id
    failed = ""
    with failures():
        rag = client(url, api_key)
        found = find_agent(rag, agent)
        body: dict[str, Any] = {"question": question, "stream": True}
        if session_id:
            body["session_id"] = session_id
        response = rag.post(f"/agents/{found.id}/completions", json=body, stream=True)
        try:
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise _refusal(response)
            progress = _Progress(found, err.is_terminal and not json_output)
            for event in _events(response):
                session = event.get("session_id") or session
                data = event.get("data") if isinstance(event.get("data"), dict) else {}
                assert isinstance(data, dict)
                kind = event.get("event")
                if kind == "node_finished":
                    progress.finished(data)
                elif kind == "message" and isinstance(data.get("content"), str):
                    text = data["content"]
                    if text:
                        progress.stop()
                        answer.append(text)
                        if not json_output:
                            out.print(text, end="", soft_wrap=True, highlight=False)
                elif kind == "message_end":
                    reference = data.get("reference")
                    if isinstance(reference, dict) and reference.get("chunks"):
                        references.update(reference["chunks"])
        finally:
            response.close()
            if answer and not json_output:
                out.print()
    text = "".join(answer)
    if text.startswith("**ERROR**"):
        failed = text
    if json_output:
        typer.echo(json.dumps({"session_id": session, "answer": text, "sources": references},
                              ensure_ascii=False))  # fmt: skip
    else:
        if references:
            out.print("\nSources:")
            for key, chunk in references.items():
                name = chunk.get("document_name") or chunk.get("document_id", "")
                snippet = " ".join(str(chunk.get("content", "")).split())[:120]
                out.print(f"  [ID:{key}] {name}: {snippet}", highlight=False)
        out.print(f"\n(session {session})", style="dim")
    if failed:
        err.print("The agent run failed.", highlight=False)
        raise typer.Exit(1)
