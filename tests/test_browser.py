"""End-to-end tests of the Gradio chat in a real headless Chromium (Debian's /usr/bin/chromium),
against the live server of conftest.py: the real app over the two seed articles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
KREMLIN_DOC = "001_526304c45c6c8f07"  # the seed article about the Kremlin and Peskov
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWER_TIMEOUT_MS = 30_000
UI_TIMEOUT_MS = 15_000

KREMLIN_QUESTION = "Chi è il portavoce del Cremlino?"
FOLLOW_UP_QUESTION = "E cosa ha detto delle truppe nordcoreane?"
OFF_TOPIC_QUESTION = "Qual è la ricetta della carbonara?"
ABSTENTION = "Non ho trovato la risposta negli articoli"

pytestmark = [
    pytest.mark.browser,
    # Checked before any fixture runs, so a missing browser does not start the live server.
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent (install Debian's chromium: `make browser`)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # belt and braces: the module mark already skips
        pytest.skip(f"{CHROMIUM} is absent (install Debian's chromium: `make browser`)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def open_chat(browser: Browser, url: str) -> Page:
    """A new page in a new browser context (a separate user), with the chat loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{url}/")
    expect(question_box(page)).to_be_editable()
    return page


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    chat = open_chat(browser, live_server)
    yield chat
    chat.context.close()


def question_box(page: Page) -> Locator:
    return page.locator("#question textarea")


def bot_messages(page: Page) -> Locator:
    return page.locator('#chat [data-testid="bot"]')


def user_messages(page: Page) -> Locator:
    return page.locator('#chat [data-testid="user"]')


def ask(page: Page, question: str) -> Locator:
    """Type `question`, press Enter and wait for the whole reply; returns the new bot message."""
    before = bot_messages(page).count()
    box = question_box(page)
    box.fill(question)
    box.press("Enter")
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    # Gradio disables the textbox while the callback runs and shows a pending bubble.
    expect(page.locator("#chat .pending")).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    expect(box).to_be_editable(timeout=ANSWER_TIMEOUT_MS)
    reply = bot_messages(page).nth(before)
    expect(reply).not_to_be_empty()
    return reply


def collapse(text: str) -> str:
    return " ".join(text.split())


def answer_part(reply: Locator) -> str:
    """The rendered answer sentences, without the sources list."""
    return reply.inner_text().split("Fonti")[0]


def article_body(doc_id: str) -> str:
    """A seed article's text after its leading ` date YYYY-MM-DD ` marker, whitespace collapsed."""
    raw = (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")
    marker = re.match(r"\s*date\s+(\d{4}-\d{2}-\d{2})\s", raw)
    assert marker is not None, f"{doc_id}.txt does not start with a date marker"
    return collapse(raw[marker.end() :])


def assert_kremlin_answer(reply: Locator) -> None:
    answer = answer_part(reply)
    assert "Peskov" in answer
    assert "[1]" in answer, "the answer has no citation marker"
    # Markdown rendered, not shown raw: a bold "Fonti" heading and a numbered list.
    expect(reply.locator("strong", has_text="Fonti")).to_be_visible()
    assert "**" not in reply.inner_text()
    first_source = reply.locator("ol > li").first
    expect(first_source).to_contain_text("2025-09-05")
    expect(first_source).to_contain_text(f"{KREMLIN_DOC}.txt")
    expect(first_source).to_contain_text(re.compile(r"\[\d+–\d+\]"))
    quote = collapse(first_source.locator("blockquote").inner_text())
    assert len(quote) > 40, f"suspiciously short quote: {quote!r}"
    assert "Peskov" in quote
    assert quote in article_body(KREMLIN_DOC), f"quote not verbatim in the article: {quote!r}"


def test_answer_with_citation_date_and_verbatim_quote(page: Page) -> None:
    reply = ask(page, KREMLIN_QUESTION)
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first).to_contain_text(KREMLIN_QUESTION)
    assert_kremlin_answer(reply)
    # Every quote shown must be verbatim article text, not just the first one.
    body = article_body(KREMLIN_DOC)
    for quote in reply.locator(f"ol > li:has-text('{KREMLIN_DOC}') blockquote").all():
        assert collapse(quote.inner_text()) in body


def test_follow_up_in_the_same_chat(page: Page) -> None:
    first = ask(page, KREMLIN_QUESTION)
    assert_kremlin_answer(first)
    second = ask(page, FOLLOW_UP_QUESTION)
    expect(user_messages(page)).to_have_count(2)
    expect(bot_messages(page)).to_have_count(2)
    assert "nordcorean" in answer_part(second).lower()
    expect(second.locator("strong", has_text="Fonti")).to_be_visible()
    # The first exchange is still shown, unchanged, above the follow-up.
    expect(bot_messages(page).first).to_contain_text("Peskov")


def test_off_topic_question_abstains_in_italian(page: Page) -> None:
    reply = ask(page, OFF_TOPIC_QUESTION)
    expect(reply).to_contain_text(ABSTENTION)
    expect(reply.locator("strong", has_text="Fonti")).to_have_count(0)
    expect(reply.locator("blockquote")).to_have_count(0)


def test_two_users_do_not_share_chat_history(browser: Browser, live_server: str) -> None:
    user_a = open_chat(browser, live_server)
    user_b = open_chat(browser, live_server)
    try:
        ask(user_a, KREMLIN_QUESTION)
        expect(user_messages(user_a)).to_have_count(1)

        fresh_b = open_chat(browser, live_server)  # a user arriving after A's exchange
        try:
            expect(user_messages(fresh_b)).to_have_count(0)
            expect(bot_messages(fresh_b)).to_have_count(0)
            # Not even as a bubble of another kind (the example buttons do show this question).
            expect(fresh_b.locator("#chat .message-row")).to_have_count(0)
        finally:
            fresh_b.context.close()

        # B's page, open all along, never received A's messages; B's own chat stays B's.
        expect(user_messages(user_b)).to_have_count(0)
        expect(bot_messages(user_b)).to_have_count(0)
        expect(user_b.locator("#chat .message-row")).to_have_count(0)
        reply_b = ask(user_b, OFF_TOPIC_QUESTION)
        expect(reply_b).to_contain_text(ABSTENTION)
        expect(user_messages(user_b)).to_have_count(1)
        expect(user_b.locator("#chat")).not_to_contain_text("Peskov")
        expect(user_messages(user_a)).to_have_count(1)
        expect(user_a.locator("#chat")).not_to_contain_text(OFF_TOPIC_QUESTION)
    finally:
        user_a.context.close()
        user_b.context.close()
