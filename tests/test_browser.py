"""End-to-end tests of the chat page in a real headless Chromium (Debian's /usr/bin/chromium,
never a downloaded browser) against live servers on loopback: the read-only seeds server of
conftest.py, and a writable one of this module for uploads, deletions and the XSS test.

Screenshots go to test-artifacts/browser/; `NEWSRAG_UPDATE_SCREENSHOT=1` also refreshes the
README's docs/screenshot.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from rag.service import NewsQA
from tests.conftest import SEEDS, make_service, serve_app
from ui.labels import LABELS
from ui.messages import EXAMPLES, MESSAGES
from vectorstore.embeddings import LocalEmbedder

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
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
AGENCY_FOLLOW_UP = "A quale agenzia ha parlato?"
OFF_TOPIC_QUESTION = "Qual è la ricetta della carbonara?"
ABSTENTION = "Non ho trovato la risposta negli articoli"

UPLOADED = """---
title: Il nuovo ponte di Trebisacce
date: 2025-10-02
---
Il comune di Trebisacce ha inaugurato giovedì il nuovo ponte sul torrente Saraceno.
L'opera è costata quattro milioni di euro ed è stata finanziata dalla Regione Calabria.
Il sindaco ha detto che il ponte collegherà i due quartieri in cinque minuti.
"""
XSS = """---
title: Allarme <img src=x onerror="window.__pwned=1"> <script>window.__pwned=1</script>
date: 2025-10-03
---
Il consiglio comunale di Roccalumera ha approvato <script>window.__pwned=1</script> il bilancio.
La seduta sul bilancio <img src=x onerror="window.__pwned=1;alert(1)"> è durata sei ore.
Il bilancio di Roccalumera prevede [un link](javascript:alert(1)) nuove scuole e strade.
"""

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
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def writable_server(
    tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder
) -> Iterator[str]:
    """A server over its own copy of the seeds, for tests that upload or delete."""
    from rag.http.app import create_app

    service = make_service(tmp_path_factory.mktemp("browser-store"), embedder)
    service.ingest([SEEDS])
    with serve_app(create_app(service)) as url:
        yield url


# Counts the partial results ("process_generating" messages) in the page's queue event
# stream, read from a clone of the fetch response the Gradio client itself reads.
COUNT_PARTIALS = """
(() => {
  window.__partials = 0;
  const original = window.fetch;
  window.fetch = async (...args) => {
    const response = await original(...args);
    const url = String((args[0] && args[0].url) || args[0]);
    if (url.includes("/queue/data") && response.body) {
      const reader = response.clone().body.getReader();
      const decoder = new TextDecoder();
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const text = decoder.decode(value, { stream: true });
          window.__partials += (text.match(/"process_generating"/g) || []).length;
        }
      })();
    }
    return response;
  };
})();
"""


def open_chat(browser: Browser, url: str, locale: str = "it-IT") -> Page:
    """A new page in a new browser context (a separate user), with the chat loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.add_init_script(COUNT_PARTIALS)
    page = context.new_page()
    page.on("dialog", lambda d: pytest.fail(f"a dialog opened: {d.message}"))
    page.goto(f"{url}/")
    expect(question_box(page)).to_be_editable()
    return page


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    chat = open_chat(browser, live_server)
    yield chat
    chat.context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def question_box(page: Page) -> Locator:
    return page.locator("#question textarea")


def bot_messages(page: Page) -> Locator:
    return page.locator('#chat [data-testid="bot"]')


def user_messages(page: Page) -> Locator:
    return page.locator('#chat [data-testid="user"]')


def ask(page: Page, question: str) -> Locator:
    """Type `question`, press Enter and wait for the reply to arrive; returns the new bot
    message. Its last streamed pieces may still be coming: `answer_part` and auto-waiting
    `expect`s wait for them."""
    before = bot_messages(page).count()
    box = question_box(page)
    box.fill(question)
    box.press("Enter")
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#chat .pending")).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    expect(box).to_be_editable(timeout=ANSWER_TIMEOUT_MS)
    reply = bot_messages(page).nth(before)
    expect(reply).not_to_be_empty()
    return reply


