"""``/docs`` works offline: its page names only this server's own assets, which are served.
(tests/e2e/test_docs_browser.py drives it in a real browser.)"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ragserve.api.docs import swagger_ui_directory


def test_docs_page_loads_only_local_assets(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "http://" not in page and "https://" not in page, "the page must not reach out"
    assets = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    assert "url: '/openapi.json'" in page
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        name = asset.rsplit("/", 1)[1]
        assert served.content == (swagger_ui_directory() / name).read_bytes()
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert "javascript" in client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"]


def test_docs_tolerates_a_trailing_slash_and_head(client: TestClient) -> None:
    assert client.get("/docs/").status_code == 200
    assert client.head("/docs").status_code == 200


def test_home_sends_a_browser_to_the_docs(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"
    assert client.get("/").url.path == "/docs"


def test_no_redoc_and_unknown_assets_are_404(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    missing = client.get("/docs/assets/nothing.js")
    assert missing.status_code == 404
    assert missing.json()["code"] == 404  # the error envelope, as everywhere else


def test_docs_pages_are_not_operations(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/docs")]
