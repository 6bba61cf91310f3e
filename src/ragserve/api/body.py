"""What FastAPI's own body reading lacks for RAGFlow's strict routes (spec 0.6)."""

from __future__ import annotations

from fastapi import Depends, Request

from ragserve.errors import ArgumentError


async def require_json_content(request: Request) -> None:
    """For the routes that RAGFlow validates strictly (spec 0.6): a JSON body must say so.
    Declared in a route's ``dependencies``, it runs before FastAPI validates the body."""
    content_type = request.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip() != "application/json":
        raise ArgumentError(
            f"Unsupported content type: Expected application/json, got {content_type}"
        )


JSON_ONLY = [Depends(require_json_content)]