def collapse(text: str) -> str:
    return " ".join(text.split())


def answer_part(reply: Locator) -> str:
    """The rendered answer sentences, without the sources list, once the final answer is in:
    the sources heading comes only with it (before, the text may still be streaming)."""
    heading = reply.locator("strong", has_text=re.compile(r"^(Fonti|Sources)$"))
    expect(heading).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return re.split(r"\bFonti\b|\bSources\b", reply.inner_text())[0]


def api_answer(url: str, question: str) -> dict[str, object]:
    response = httpx.post(f"{url}/api/v1/ask", json={"question": question}, timeout=30)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def not_pwned(page: Page) -> None:
    assert page.evaluate("() => typeof window.__pwned") == "undefined", "article script ran"


def assert_kremlin_answer(reply: Locator) -> None:
    answer = answer_part(reply)
    assert "Peskov" in answer
    assert "[1]" in answer, "the answer has no citation marker"
    expect(reply.locator("strong", has_text="Fonti")).to_be_visible()
    assert "**" not in reply.inner_text()
    first_source = reply.locator("ol > li").first
    expect(first_source).to_contain_text("2025-09-05")
    expect(first_source).to_contain_text(f"{KREMLIN_DOC}.txt")
    expect(first_source).to_contain_text(re.compile(r"\[\d+–\d+\]"))


