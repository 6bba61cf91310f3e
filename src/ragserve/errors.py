"""The one exception tree. Services raise these; the API maps each to the envelope in one place.

    RagserveError                 code 100 (EXCEPTION_ERROR)
    ├── ArgumentError             101: the request is malformed or a value is invalid
    ├── DataError                 102: the request names data that does not exist or conflicts
    ├── OperatingError            103: the operation is not allowed in the current state
    ├── PermissionDenied          108: the caller may not touch this resource
    ├── AuthenticationError       109: the credential is missing, malformed or unknown
    ├── Unauthorized              401: no valid web session (HTTP 401)
    ├── Forbidden                 403: the account may not log in
    ├── NotFound                  404: no such route (HTTP 404)
    ├── ResourceNotFound          404: no such item (HTTP 200)
    ├── PayloadTooLarge           400: the request body exceeds the limit (HTTP 413)
    └── BatchError                500: items of a batch failed, one line each (HTTP 200)

Error codes are RAGFlow's RetCode numbers (spec section 0.4), which clients match on.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class RetCode(IntEnum):
    SUCCESS = 0
    NOT_EFFECTIVE = 10
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


_UNSET: Any = object()


class RagserveError(Exception):
    """Base of every error a client may see. ``message`` is shown to the client verbatim.

    ``data`` is included in the error envelope only when given (RAGFlow's SDK handlers omit
    it on errors, while its auth failures carry ``data: false``).
    """

    code: RetCode = RetCode.EXCEPTION_ERROR
    http_status: int = 200

    def __init__(self, message: str, *, data: Any = _UNSET) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    @property
    def has_data(self) -> bool:
        return self.data is not _UNSET


class ArgumentError(RagserveError):
    code = RetCode.ARGUMENT_ERROR


class DataError(RagserveError):
    code = RetCode.DATA_ERROR


class OperatingError(RagserveError):
    code = RetCode.OPERATING_ERROR


class PermissionDenied(RagserveError):
    code = RetCode.PERMISSION_ERROR


class AuthenticationError(RagserveError):
    code = RetCode.AUTHENTICATION_ERROR


class Unauthorized(RagserveError):
    code = RetCode.UNAUTHORIZED
    http_status = 401


class Forbidden(RagserveError):
    code = RetCode.FORBIDDEN


class NotFound(RagserveError):
    code = RetCode.NOT_FOUND
    http_status = 404


class ResourceNotFound(RagserveError):
    """A named item does not exist; code 404 in the body, HTTP 200 (RAGFlow's chunk lookups)."""

    code = RetCode.NOT_FOUND


class PayloadTooLarge(RagserveError):
    code = RetCode.BAD_REQUEST
    http_status = 413


class BatchError(RagserveError):
    """Several items of one request failed; the message has one line per item (RAGFlow's 500)."""

    code = RetCode.SERVER_ERROR
