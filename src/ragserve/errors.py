"""The one exception tree. Services raise these; the API maps each to the envelope in one place.

    RagserveError                 code 100 (EXCEPTION_ERROR)
    ├── ArgumentError             101: the request is malformed or a value is invalid
    ├── DataError                 102: the request names data that does not exist or conflicts
    ├── OperatingError            103: the operation is not allowed in the current state
    ├── PermissionDenied          108: the caller may not touch this resource
    ├── AuthenticationError       109: the credential is missing, malformed or unknown
    ├── Unauthorized              401: no valid web session (HTTP 401)
    ├── Forbidden                 403: the account may not log in
    ├── NotAdministrator          403: the admin API needs an active superuser (HTTP 403)
    ├── NotFound                  404: no such route (HTTP 404)
    ├── ResourceNotFound          404: no such item (HTTP 200)
    ├── PayloadTooLarge           400: the request body exceeds the limit (HTTP 413)
    ├── WebhookRefused            400: a webhook call the agent's Begin refuses (HTTP 400)
    │   └── WebhookRateLimited    400: over the webhook's rate limit (HTTP 429)
    ├── BatchError                500: items of a batch failed, one line each (HTTP 200)
    ├── InvalidRequest            100-109: a value refused with RAGFlow's own text and code
    ├── InternalError             500: a component failed; the client never sees the detail
    │   └── ChunkStoreError       (ragserve.store) the chunk store failed (HTTP 500)
    │       └── ChunkNotFound     102: a chunk vanished (HTTP 200)
    ├── DifyError                 Dify's external knowledge API: HTTP status = code
    │   ├── DifyAuthorizationError   403, Dify error_code 1001 (header) or 1002 (key)
    │   ├── KnowledgeNotFound        404, Dify error_code 2001
    │   └── DifySearchFailed         500
    └── OpenAIError               the OpenAI-compatible routes: a real HTTP status, OpenAI's body
        ├── OpenAIBadRequest      HTTP 400 invalid_request_error
        ├── OpenAIPayloadTooLarge HTTP 413 invalid_request_error
        ├── OpenAIUnauthorized    HTTP 401 invalid_request_error / invalid_api_key
        ├── OpenAINotFound        HTTP 404 invalid_request_error / model_not_found
        ├── OpenAIUpstreamError   HTTP 502 api_error: the model behind the assistant failed
        └── OpenAIServerError     HTTP 500 api_error: anything else

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


class NotAdministrator(RagserveError):
    """A valid credential whose user is not an active superuser, on the admin API."""

    code = RetCode.FORBIDDEN
    http_status = 403


class NotFound(RagserveError):
    code = RetCode.NOT_FOUND
    http_status = 404


class ResourceNotFound(RagserveError):
    """A named item does not exist; code 404 in the body, HTTP 200 (RAGFlow's chunk lookups)."""

    code = RetCode.NOT_FOUND


class PayloadTooLarge(RagserveError):
    code = RetCode.BAD_REQUEST
    http_status = 413


class WebhookRefused(RagserveError):
    """A call of an agent's webhook that its configuration refuses (RAGFlow: HTTP 400 and code
    400, with the reason)."""

    code = RetCode.BAD_REQUEST
    http_status = 400


class WebhookRateLimited(WebhookRefused):
    """Over the webhook's rate limit: HTTP 429, so that the sender backs off (RAGFlow: 400)."""

    http_status = 429


class BatchError(RagserveError):
    """Several items of one request failed; the message has one line per item (RAGFlow's 500)."""

    code = RetCode.SERVER_ERROR


class InvalidRequest(RagserveError):
    """A request value refused before any work, with the text and the code RAGFlow's handler
    gives it (101, 102, or 100 where RAGFlow's ``int()``/``float()`` raised). Request models
    raise these through ``schemas.common.fixed_message``; the API's validation handler turns
    them into this error."""

    def __init__(self, message: str, code: RetCode, *, data: Any = _UNSET) -> None:
        super().__init__(message, data=data)
        self.code = code


class InternalError(RagserveError):
    """A component of the server failed, not the request. The client sees ``message``, which
    names what failed and nothing of how (HTTP 500); ``detail`` (also ``str(error)``) goes to
    the server log with the request id, where the API's one handler writes it."""

    code = RetCode.SERVER_ERROR
    http_status = 500
    public_message = "The server failed to complete the request."

    def __init__(self, detail: str, message: str | None = None) -> None:
        super().__init__(message or self.public_message)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class DifyError(RagserveError):
    """An error of Dify's external knowledge API (``/api/v1/dify``): the HTTP status equals
    the code, and Dify's ``error_code``/``error_msg`` come beside RAGFlow's ``code``/``message``
    when Dify defines a code for the failure (``api/errors.py`` renders the body)."""

    error_code: int | None = None


class DifyAuthorizationError(DifyError):
    """Dify's 1001 (the header is not ``Bearer <api-key>``) or 1002 (the key is unknown)."""

    code = RetCode.FORBIDDEN
    http_status = 403

    def __init__(self, message: str, error_code: int) -> None:
        super().__init__(message)
        self.error_code = error_code


class KnowledgeNotFound(DifyError):
    code = RetCode.NOT_FOUND
    http_status = 404
    error_code = 2001


class DifySearchFailed(DifyError):
    """The search itself failed (a model or the store): RAGFlow's HTTP 500."""

    code = RetCode.SERVER_ERROR
    http_status = 500


class OpenAIError(RagserveError):
    """A failure of an OpenAI-compatible route. Their clients (the OpenAI SDK, LiteLLM) read the
    HTTP status and OpenAI's body ``{"error": {"message", "type", "param", "code"}}``, which
    the API's error handler writes for these routes (``error_type`` is its ``type``,
    ``error_code`` its ``code``)."""

    code = RetCode.BAD_REQUEST
    http_status = 400
    error_type = "invalid_request_error"
    error_code: str | None = None

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        super().__init__(message)
        if error_code is not None:
            self.error_code = error_code


class OpenAIBadRequest(OpenAIError):
    pass


class OpenAIPayloadTooLarge(OpenAIError):
    http_status = 413


class OpenAIUnauthorized(OpenAIError):
    code = RetCode.UNAUTHORIZED
    http_status = 401
    error_code = "invalid_api_key"


class OpenAINotFound(OpenAIError):
    code = RetCode.NOT_FOUND
    http_status = 404
    error_code = "model_not_found"


class OpenAIUpstreamError(OpenAIError):
    code = RetCode.SERVER_ERROR
    http_status = 502
    error_type = "api_error"


class OpenAIServerError(OpenAIError):
    code = RetCode.SERVER_ERROR
    http_status = 500
    error_type = "api_error"


def as_openai_error(error: RagserveError) -> OpenAIError:
    """Any error as an OpenAI-compatible route answers it: a request the caller can fix is a
    400, a refused credential a 401; anything else a 500 with the same (client-safe) message."""
    if isinstance(error, OpenAIError):
        return error
    if error.code == RetCode.AUTHENTICATION_ERROR or error.http_status == 401:
        return OpenAIUnauthorized(error.message)
    if error.code in (RetCode.ARGUMENT_ERROR, RetCode.DATA_ERROR, RetCode.OPERATING_ERROR):
        return OpenAIBadRequest(error.message)
    if error.http_status == PayloadTooLarge.http_status:
        return OpenAIPayloadTooLarge(error.message)
    return OpenAIServerError(error.message)