def test_streamed_answer_citation_click_highlights_the_quote(page: Page, live_server: str) -> None:
    # The page's queue stream (server-sent events) carries the reply as it grows: several
    # partial messages before the final one (the DOM may merge updates that arrive together).
    reply = ask(page, KREMLIN_QUESTION)
    assert_kremlin_answer(reply)
    partials = page.evaluate("() => window.__partials")
    assert partials >= 3, f"the answer did not stream ({partials} partial messages)"

    expected = api_answer(live_server, KREMLIN_QUESTION)
    citations = expected["citations"]
    assert isinstance(citations, list) and citations
    first = citations[0]
    # The answer is the verbatim quote, shown once: the reference does not repeat it.
    assert collapse(first["quote"]) in collapse(answer_part(reply))
    assert collapse(reply.inner_text()).count(collapse(first["quote"])) == 1
    expect(reply.locator("blockquote")).to_have_count(0)
    shot(page, "01-answer")

    # The [1] marker in the answer text and the title in the reference list open the same span.
    marker = reply.locator('p a[href^="#cite:"]').first
    title_link = reply.locator("ol > li").first.locator('a[href^="#cite:"]')
    assert marker.get_attribute("href") == title_link.get_attribute("href")
    title_link.click()
    mark = page.locator("#article mark#cite-mark")
    expect(mark).to_be_visible()
    assert mark.inner_text() == first["quote"]  # highlighted span == the cited quote, exactly
    expect(page.locator("#article h3")).to_have_text(first["title"])
    expect(page.locator("#article .cite-meta")).to_contain_text("2025-09-05")
    # The whole article is there around the highlight.
    article = httpx.get(f"{live_server}/api/v1/documents/{KREMLIN_DOC}", timeout=10).json()
    body = page.locator("#article .cite-body").inner_text()
    assert collapse(body) == collapse(article["body"])
    shot(page, "02-citation-highlighted")
    if os.environ.get("NEWSRAG_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))


def test_the_answering_span_is_highlighted_inside_the_quote(page: Page, live_server: str) -> None:
    """The words that answer the question (here a person's name) are marked inside the
    verbatim quote, in the answer text, and nowhere else."""
    reply = ask(page, KREMLIN_QUESTION)
    assert_kremlin_answer(reply)
    citations = api_answer(live_server, KREMLIN_QUESTION)["citations"]
    assert isinstance(citations, list) and citations
    quotes = [c["quote"] for c in citations]
    marks = reply.locator("p mark")
    expect(marks.first).to_be_visible()
    assert marks.count() <= len(quotes)  # at most one highlight per quote
    expect(reply.locator("ol mark")).to_have_count(0)  # not in the sources list
    for i in range(marks.count()):
        marked = marks.nth(i).inner_text()
        assert marked.strip() and any(marked in q for q in quotes), marked
    first = marks.first
    assert "Peskov" in first.inner_text()  # a person's name, not the whole sentence
    assert collapse(first.inner_text()) != collapse(quotes[0])
    # The mark sits in the answer paragraph that holds the whole quote, character for character.
    holder = reply.locator("p", has=page.locator("mark")).first
    assert collapse(quotes[0]) in collapse(holder.inner_text())
    background = first.evaluate("m => getComputedStyle(m).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), "the span is not highlighted"
    shot(page, "06-answering-span")


# Every Italian word of the page's own labels, hints, examples and messages (not the
# articles'): none may be left once the page is switched to English.
ITALIAN_UI = sorted(
    {*LABELS["it"].values(), *MESSAGES["it"].values(), *EXAMPLES["it"]}
    - {*LABELS["en"].values(), *MESSAGES["en"].values()}
)
ITALIAN_WORDS = re.compile(
    r"\b(Domand[ae]|esempio|Clicca|fonte|Fonti|articol[oi]|Articol[oi]|Lingua|Conversazione|"
    r"Cancella|Documenti|Carica|trascina|Elimina|Aggiorna|Titolo|Frammenti|citazione|"
    r"evidenziata|raccolta|fino al|dal|aggiunti|scartato|Richiesta|Chi|Cosa|Quant[eio]|Dove)\b"
)
# The page's visible text and the attributes a reader meets (placeholders, tooltips, the
# names read aloud), leaving out what comes from the articles: chat messages, the cited
# article's text, the documents table's cells.
PAGE_CHROME_JS = """
() => {
  const content = "#chat .message-row, #article .cited-article, #documents td";
  const visible = (el) => el.offsetParent !== null || el.getClientRects().length > 0;
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(content) || el.closest("script, style") || !visible(el)) continue;
    if (node.textContent.trim()) texts.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll("[placeholder], [aria-label], [title], [alt]")) {
    if (el.closest(content) || !visible(el)) continue;
    for (const a of ["placeholder", "aria-label", "title", "alt"]) {
      const v = el.getAttribute(a);
      if (v && v.trim()) texts.push(v.trim());
    }
  }
  return texts.join("\\n");
}
"""


def assert_no_italian_chrome(page: Page, where: str) -> None:
    chrome = page.evaluate(PAGE_CHROME_JS)
    assert len(chrome) > 100, chrome  # the page's labels were collected
    left = [s for s in ITALIAN_UI if s in chrome] + ITALIAN_WORDS.findall(chrome)
    assert not left, f"Italian left on the English page ({where}): {left}\n{chrome}"


def test_the_english_page_has_no_italian_label_left(browser: Browser, live_server: str) -> None:
    """An Italian browser switched to English: every label, placeholder, hint, example and
    the answer's own words are English (the quotes stay Italian: they are the articles')."""
    page = open_chat(browser, live_server, locale="it-IT")
    try:
        expect(page.locator("#clear")).to_have_text("Cancella conversazione")
        expect(page.get_by_text(EXAMPLES["it"][0], exact=True)).to_be_visible()
        page.locator("#lang").get_by_text("en", exact=True).click()
        expect(page.locator("#clear")).to_have_text("Clear conversation")
        expect(page.get_by_text(LABELS["en"]["examples"], exact=True)).to_be_visible()
        expect(page.locator("#article")).to_have_text(LABELS["en"]["article_hint"])
        for question in EXAMPLES["en"]:
            expect(page.get_by_role("button", name=question)).to_be_visible()
        assert_no_italian_chrome(page, "chat tab")

        # An English example question fills the box, and its answer quotes an Italian
        # article under English headings.
        page.get_by_role("button", name=EXAMPLES["en"][0]).click()
        expect(question_box(page)).to_have_value(EXAMPLES["en"][0])
        reply = ask(page, EXAMPLES["en"][0])
        expect(reply.locator("strong", has_text="Sources")).to_be_visible()
        expect(reply).not_to_contain_text("Fonti")
        expect(reply).to_contain_text("nazioni")  # the quote, verbatim Italian
        reply.locator('a[href^="#cite:"]').first.click()
        expect(page.locator("#article mark#cite-mark")).to_be_visible()
        assert_no_italian_chrome(page, "after an answer")
        shot(page, "07-english-page")

        page.get_by_role("tab", name="Documents").click()
        expect(page.locator("#documents")).to_contain_text("Il Cremlino")
        expect(page.locator("#documents th").first).to_contain_text("Title")
        assert_no_italian_chrome(page, "documents tab")

        # And back: the switch brings the Italian words back, examples included.
        page.locator("#lang").get_by_text("it", exact=True).click()
        expect(page.get_by_role("tab", name="Documenti")).to_be_visible()
        page.get_by_role("tab", name="Chat").click()
        expect(page.get_by_role("button", name=EXAMPLES["it"][0])).to_be_visible()
        expect(page.get_by_text(LABELS["it"]["examples"], exact=True)).to_be_visible()
    finally:
        page.context.close()


def test_the_page_requests_nothing_outside_its_server(browser: Browser, live_server: str) -> None:
    """No web fonts, analytics or CDN: every request the page makes goes to the server."""
    context = browser.new_context(locale="it-IT")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(f"{live_server}/")
        ask(page, KREMLIN_QUESTION)
        page.get_by_role("tab", name="Documenti").click()
        expect(page.locator("#documents")).to_contain_text("Il Cremlino")
        outside = [u for u in requests if not u.startswith((live_server, "data:", "blob:"))]
        assert len(requests) > 5 and outside == []
    finally:
        context.close()


def test_follow_up_in_the_same_chat(page: Page) -> None:
    first = ask(page, KREMLIN_QUESTION)
    assert_kremlin_answer(first)
    second = ask(page, FOLLOW_UP_QUESTION)
    expect(user_messages(page)).to_have_count(2)
    expect(bot_messages(page)).to_have_count(2)
    assert "nordcorean" in answer_part(second).lower()
    expect(bot_messages(page).first).to_contain_text("Peskov")


def test_a_follow_up_reuses_the_previous_answers_sentence(page: Page, live_server: str) -> None:
    """A detail asked for sits in the sentence just quoted ("A quale agenzia ha parlato?"
    after the Peskov sentence that names RIA): that sentence answers again, verbatim from
    the article, with the agency marked, instead of an unrelated quote."""
    first = ask(page, KREMLIN_QUESTION)
    assert_kremlin_answer(first)
    second = ask(page, AGENCY_FOLLOW_UP)
    answer = collapse(answer_part(second))
    article = httpx.get(f"{live_server}/api/v1/documents/{KREMLIN_DOC}", timeout=10).json()
    quote = next(line for line in article["body"].splitlines() if "agenzia statale RIA" in line)
    assert collapse(quote) in answer, answer
    assert collapse(quote) in collapse(answer_part(first))  # the same sentence as before
    marks = second.locator("p mark")
    expect(marks.first).to_have_text("RIA")
    shot(page, "07-follow-up-reuses-the-sentence")


def test_off_topic_abstains_and_clear_conversation(page: Page) -> None:
    reply = ask(page, OFF_TOPIC_QUESTION)
    expect(reply).to_contain_text(ABSTENTION)
    expect(reply.locator("blockquote")).to_have_count(0)
    page.locator("#clear").click()
    expect(page.locator("#chat .message-row")).to_have_count(0)
    # An example question fills the box; the new chat has no memory of the cleared one.
    page.get_by_role("button", name=KREMLIN_QUESTION).first.click()
    expect(question_box(page)).to_have_value(KREMLIN_QUESTION)
    ask(page, KREMLIN_QUESTION)
    expect(user_messages(page)).to_have_count(1)


def test_copy_button_copies_the_answer(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reply = ask(page, KREMLIN_QUESTION)
    reply.hover()
    page.locator('#chat button[aria-label="Copy message"]').last.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "Peskov" in copied


def test_labels_follow_the_browser_language_and_the_switch(
    browser: Browser, live_server: str
) -> None:
    english = open_chat(browser, live_server, locale="en-US")
    try:
        expect(english.locator("#clear")).to_have_text("Clear conversation")
        expect(english.get_by_role("tab", name="Documents")).to_be_visible()
        english.locator("#lang").get_by_text("it", exact=True).click()
        expect(english.locator("#clear")).to_have_text("Cancella conversazione")
        expect(english.get_by_role("tab", name="Documenti")).to_be_visible()
    finally:
        english.context.close()
    italian = open_chat(browser, live_server, locale="it-IT")
    try:
        expect(italian.locator("#clear")).to_have_text("Cancella conversazione")
    finally:
        italian.context.close()


def test_two_users_do_not_share_chat_history(browser: Browser, live_server: str) -> None:
    user_a = open_chat(browser, live_server)
    user_b = open_chat(browser, live_server)
    try:
        ask(user_a, KREMLIN_QUESTION)
        expect(user_messages(user_a)).to_have_count(1)
        fresh_b = open_chat(browser, live_server)  # a user arriving after A's exchange
        try:
            expect(fresh_b.locator("#chat .message-row")).to_have_count(0)
        finally:
            fresh_b.context.close()
        expect(user_b.locator("#chat .message-row")).to_have_count(0)
        reply_b = ask(user_b, OFF_TOPIC_QUESTION)
        expect(reply_b).to_contain_text(ABSTENTION)
        expect(user_b.locator("#chat")).not_to_contain_text("Peskov")
        expect(user_a.locator("#chat")).not_to_contain_text(OFF_TOPIC_QUESTION)
    finally:
        user_a.context.close()
        user_b.context.close()


# --- the Documents tab (writable server) --------------------------------------------------
def open_documents(page: Page) -> Locator:
    page.get_by_role("tab", name="Documenti").click()
    table = page.locator("#documents")
    expect(table).to_be_visible()
    return table


def set_date(page: Page, elem_id: str, value: str) -> None:
    """Type a day into one of the date inputs (empty clears it) and commit it."""
    box = page.locator(f"{elem_id} input").first
    box.fill(value)
    box.press("Enter")
    box.blur()
    expect(box).to_have_value(value)


def expect_rows(table: Locator, n: int) -> None:
    """The documents grid (a virtual table) has `n` data rows besides its header."""
    expect(table.locator("[role=grid]")).to_have_attribute("aria-rowcount", str(n + 1))


def upload(page: Page, path: Path) -> None:
    page.locator("#upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#documents-status")).to_contain_text(path.name, timeout=ANSWER_TIMEOUT_MS)


def test_documents_upload_ask_and_delete(
    browser: Browser, writable_server: str, tmp_path: Path
) -> None:
    page = open_chat(browser, writable_server)
    try:
        table = open_documents(page)
        expect(table).to_contain_text("Il Cremlino ha dichiarato")
        expect_rows(table, 2)
        article = tmp_path / "ponte_trebisacce.md"
        article.write_text(UPLOADED, encoding="utf-8")
        upload(page, article)
        expect(page.locator("#documents-status")).to_contain_text("aggiunti: 1")
        expect_rows(table, 3)
        expect(table).to_contain_text("Il nuovo ponte di Trebisacce")
        expect(table).to_contain_text("2025-10-02")
        shot(page, "03-documents-uploaded")

        page.get_by_role("tab", name="Chat").click()
        reply = ask(page, "Quanto è costato il ponte di Trebisacce?")
        expect(reply).to_contain_text("quattro milioni di euro")
        expect(reply.locator("ol > li").first).to_contain_text("Il nuovo ponte di Trebisacce")
        reply.locator("ol > li").first.locator('a[href^="#cite:"]').click()
        expect(page.locator("#article mark")).to_contain_text("quattro milioni di euro")
        shot(page, "04-uploaded-article-cited")

        # The date filter: up to September the October article is out of reach; from October
        # it is found again (and the September seed articles are not).
        set_date(page, "#date-to", "2025-09-30")
        filtered = ask(page, "Quanto è costato il ponte di Trebisacce?")
        expect(filtered).not_to_contain_text("quattro milioni")
        expect(filtered).not_to_contain_text("Il nuovo ponte di Trebisacce")
        set_date(page, "#date-to", "")
        set_date(page, "#date-from", "2025-10-01")
        dated = ask(page, "Quanto è costato il ponte di Trebisacce?")
        expect(dated).to_contain_text("quattro milioni di euro")
        later = ask(page, "Chi è il portavoce del Cremlino?")
        expect(later).not_to_contain_text("Peskov")
        set_date(page, "#date-from", "")

        open_documents(page)
        page.locator("#delete-id input").click()
        page.get_by_role("option", name=re.compile("Il nuovo ponte di Trebisacce")).click()
        page.locator("#delete").click()
        expect_rows(table, 2)
        expect(table).not_to_contain_text("Trebisacce")
        docs = httpx.get(f"{writable_server}/api/v1/documents", timeout=10).json()
        assert docs["count"] == 2
    finally:
        page.context.close()


def test_article_html_never_runs(browser: Browser, writable_server: str, tmp_path: Path) -> None:
    page = open_chat(browser, writable_server)
    try:
        open_documents(page)
        article = tmp_path / "roccalumera.md"
        article.write_text(XSS, encoding="utf-8")
        upload(page, article)
        expect(page.locator("#documents")).to_contain_text("<script>window.__pwned=1</script>")
        not_pwned(page)

        page.get_by_role("tab", name="Chat").click()
        # Asked so that the sentence holding the <img> tag answers first (its source is opened).
        reply = ask(page, "Quanto è durata la seduta?")
        expect(reply).to_contain_text("sei ore")
        expect(reply).to_contain_text('<img src=x onerror="window.__pwned=1;alert(1)">')
        expect(reply.locator("img")).to_have_count(0)
        expect(reply.locator("script")).to_have_count(0)
        expect(reply.locator('a[href^="javascript:"]')).to_have_count(0)
        source = reply.locator("ol > li").first
        expect(source).to_contain_text("<script>window.__pwned=1</script>")  # the title, as text
        source.locator('a[href^="#cite:"]').click()
        expect(page.locator("#article mark")).to_contain_text("<img src=x onerror=")
        expect(page.locator("#article h3")).to_contain_text("<script>window.__pwned=1</script>")
        expect(page.locator("#article img")).to_have_count(0)
        page.wait_for_timeout(500)  # an onerror handler would have fired by now
        not_pwned(page)
        shot(page, "05-xss-rendered-as-text")
    finally:
        page.context.close()


def test_login_when_an_api_key_is_set(browser: Browser, seeded: NewsQA) -> None:
    from pydantic import SecretStr

    from rag.http.app import create_app

    key = "browser-test-key-42"
    settings = seeded.settings.model_copy(update={"api_key": SecretStr(key)})
    with serve_app(create_app(NewsQA(settings, seeded.store, seeded.embedder))) as url:
        context = browser.new_context(locale="it-IT")
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = context.new_page()
        try:
            page.goto(f"{url}/")
            expect(page.get_by_text("chiave API")).to_be_visible()
            expect(question_box(page)).to_have_count(0)
            page.get_by_label(re.compile("password", re.I)).fill(key)
            page.get_by_label(re.compile("username|utente", re.I)).fill("lettore")
            page.get_by_role("button", name=re.compile("login|accedi", re.I)).click()
            expect(question_box(page)).to_be_editable()
            assert "Peskov" in answer_part(ask(page, KREMLIN_QUESTION))
        finally:
            context.close()
