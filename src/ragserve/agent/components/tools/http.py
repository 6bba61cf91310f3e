"""One HTTP call of a web-API tool, its failures as ``ComponentError`` messages safe to show
(the status and the service's name, never the key or the full URL with its query)."""

from __future__ import annotations

from typing import Any

import httpx

from ragserve.agent.errors import ComponentError

TIMEOUT = 30.0
USER_AGENT = "ragserve-agent/1.0"


def request(
    service: str,
    method: str,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> httpx.Response:
    """The response (2xx only; others fail with the service's name and the status)."""
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.request(
                method, url, params=params, json=json_body, data=data, headers=sent
            )
    except httpx.HTTPError as error:
        raise ComponentError(f"{service} failed: {type(error).__name__}.") from None
    if response.status_code in (401, 403):
        raise ComponentError(f"{service} refused the request (HTTP {response.status_code}).")
    if response.status_code >= 300:
        raise ComponentError(f"{service} failed: HTTP {response.status_code}.")
    return response


def get_json(service: str, url: str, **options: Any) -> Any:
    response = request(service, "GET", url, **options)
    return _json(service, response)


def post_json(service: str, url: str, **options: Any) -> Any:
    response = request(service, "POST", url, **options)
    return _json(service, response)


def _json(service: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ComponentError(f"{service} did not answer JSON.") from None
