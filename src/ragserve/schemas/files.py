"""The file manager (``/api/v1/file/*``, spec 2.11 and B.1): requests and answers.

Bodies name their required keys as RAGFlow's ``validate_request`` does (101 ``required
argument are missing: …``); a name is checked for what the store can keep (``file_name``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ragserve.errors import RetCode
from ragserve.schemas.common import ListPage, ListPageSize, fixed_message, required_arguments

MAX_NAME_BYTES = 255
SORTABLE_COLUMNS = ("create_time", "update_time", "name", "size", "type")
ATTACHMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def file_name(value: Any) -> str:
    """One path component: not empty, no ``/``, at most 255 UTF-8 bytes."""
    if not isinstance(value, str) or not value.strip():
        raise fixed_message(RetCode.ARGUMENT_ERROR, "File name can't be empty.")
    name = value.strip()
    if "/" in name or "\\" in name or name in (".", ".."):
        raise fixed_message(RetCode.ARGUMENT_ERROR, f"Invalid file name: {name!r}.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise fixed_message(RetCode.ARGUMENT_ERROR, "File name must be 255 bytes or less.")
    return name


def _id_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "A list of ids is expected.")
    return value


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


def _true_when_given(value: Any) -> bool:
    """RAGFlow's file list ``desc``: any given text, ``false`` too, is true (spec QUIRK)."""
    return value is True or isinstance(value, str)


FileName = Annotated[str, BeforeValidator(file_name)]
IdList = Annotated[list[str], BeforeValidator(_id_list)]
OptionalId = Annotated[str | None, BeforeValidator(_empty_is_none)]


# --------------------------------------------------------------------------------------------
# answers


class FileRow(BaseModel):
    """A file or folder as RAGFlow shows it. The root folder is its own parent, named ``/``."""

    id: str
    parent_id: str
    tenant_id: str
    created_by: str
    name: str
    location: str = Field(description="Where the bytes are stored; empty for folders.")
    size: int
    type: str = Field(description="folder, virtual, pdf, doc, visual, aural or other.")
    source_type: str = Field(description='"" for uploads, "knowledgebase" for dataset documents.')
    create_time: int
    create_date: str | None
    update_time: int
    update_date: str | None


class KbInfo(BaseModel):
    """A dataset document made from the file."""

    kb_id: str
    kb_name: str
    document_id: str


class ListedFile(FileRow):
    """A list entry: a folder's size counts everything under it."""

    kbs_info: list[KbInfo] = Field(description="The dataset documents made from the file.")
    has_child_folder: bool = Field(description="Whether a folder holds folders (files: false).")


class FilePage(BaseModel):
    total: int
    files: list[ListedFile]
    parent_folder: FileRow


class RootFolder(BaseModel):
    root_folder: FileRow


class ParentFolder(BaseModel):
    parent_folder: FileRow


class ParentFolders(BaseModel):
    parent_folders: list[FileRow] = Field(description="The file itself, then up to the root.")


class ConvertedFile(BaseModel):
    """A link from a file to the document made from it."""

    id: str
    file_id: str
    document_id: str
    create_time: int
    create_date: str | None
    update_time: int
    update_date: str | None


# --------------------------------------------------------------------------------------------
# requests


class ListFiles(BaseModel):
    """Query of ``GET /api/v1/file/list``."""

    model_config = ConfigDict(extra="ignore")

    parent_id: OptionalId = Field(None, description="The folder; the root folder if absent.")
    keywords: str = Field("", description="A case-insensitive part of the name.")
    page: ListPage = 1
    page_size: ListPageSize = 15
    orderby: str = Field("create_time", description=f"One of {', '.join(SORTABLE_COLUMNS)}.")
    desc: Annotated[bool, BeforeValidator(_true_when_given)] = Field(
        False, description="Given at all (even `false`): newest first, as RAGFlow reads it."
    )

    @model_validator(mode="after")
    def _column(self) -> ListFiles:
        if self.orderby not in SORTABLE_COLUMNS:
            self.orderby = "create_time"
        return self


class FileIdQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_id: str


class AttachmentQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ext: str = Field("markdown", description="Picks the Content-Type: md, html, pdf, docx, …")


class CreateFile(BaseModel):
    """Body of ``POST /api/v1/file/create``."""

    model_config = ConfigDict(extra="ignore")

    name: FileName
    parent_id: OptionalId = Field(None, description="The folder; the root folder if absent.")
    type: str | None = Field(
        None, description='"folder" makes a folder; anything else (also "FOLDER") a virtual file.'
    )

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "name")
        return data


class RemoveFiles(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_ids: IdList

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "file_ids")
        return data


class RenameFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_id: str
    name: FileName

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "file_id", "name")
        return data


class MoveFiles(BaseModel):
    model_config = ConfigDict(extra="ignore")

    src_file_ids: IdList
    dest_file_id: str

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "src_file_ids", "dest_file_id")
        return data


class ConvertFiles(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_ids: IdList
    kb_ids: IdList = Field(description="The datasets to add the files to.")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "file_ids", "kb_ids")
        return data
