"""The API documentation pages, served without the internet.

``/docs`` is Swagger UI over ``/openapi.json``; its script, style sheet and icon come from the
installed ``swagger-ui-bundle-v2`` package (Swagger UI 5, which reads OpenAPI 3.1), served under
``/docs/assets``, never from a CDN. ``GET /`` sends a browser there. There is no ``/redoc``: no
package on the index ships ReDoc's script on its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"


def swagger_ui_directory() -> Path:
    """The folder of the installed Swagger UI distribution (``swagger-ui-bundle.js`` …)."""
    return Path(str(swagger_ui_path))


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, its assets and the redirect of ``/``; build the app with
    ``docs_url=None, redoc_url=None`` so that FastAPI's own CDN pages are not added."""
    assets = swagger_ui_directory()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        if not (assets / name).is_file():
            raise RuntimeError(f"Swagger UI's {name} is missing from {assets}")
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def home(request: Request) -> RedirectResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return RedirectResponse(root + DOCS_URL, status_code=307)

    app.add_route(DOCS_URL, swagger_ui, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/", home, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")
