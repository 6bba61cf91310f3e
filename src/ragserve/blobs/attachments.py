"""Agent attachments: files an agent run makes for the user to download (the Message
component's ``output_format``: md, html, pdf, docx, xlsx; PDFGenerator, ExcelProcessor), and
files a user uploads to an agent (``/v1/canvas/upload/{agent_id}``) for its components to read.

The contract: whoever makes one stores its bytes with ``store_attachment`` under the run's
tenant and hands the id to the client; ``GET /api/v1/file/download/{attachment_id}?ext=``
serves them back to that tenant only (``services/file_links.open_attachment``), with the
Content-Type picked by ``ext``. The key is ``<tenant>/attachments/<id>``.
"""

from __future__ import annotations

import re

from ragserve.blobs.base import BlobStore
from ragserve.timeutil import new_id

ATTACHMENTS_SEGMENT = "attachments"
ATTACHMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def attachment_key(tenant_id: str, attachment_id: str) -> str | None:
    """The blob key of the attachment, or None for an id no attachment can have."""
    if not ATTACHMENT_ID.fullmatch(attachment_id):
        return None
    return f"{tenant_id}/{ATTACHMENTS_SEGMENT}/{attachment_id}"


def store_attachment(store: BlobStore, tenant_id: str, data: bytes) -> str:
    """Keep ``data`` as a new attachment of the tenant; its id."""
    attachment_id = new_id()
    key = attachment_key(tenant_id, attachment_id)
    assert key is not None
    store.put(key, data)
    return attachment_id


def read_attachment(store: BlobStore, tenant_id: str, attachment_id: str) -> bytes | None:
    """The attachment's bytes, or None when the tenant has none with that id."""
    key = attachment_key(tenant_id, attachment_id)
    if key is None or not store.exists(key):
        return None
    return store.read(key)
