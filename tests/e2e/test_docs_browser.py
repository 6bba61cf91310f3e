"""``/docs`` in a real headless Chromium, offline: a person authorizes with an API token,
tries ``POST /api/v1/datasets`` and sees code 0; the page fetches nothing from elsewhere.

Drives Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it) through
Playwright: Playwright's own browser download cannot run here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("RAGSERVE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


def _chromium() -> Path:
    """In CI the browser must be there (``.ci/run`` installs it): fail. Elsewhere, skip."""
    if not CHROMIUM.is_file():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("docs-browser") / "home") as running:
        yield running


def test_create_a_dataset_from_the_docs_page(server: RunningServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = _chromium()
    requested: list[str] = []
    page_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        try:
            page.goto(server.base_url + "/")  # redirected to /docs
            assert page.url == server.base_url + "/docs"

            page.locator("button.authorize").first.click()
            dialog = page.locator(".dialog-ux .modal-ux")
            # the API key's form (the embedded widgets' beta token has a form of its own)
            api_key = dialog.locator("form").filter(has_text="APIKeyHeader")
            api_key.locator("input").first.fill(f"Bearer {server.api_key}")
            api_key.locator("button.modal-btn.auth.authorize").click()
            dialog.locator("button.btn-done").first.click()
            expect(dialog).to_have_count(0)

            operation = page.locator(
                "div.opblock.opblock-post",
                has=page.locator('.opblock-summary-path[data-path="/api/v1/datasets"]'),
            )
            operation.locator(".opblock-summary").first.click()
            operation.locator("button.try-out__btn").click()
            operation.locator("textarea.body-param__text").fill(
                json.dumps({"name": "from-the-docs", "description": "made in a browser"})
            )
            operation.locator("button.execute").click()

            shown = operation.locator(".live-responses-table .response-col_description pre")
            expect(shown.first).to_contain_text('"code": 0')
            expect(shown.first).to_contain_text('"name": "from-the-docs"')
        except Exception:
            page.screenshot(path=str(tmp_path / "docs-failure.png"), full_page=True)
            raise
        finally:
            context.close()
            browser.close()

    headers = {"Authorization": f"Bearer {server.api_key}"}
    listed = httpx.get(
        server.base_url + "/api/v1/datasets", params={"name": "from-the-docs"}, headers=headers
    ).json()
    assert listed["code"] == 0 and [d["name"] for d in listed["data"]] == ["from-the-docs"]
    elsewhere = [url for url in requested if not url.startswith(server.base_url + "/")]
    assert not elsewhere, f"the docs page reached outside the server: {elsewhere}"
    assert not page_errors, page_errors
