"""The app in a real browser (Debian's chromium driven by Playwright): chat, cards with trust badges,
a like that lands in the store, the session surviving a reload, escaped HTML, and a screenshot.

Needs /usr/bin/chromium (CI installs it with apt-get); without it the test fails and says so.
Set TRUSTREC_SCREENSHOT=path to keep the screenshot (the README's docs/screenshot.png comes from it).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui_helpers import running_server, shared_recommender

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TURN_MS = 180_000  # a chat turn on a busy 2-core machine; the wait ends as soon as the cards show

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from ui.api import create_api

    with running_server(create_api(shared_recommender())) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium); .ci/run does this"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _open(page: Any, url: str) -> None:
    """Load the app and wait until it is drawn. Not "networkidle": Gradio keeps connections open, and
    on a busy machine (the previous test's explanations still being written) 30 s is not enough."""
    page.goto(url, wait_until="domcontentloaded", timeout=TURN_MS)
    page.locator("#tr-user input").wait_for(timeout=TURN_MS)


def _send(page: Any, text: str) -> None:
    page.locator("#tr-input textarea").fill(text)
    page.locator("#tr-send").click()


def test_chat_cards_like_reload_and_screenshot(server: str, browser: Any, tmp_path: Path) -> None:
    rec = shared_recommender()
    page = browser.new_page(viewport={"width": 1360, "height": 1250})
    page.set_default_timeout(TURN_MS)  # every wait ends as soon as its condition holds; CI machines are busy
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _open(page, server + "/")
    picker = page.locator("#tr-user input")
    picker.click()
    picker.fill("")
    picker.press_sequentially("196", delay=30)  # the dropdown filters on key events
    page.locator('[data-testid="dropdown-option"][aria-label^="196 "]').first.click()
    page.wait_for_function("document.querySelector('#tr-status').innerText.includes('as user 196')")

    _send(page, "Recommend 5 movies for tonight")
    cards = page.locator("#tr-cards .tr-card")
    cards.nth(2).wait_for(timeout=TURN_MS)
    assert cards.count() >= 3
    badges = page.locator("#tr-cards .tr-card .tr-badge")
    assert badges.count() == cards.count()
    assert all(t.startswith("Trust ") for t in badges.all_inner_texts())
    assert "calibrated confidence" in cards.first.inner_text()
    page.locator("#tr-shap img").first.wait_for(timeout=TURN_MS)  # matplotlib figures arrive as PNG

    # like the selected card (#1 by default), then find the event in the store
    first_item = cards.first.get_attribute("data-item-id")
    first_title = cards.first.locator(".tr-title").inner_text()
    page.locator("#tr-like").click()
    page.wait_for_function("document.querySelector('#tr-status').innerText.startsWith('Liked')", timeout=TURN_MS)
    from catalog import Store

    deadline, events = time.monotonic() + 30, []
    while time.monotonic() < deadline and not events:
        with Store(rec.engine.workspace.store_path) as store:
            events = [
                e
                for e in store.feedback(user_id="196")
                if e.item_id == first_item and e.kind == "like" and e.session_id.startswith("web-")
            ]  # other UI tests share this store: count only the browser's own session events
        time.sleep(0.2)
    assert len(events) == 1 and events[0].event_id.startswith("ui-")
    memory = page.locator("#tr-memory").inner_text()
    assert first_title.split(" (")[0] in memory

    shot = tmp_path / "screenshot.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("TRUSTREC_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["TRUSTREC_SCREENSHOT"])

    # HTML typed into the chat is shown as text, never run
    _send(page, '<img src=x onerror="window.__pwned=1"> hello')
    page.get_by_text('<img src=x onerror="window.__pwned=1"> hello').first.wait_for(timeout=TURN_MS)
    assert page.evaluate("window.__pwned") is None

    # the session (and its transcript) survives a reload
    page.reload(wait_until="domcontentloaded", timeout=TURN_MS)
    page.get_by_text("Recommend 5 movies for tonight").first.wait_for(timeout=TURN_MS)
    # the cards are restored after the transcript (and the last turn may still have been running at the reload):
    # wait for them instead of counting at once
    restored = page.locator("#tr-cards .tr-card")
    restored.nth(2).wait_for(timeout=TURN_MS)
    assert restored.count() >= 3 and page.locator("#tr-cards .tr-card .tr-badge").count() == restored.count()
    assert not errors, errors
    page.close()


def test_new_user_sees_onboarding_cold_start_words_and_a_chart(server: str, browser: Any) -> None:
    rec = shared_recommender()
    page = browser.new_page(viewport={"width": 1360, "height": 1250})
    page.set_default_timeout(TURN_MS)  # every wait ends as soon as its condition holds; CI machines are busy
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _open(page, server + "/")
    assert page.locator("#tr-user input").input_value().startswith("New user")  # the default: no history

    _send(page, "I'd like a comedy. Show me 5.")
    cards = page.locator("#tr-cards .tr-card")
    cards.nth(2).wait_for(timeout=TURN_MS)
    chips = page.locator("button.tr-onboard:visible")
    chips.first.wait_for(timeout=TURN_MS)
    assert "New here?" in page.locator("#tr-onboard-hint").inner_text()
    offered = chips.all_inner_texts()
    assert len(offered) == 5
    titles = {rec.engine.vocab.label(it.item_id) for it in rec.engine.dataset.items}
    assert all(t.strip() in titles for t in offered), offered  # catalog titles as people write them, shown as text
    assert "New here?" in page.locator("#tr-chat").inner_text()
    assert "new to you: this rests on" in cards.first.inner_text()  # the cold-start flag in words
    img = page.locator("#tr-shap img").first
    img.wait_for(timeout=TURN_MS)
    assert page.evaluate("(el) => el.naturalWidth * el.naturalHeight", img.element_handle()) > 100 * 100
    if os.environ.get("TRUSTREC_SCREENSHOT_NEW_USER"):  # what a new person sees first, for review
        page.screenshot(path=os.environ["TRUSTREC_SCREENSHOT_NEW_USER"], full_page=True)

    # a click on an offered title is a like for this session and brings a new list
    picked = offered[0].strip()
    chips.first.click()
    page.wait_for_function("document.querySelector('#tr-status').innerText.startsWith('Liked')", timeout=TURN_MS)
    assert picked.rsplit(" (", 1)[0] in page.locator("#tr-memory").inner_text()
    item_id = next(it.item_id for it in rec.engine.dataset.items if rec.engine.vocab.label(it.item_id) == picked)
    from catalog import Store

    with Store(rec.engine.workspace.store_path) as store:
        likes = [e for e in store.feedback() if e.item_id == item_id and e.kind == "like" and e.user_id is None]
    assert any(e.session_id.startswith("web-") and e.event_id.startswith("ui-") for e in likes)
    assert page.locator("button.tr-onboard:visible").count() == 4  # the other offered titles stay clickable
    page.get_by_text(f"I liked {picked}").first.wait_for(timeout=TURN_MS)  # the click shows as the user's turn
    assert not errors, errors
    page.close()
