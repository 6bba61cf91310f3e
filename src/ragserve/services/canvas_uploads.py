"""Files uploaded to an agent (``POST /v1/canvas/upload/{agent_id}``) for its run to read:
kept as attachments of the agent's tenant (``blobs.attachments``) and described as RAGFlow's
editor describes them; a completion's ``files`` and ``sys.files`` carry the descriptions, and
components read the bytes back by ``id`` (``Environment.read_attachment``)."""

from __future__ import annotations

import mimetypes
from typing import Any, BinaryIO

from ragserve.blobs.attachments import store_attachment
from ragserve.errors import DataError
from ragserve.runtime import Runtime
from ragserve.services.agents import owned_agent
from ragserve.services.tenancy import Caller
from ragserve.timeutil import now_ms

MAX_UPLOAD_BYTES = 64 * 2**20


def upload(
    runtime: Runtime, caller: Caller, agent_id: str, name: str, stream: BinaryIO
) -> dict[str, Any]:
    with runtime.read() as session:
        if owned_agent(session, caller, agent_id) is None:
            raise DataError("Canvas not found.")
    data = stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
    file_id = store_attachment(runtime.blobs, caller.tenant_id, data)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {
        "id": file_id,
        "name": name,
        "size": len(data),
        "extension": extension,
        "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "created_by": caller.user_id,
        "created_at": now_ms() / 1000,
    }
