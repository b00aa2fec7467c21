"""Browser tests: the real services on a real broker and database, the portal in front, Debian's chromium.

Chromium must be installed (`make test` installs it); without it these tests fail and say so,
they never skip. Every page a test visits is checked with axe-core (WCAG 2.2 AA) and
photographed to `$REFHUB_DATA_DIR/screenshots/` (default `.data/screenshots/`).
"""
from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from services.notifications.service import NotificationsService
from services.portal.service import PortalService
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.conftest import MONGO_URI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = Path(os.environ.get("REFHUB_DATA_DIR") or ".data") / "screenshots"


@pytest.fixture(scope="session")
def chromium_path():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: run `make test` "
                    "(it installs it) or `apt-get install chromium` as root", pytrace=False)
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    # Not `with sync_playwright()`: its exit waits on a thread that eventlet's monkey-patching never
    # wakes, so the run would hang. Closing the browser is enough; the driver exits with this process.
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
    yield browser
    browser.close()
    asyncio._set_running_loop(None)


@pytest.fixture(autouse=True)
def playwright_loop_only_while_browsing(browser):
    """Playwright's sync API marks its asyncio loop as running in this thread between calls. Mark it
    only during a browser test, or later tests that run a loop of their own (the SMTP peer) are
    refused with "another loop is running"."""
    asyncio._set_running_loop(browser._loop)
    yield
    asyncio._set_running_loop(None)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 900}, locale="en-GB",
                                  timezone_id="Europe/London")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def portal(container_factory, service_config, monkeypatch, databases):
    """The three services and the portal, each in its own container on a throwaway vhost.

    Returns the portal's URL; `portal.api` holds the services' URLs. The CLI run in a test
    sees the same auth database and prints links to this portal.
    """
    urls = {}
    for service_cls in (ReferralsService, SafetyService, NotificationsService):
        config = service_config(service_cls.name)
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    config = service_config("auth", REFERRALS_URL=urls["referrals"], SAFETY_URL=urls["safety"],
                        NOTIFICATIONS_URL=urls["notifications"])
    container_factory(PortalService, config).start()
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    monkeypatch.setenv("MONGO_URI", MONGO_URI)          # the CLI, run in a test, uses the tests' database
    monkeypatch.setenv("AUTH_DB", databases["auth"])
    monkeypatch.setenv("PORTAL_PUBLIC_URL", base)
    return Portal(base, urls)


class Portal(str):
    def __new__(cls, base, api):
        portal = super().__new__(cls, base)
        portal.api = api
        return portal


def check_page(page, name: str) -> None:
    """0 axe-core violations at WCAG 2.2 AA, and a screenshot of the whole page."""
    from axe_playwright_python.sync_playwright import Axe

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
