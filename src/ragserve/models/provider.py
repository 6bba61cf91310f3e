"""Calling model providers through LiteLLM (or the openai SDK): importing LiteLLM offline,
common call options, and turning their exceptions into messages a client may see (never a
key)."""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import openai

_litellm_lock = threading.Lock()


def litellm_module() -> Any:
    """litellm, imported on first use (it takes seconds) and kept off the network."""
    with _litellm_lock:
        # Without this, importing litellm downloads its model price list from GitHub.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" on stdout
        litellm.telemetry = False
        return litellm


def call_options(
    api_key: str | None, api_base: str | None, timeout: float, max_retries: int
) -> dict[str, Any]:
    """Keyword arguments every LiteLLM call takes."""
    options: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
    if api_base:
        options["api_base"] = api_base
    if api_key:
        options["api_key"] = api_key
    elif api_base:
        # Keyless servers (vLLM, LM Studio...) still need some key, and the process's own
        # OPENAI_API_KEY must never be sent to a base URL a tenant chose.
        options["api_key"] = "no-key"
    return options


class ProviderModel:
    """A model behind a provider API, called through LiteLLM: its LiteLLM model string, the
    credentials and the call limits. ``repr`` never shows the key."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        api_base: str | None,
        timeout: float = 60,
        max_retries: int = 2,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.name = name or model
        self.api_key = api_key
        self.api_base = api_base
        self.timeout = timeout
        self.max_retries = max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, api_base={self.api_base!r})"

    def options(self) -> dict[str, Any]:
        """The keyword arguments of every call: credentials and limits."""
        return call_options(self.api_key, self.api_base, self.timeout, self.max_retries)

    def failure(self, what: str, exc: Exception) -> str:
        """A readable message for a failed call, without the key."""
        return provider_error(what, exc, self.api_key, self.api_base, self.timeout)


_SECRET_PATTERNS = (
    re.compile(r"(?i)(api[ _-]?key provided:?\s*)\S+"),
    re.compile(r"(?i)\b(bearer\s+)\S+"),
    re.compile(r"\b(sk-)[A-Za-z0-9_\-*]{4,}"),
)


def scrub(text: str, api_key: str | None) -> str:
    """``text`` without the key (or anything shaped like one), shortened for an error message."""
    if api_key:
        text = text.replace(api_key, "***")
        if len(api_key) >= 12:  # masked forms keep the ends ("sk-ab...wxyz")
            text = text.replace(api_key[:8], "***").replace(api_key[-6:], "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def provider_error(
    what: str, exc: Exception, api_key: str | None, api_base: str | None, timeout: float
) -> str:
    """A readable message for a failed call to ``what`` ("Embedding model x", ...)."""
    # LiteLLM's exceptions subclass the openai SDK's, so these name both.
    detail = scrub(str(getattr(exc, "message", "") or exc), api_key)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return (
            f"{what}: the provider rejected the API key "
            "(check the key set for this model's factory)."
        )
    if isinstance(exc, openai.RateLimitError):
        return f"{what}: rate limit or quota exceeded at the provider; try again later."
    if isinstance(exc, openai.APITimeoutError):
        return f"{what}: the provider did not answer within {timeout:g} s."
    if isinstance(exc, openai.APIConnectionError) or is_connection_failure(exc):
        where = f" at {api_base}" if api_base else ""
        return f"{what}: cannot reach the provider{where}."
    if isinstance(exc, openai.NotFoundError):
        return f"{what}: the provider does not know this model."
    if isinstance(exc, openai.BadRequestError):
        return f"{what}: the provider refused: {detail}"
    return f"{what} failed: {type(exc).__name__}: {detail}"


def is_connection_failure(exc: BaseException) -> bool:
    """litellm reports a refused connection to an OpenAI base as a 500 "Connection error"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError) or "Connection error" in str(current):
            return True
        if type(current).__name__ in ("ConnectError", "APIConnectionError"):
            return True
        current = current.__cause__ or current.__context__
    return False
