"""The SDK's exceptions. Every error the SDK raises is a ``RAGServeError``::

    RAGServeError                 .code, .message; str(error) is the message
    ├── APIError                  the server answered an error envelope; .code is its code
    │   ├── AuthenticationError   code 109: the API key is missing or unknown
    │   └── ChunkUpdateError      Chunk.update failed (with .details, as in ragflow-sdk)
    ├── ResponseError             the answer was not RAGFlow's envelope; .code is the HTTP status
    ├── TransportError            the server could not be reached or stopped answering
    │   └── RequestTimeout        no answer within the client's timeout
    └── ParseTimeout              parse_documents gave up waiting (the rest was cancelled)

ragflow-sdk raises bare ``Exception(message)``; since ``str()`` of these is the same message,
code that catches ``Exception`` and matches its text keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ChunkUpdateError",
    "ErrorCode",
    "ParseTimeout",
    "RAGServeError",
    "RequestTimeout",
    "ResponseError",
    "TransportError",
]


class ErrorCode(IntEnum):
    """The ``code`` values of RAGFlow's error envelope, as ragserve sends them."""

    EXCEPTION_ERROR = 100
    ARGUMENT_ERROR = 101
    DATA_ERROR = 102
    OPERATING_ERROR = 103
    CONNECTION_ERROR = 105
    RUNNING = 106
    PERMISSION_ERROR = 108
    AUTHENTICATION_ERROR = 109
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    FORBIDDEN = 403
    NOT_FOUND = 404
    CONFLICT = 409
    SERVER_ERROR = 500


class RAGServeError(Exception):
    """Base of every SDK error.

    :param message: what went wrong, shown as ``str(error)``.
    :param code: the server's error code, the HTTP status, or ``None`` when there is neither.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class APIError(RAGServeError):
    """The server refused the request: ``{"code": <not 0>, "message": ...}``.

    ``data`` and ``details`` are the envelope's keys of those names, ``None`` when absent.
    """

    def __init__(self, message: str, *, code: int, data: Any = None, details: Any = None) -> None:
        super().__init__(message, code=code)
        self.data = data
        self.details = details


class AuthenticationError(APIError):
    """The API key is missing, malformed or unknown to the server."""


class ChunkUpdateError(APIError):
    """``Chunk.update`` failed (ragflow-sdk raises an exception of this name there)."""


class ResponseError(RAGServeError):
    """The server answered something other than RAGFlow's JSON envelope (a proxy's error page,
    an empty body). ``code`` is the HTTP status."""


class TransportError(RAGServeError):
    """The request did not get an answer: connection refused, reset or cut. The httpx error
    is the ``__cause__``."""


class RequestTimeout(TransportError):
    """The server did not answer within the client's ``timeout``."""


class ParseTimeout(RAGServeError):
    """``parse_documents`` did not see every document finish within its ``timeout``.

    The unfinished documents' parsing was cancelled. ``pending`` lists their ids; ``finished``
    holds the results of the others, as ``parse_documents`` returns them.
    """

    def __init__(
        self,
        message: str,
        *,
        pending: Sequence[str],
        finished: Sequence[tuple[str, str, int, int]],
    ) -> None:
        super().__init__(message)
        self.pending = list(pending)
        self.finished = list(finished)


def api_error(body: dict[str, Any]) -> APIError:
    """The exception for an error envelope."""
    code = body.get("code")
    code = code if isinstance(code, int) else ErrorCode.EXCEPTION_ERROR
    message = body.get("message")
    message = message if isinstance(message, str) else str(message)
    kind = AuthenticationError if code == ErrorCode.AUTHENTICATION_ERROR else APIError
    return kind(message, code=code, data=body.get("data"), details=body.get("details"))
