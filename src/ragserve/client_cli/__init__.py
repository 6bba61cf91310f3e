"""The client commands of ``ragserve``: talk to a running server through ``ragserve.sdk``.

The server and key come from ``--url``/``--api-key``, else ``RAGSERVE_URL``/``RAGSERVE_API_KEY``,
else the file ``ragserve login`` writes (``$XDG_CONFIG_HOME/ragserve/client.json``). Listings
take ``--json`` for scripts. ``--dataset`` and ``--chat`` take a name or an id, ``--agent`` a
title or an id. Without a
terminal, output is plain: no colours, no progress bars, and lines are not wrapped.
"""

from __future__ import annotations

import typer

from ragserve.client_cli import _commands, _upload
from ragserve.client_cli._agents import agent_app
from ragserve.client_cli._common import (
    chat_app,
    chunk_app,
    console,
    dataset_app,
    doc_app,
    find_chat,
    find_dataset,
    login,
    show,
)
from ragserve.client_cli._files import file_app
from ragserve.client_cli._memories import memory_app
from ragserve.client_cli._upload import parse_status

__all__ = ["console", "find_chat", "find_dataset", "parse_status", "register", "show"]


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``ragserve`` command."""
    app.command("login")(login)
    app.command("retrieve")(_commands.retrieve)
    app.command("ask")(_commands.ask)
    app.add_typer(dataset_app, name="dataset")
    doc_app.command("upload")(_upload.doc_upload)
    doc_app.command("list")(_commands.doc_list)
    doc_app.command("delete")(_commands.doc_delete)
    app.add_typer(doc_app, name="doc")
    app.add_typer(chunk_app, name="chunk")
    app.add_typer(chat_app, name="chat")
    app.add_typer(agent_app, name="agent")
    app.add_typer(file_app, name="file")
    app.add_typer(memory_app, name="memory")
