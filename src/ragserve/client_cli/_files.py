"""``ragserve file ...``: the server's file manager (docs/files.md). A file or folder is named
by its id or by its path from the root folder (``/reports/2024/q1.pdf``; ``/`` is the root)."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from ragserve.client_cli._common import (
    ID_PATTERN,
    PAGE_SIZE,
    DatasetsOption,
    JsonOption,
    KeyOption,
    UrlOption,
    YesOption,
    client,
    delete_after_asking,
    failures,
    find_datasets,
    out,
    show,
)
from ragserve.sdk import RAGFlow, RAGServeError

file_app = typer.Typer(help="The file manager: folders, files, and adding them to datasets.",
                       no_args_is_help=True)  # fmt: skip

UPLOAD_BATCH = 100
FilesArgument = Annotated[list[str], typer.Argument(help="File or folder ids or /paths.")]
FolderOption = Annotated[
    str, typer.Option("--to", "-t", help="The folder: an id or a /path (default: the root).")
]


def _children(rag: RAGFlow, folder_id: str, keywords: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in range(1, sys.maxsize):
        listed = rag.list_files(folder_id, keywords=keywords, page=page, page_size=PAGE_SIZE)
        found += listed["files"]
        if len(listed["files"]) < PAGE_SIZE:
            break
    return found


def find_file(rag: RAGFlow, reference: str) -> dict[str, Any]:
    """The file or folder with this id, or at this /path.

    :raises RAGServeError: there is none.
    """
    if ID_PATTERN.fullmatch(reference):
        return rag.list_parent_folders(reference)[0]
    current = rag.get_root_folder()
    for part in [part for part in reference.split("/") if part]:
        named = [f for f in _children(rag, current["id"], part) if f["name"] == part]
        if not named:
            raise RAGServeError(f"{reference} does not exist.")
        current = named[0]
    return current


def find_folder(rag: RAGFlow, reference: str) -> dict[str, Any]:
    found = find_file(rag, reference)
    if found["type"] != "folder":
        raise RAGServeError(f"{reference} is not a folder.")
    return found


def _row(file: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": file["name"] + ("/" if file["type"] == "folder" else ""),
        "size": file["size"],
        "type": file["type"],
        "datasets": ", ".join(info["kb_name"] for info in file.get("kbs_info") or []),
        "id": file["id"],
    }


@file_app.command("list")
def file_list(
    folder: Annotated[str, typer.Argument(help="An id or a /path.")] = "/",
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List a folder (the root by default): its files and folders, and the datasets each file
    was added to."""
    with failures():
        rag = client(url, api_key)
        files = _children(rag, find_folder(rag, folder)["id"])
    if json_output:
        show(files, True)
        return
    show([_row(file) for file in files], False, optional=("datasets", "type"))


@file_app.command("mkdir")
def file_mkdir(
    path: Annotated[str, typer.Argument(help="The /path of the folder; missing parents too.")],
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Make a folder (and its missing parents)."""
    with failures():
        rag = client(url, api_key)
        current = rag.get_root_folder()
        for part in [part for part in path.split("/") if part]:
            named = [f for f in _children(rag, current["id"], part) if f["name"] == part]
            current = named[0] if named else rag.create_folder(part, current["id"])
    typer.echo(current["id"])


def _local_files(paths: list[Path]) -> list[tuple[str, Path]]:
    """(name to upload as, local file): a directory gives its files under its own name."""
    found: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            for inner in sorted(p for p in path.rglob("*") if p.is_file()):
                found.append((f"{path.name}/{inner.relative_to(path).as_posix()}", inner))
        elif path.is_file():
            found.append((path.name, path))
        else:
            raise RAGServeError(f"{path} is not a file or a directory.")
    return found


@file_app.command("upload")
def file_upload(
    paths: Annotated[list[Path], typer.Argument(help="Files, and directories with their files.")],
    folder: FolderOption = "/",
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Upload files into a folder; a directory keeps its sub-folders."""
    uploaded: list[dict[str, Any]] = []
    with failures():
        rag = client(url, api_key)
        target = find_folder(rag, folder)["id"]
        local = _local_files(paths)
        for start in range(0, len(local), UPLOAD_BATCH):
            with ExitStack() as stack:
                batch = [
                    (name, stack.enter_context(path.open("rb")))
                    for name, path in local[start : start + UPLOAD_BATCH]
                ]
                uploaded += rag.upload_files(list(batch), parent_id=target)
    show([_row(file) for file in uploaded] if not json_output else uploaded, json_output,
         optional=("datasets", "type"))  # fmt: skip


@file_app.command("download")
def file_download(
    file: Annotated[str, typer.Argument(help="An id or a /path.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: its name, here; - for stdout.")
    ] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Save a file."""
    with failures():
        rag = client(url, api_key)
        found = find_file(rag, file)
        data = rag.download_file(found["id"])
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    target = output or Path(found["name"])
    target.write_bytes(data)
    out.print(f"Saved {target} ({len(data)} bytes)", highlight=False)


@file_app.command("rename")
def file_rename(
    file: Annotated[str, typer.Argument(help="An id or a /path.")],
    name: Annotated[str, typer.Argument(help="The new name (a file keeps its extension).")],
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Rename a file or folder (and the dataset documents made from the file)."""
    with failures():
        rag = client(url, api_key)
        rag.rename_file(find_file(rag, file)["id"], name)
    out.print(f"Renamed to {name}", highlight=False)


@file_app.command("mv")
def file_move(
    files: FilesArgument, folder: FolderOption = "/", url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Move files and folders into a folder."""
    with failures():
        rag = client(url, api_key)
        ids = [find_file(rag, file)["id"] for file in files]
        rag.move_files(ids, find_folder(rag, folder)["id"])
    out.print(f"Moved {len(ids)} item(s)")


@file_app.command("rm")
def file_remove(
    files: FilesArgument, yes: YesOption = False, url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:  # fmt: skip
    """Delete files and folders with everything in them, and the dataset documents made from
    them (asks first, unless --yes)."""
    with failures():
        rag = client(url, api_key)
        delete_after_asking(
            [find_file(rag, file) for file in files],
            yes,
            lambda found: rag.delete_files([f["id"] for f in found]),
            question=lambda names: f"Delete {names} and the dataset documents made from them?",
            deleted="item(s)",
            label=lambda f: f"{f['name']} ({f['id']})",
        )


@file_app.command("convert")
def file_convert(
    files: FilesArgument,
    datasets: DatasetsOption,
    json_output: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Add files (a folder: the files in it) to datasets as documents, sharing their bytes;
    parse them with `ragserve doc` or the API."""
    with failures():
        rag = client(url, api_key)
        ids = [find_file(rag, file)["id"] for file in files]
        targets = find_datasets(rag, datasets)
        links = rag.convert_files(ids, [str(dataset.id) for dataset in targets])
    show(links if json_output else [{"file_id": link["file_id"], "document_id": link["document_id"]}
                                    for link in links], json_output)  # fmt: skip
