"""The file manager (``/file/*``), which ragflow-sdk does not cover: methods of ``RAGFlow`` and
``AsyncRAGFlow`` that answer the server's plain objects (dicts: ``id``, ``name``, ``type``,
``parent_id``, ``size``…, see docs/files.md)."""

from __future__ import annotations

from typing import Any

from ragserve.sdk._http import AsyncHTTP, FileContent, Files, QueryValue, SyncHTTP, content_of

__all__ = ["AsyncFileMethods", "FileMethods"]


def list_files_query(
    parent_id: str | None, keywords: str, page: int, page_size: int, orderby: str, desc: bool
) -> dict[str, QueryValue]:
    query: dict[str, QueryValue] = {
        "parent_id": parent_id,
        "keywords": keywords,
        "page": page,
        "page_size": page_size,
        "orderby": orderby,
    }
    if desc:  # the server sorts descending when ``desc`` is given at all
        query["desc"] = "true"
    return query


def upload_parts(files: list[tuple[str, FileContent]], parent_id: str | None) -> Files:
    parts: list[tuple[str, tuple[str | None, FileContent]]] = [
        ("file", (name, content)) for name, content in files
    ]
    if parent_id:
        parts.append(("parent_id", (None, parent_id)))
    return parts


class FileMethods:
    """``RAGFlow``'s file-manager methods."""

    _http: SyncHTTP

    def get_root_folder(self) -> dict[str, Any]:
        """The root folder (made on first use)."""
        data: dict[str, Any] = self._http.call("GET", "/file/root_folder")["root_folder"]
        return data

    def list_parent_folders(self, file_id: str) -> list[dict[str, Any]]:
        """The file itself, its folder, and so on up to the root folder."""
        query = {"file_id": file_id}
        data = self._http.call("GET", "/file/all_parent_folder", params=query)
        folders: list[dict[str, Any]] = data["parent_folders"]
        return folders

    def list_files(
        self,
        parent_id: str | None = None,
        keywords: str = "",
        page: int = 1,
        page_size: int = 15,
        orderby: str = "create_time",
        desc: bool = False,
    ) -> dict[str, Any]:
        """A page of a folder (the root by default): ``{total, files, parent_folder}``."""
        query = list_files_query(parent_id, keywords, page, page_size, orderby, desc)
        data: dict[str, Any] = self._http.call("GET", "/file/list", params=query)
        return data

    def create_folder(self, name: str, parent_id: str | None = None) -> dict[str, Any]:
        body = {"name": name, "parent_id": parent_id, "type": "folder"}
        data: dict[str, Any] = self._http.call("POST", "/file/create", json=body)
        return data

    def upload_files(
        self, files: list[tuple[str, FileContent]], parent_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Uploads ``[(name, bytes or file), …]``; a ``/`` in a name makes sub-folders."""
        parts = upload_parts(files, parent_id)
        data: list[dict[str, Any]] = self._http.call("POST", "/file/upload", files=parts)
        return data

    def rename_file(self, file_id: str, name: str) -> None:
        self._http.call("POST", "/file/rename", json={"file_id": file_id, "name": name})

    def move_files(self, file_ids: list[str], folder_id: str) -> None:
        body = {"src_file_ids": file_ids, "dest_file_id": folder_id}
        self._http.call("POST", "/file/mv", json=body)

    def delete_files(self, file_ids: list[str]) -> None:
        """Deletes files and folders, and the dataset documents made from them."""
        self._http.call("POST", "/file/rm", json={"file_ids": file_ids})

    def download_file(self, file_id: str) -> bytes:
        return content_of(self._http.send("GET", f"/file/get/{file_id}"))

    def convert_files(self, file_ids: list[str], dataset_ids: list[str]) -> list[dict[str, Any]]:
        """Adds the files (and the files under folders) to the datasets as documents:
        ``[{id, file_id, document_id, …}]``."""
        body = {"file_ids": file_ids, "kb_ids": dataset_ids}
        data: list[dict[str, Any]] = self._http.call("POST", "/file/convert", json=body)
        return data

    def download_attachment(self, attachment_id: str, ext: str = "markdown") -> bytes:
        """A file an agent made (a Message's ``output_format``)."""
        path = f"/file/download/{attachment_id}"
        return content_of(self._http.send("GET", path, params={"ext": ext}))


class AsyncFileMethods:
    """``AsyncRAGFlow``'s file-manager methods: ``FileMethods``, awaited."""

    _http: AsyncHTTP

    async def get_root_folder(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self._http.call("GET", "/file/root_folder"))["root_folder"]
        return data

    async def list_parent_folders(self, file_id: str) -> list[dict[str, Any]]:
        query = {"file_id": file_id}
        data = await self._http.call("GET", "/file/all_parent_folder", params=query)
        folders: list[dict[str, Any]] = data["parent_folders"]
        return folders

    async def list_files(
        self,
        parent_id: str | None = None,
        keywords: str = "",
        page: int = 1,
        page_size: int = 15,
        orderby: str = "create_time",
        desc: bool = False,
    ) -> dict[str, Any]:
        query = list_files_query(parent_id, keywords, page, page_size, orderby, desc)
        data: dict[str, Any] = await self._http.call("GET", "/file/list", params=query)
        return data

    async def create_folder(self, name: str, parent_id: str | None = None) -> dict[str, Any]:
        body = {"name": name, "parent_id": parent_id, "type": "folder"}
        data: dict[str, Any] = await self._http.call("POST", "/file/create", json=body)
        return data

    async def upload_files(
        self, files: list[tuple[str, FileContent]], parent_id: str | None = None
    ) -> list[dict[str, Any]]:
        parts = upload_parts(files, parent_id)
        data: list[dict[str, Any]] = await self._http.call("POST", "/file/upload", files=parts)
        return data

    async def rename_file(self, file_id: str, name: str) -> None:
        await self._http.call("POST", "/file/rename", json={"file_id": file_id, "name": name})

    async def move_files(self, file_ids: list[str], folder_id: str) -> None:
        body = {"src_file_ids": file_ids, "dest_file_id": folder_id}
        await self._http.call("POST", "/file/mv", json=body)

    async def delete_files(self, file_ids: list[str]) -> None:
        await self._http.call("POST", "/file/rm", json={"file_ids": file_ids})

    async def download_file(self, file_id: str) -> bytes:
        return content_of(await self._http.send("GET", f"/file/get/{file_id}"))

    async def convert_files(
        self, file_ids: list[str], dataset_ids: list[str]
    ) -> list[dict[str, Any]]:
        body = {"file_ids": file_ids, "kb_ids": dataset_ids}
        data: list[dict[str, Any]] = await self._http.call("POST", "/file/convert", json=body)
        return data

    async def download_attachment(self, attachment_id: str, ext: str = "markdown") -> bytes:
        path = f"/file/download/{attachment_id}"
        return content_of(await self._http.send("GET", path, params={"ext": ext}))
