"""Real Chromium (Debian's package) driven by Playwright; never a downloaded browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    return os.environ.get("FOLLOWUP_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") or os.environ.get("FOLLOWUP_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("no chromium here: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/screenshots under `make screenshots`, else a temp folder."""
    folder = Path(os.environ.get("FOLLOWUP_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Run in every page before its own scripts (not subject to its CSP): a violation the browser
# reports to the page, whatever its directive (an inline style, an image from elsewhere, …),
# is written to the console, where `new_context` listens.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content-Security-Policy violation: " + event.violatedDirective + " blocked "
                + (event.blockedURI || "inline") + " at " + event.sourceFile + ":"
                + event.lineNumber);
});
"""


@pytest.fixture
def new_context(browser):
    """browser.new_context, listening to each page's console: a test fails if a page it
    visited logged an error (a Content-Security-Policy violation, a resource that would not
    load) or threw one."""
    contexts, problems = [], []

    def console(message) -> None:
        text = message.text
        where = message.page.url if message.page else "?"
        if text.startswith("Failed to load resource") and message.location.get("url") == where:
            return  # the page's own status (an error page a test asks for): tests check it
        if message.type == "error" or "Content Security Policy" in text \
                or "Content-Security-Policy" in text:
            problems.append(f"console {message.type} on {where}: {text} "
                            f"({message.location.get('url')})")

    def thrown(error) -> None:
        where = error.page.url if error.page else "?"
        problems.append(f"JavaScript error on {where}: {error.error}")

    def make(**options):
        context = browser.new_context(**options)
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", console)
        context.on("weberror", thrown)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        try:
            context.close()  # delivers what is still on its way; closing twice is harmless
        except Exception:  # noqa: BLE001, S110 - the test itself closed or broke it
            pass
    assert not problems, "\n".join(problems)
