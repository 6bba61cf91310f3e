"""A Python client of ragserve (and of RAGFlow): ragflow-sdk 0.23.1's classes and methods,
typed, over httpx, with an asyncio twin. Switching from ragflow-sdk is one import line::

    import ragserve.sdk as ragflow_sdk
    rag = ragflow_sdk.RAGFlow(api_key="ragflow-...", base_url="http://127.0.0.1:9380")

The public names are the ones listed here; the ``_modules`` may change. See docs/sdk.md.
This package imports nothing from the rest of ragserve: it needs only httpx.
"""

from ragserve.sdk._agent import Agent, AsyncAgent
from ragserve.sdk._async_client import AsyncRAGFlow
from ragserve.sdk._chat import AsyncChat, Chat
from ragserve.sdk._chunk import AsyncChunk, Chunk
from ragserve.sdk._client import RAGFlow
from ragserve.sdk._dataset import AsyncDataSet, DataSet, DocumentUpload, ParseResult
from ragserve.sdk._document import AsyncDocument, Document
from ragserve.sdk._exceptions import (
    APIError,
    AuthenticationError,
    ChunkUpdateError,
    ErrorCode,
    ParseTimeout,
    RAGServeError,
    RequestTimeout,
    ResponseError,
    TransportError,
)
from ragserve.sdk._http import DEFAULT_TIMEOUT, Retry, TimeoutTypes
from ragserve.sdk._memory import AsyncMemory, Memory
from ragserve.sdk._model import Base
from ragserve.sdk._session import AsyncMessageStream, AsyncSession, Message, MessageStream, Session

__all__ = [
    "DEFAULT_TIMEOUT",
    "APIError",
    "Agent",
    "AsyncAgent",
    "AsyncChat",
    "AsyncChunk",
    "AsyncDataSet",
    "AsyncDocument",
    "AsyncMemory",
    "AsyncMessageStream",
    "AsyncRAGFlow",
    "AsyncSession",
    "AuthenticationError",
    "Base",
    "Chat",
    "Chunk",
    "ChunkUpdateError",
    "DataSet",
    "Document",
    "DocumentUpload",
    "ErrorCode",
    "Memory",
    "Message",
    "MessageStream",
    "ParseResult",
    "ParseTimeout",
    "RAGFlow",
    "RAGServeError",
    "RequestTimeout",
    "ResponseError",
    "Retry",
    "Session",
    "TimeoutTypes",
    "TransportError",
]
