"""The Gradio page: streaming chat with clickable citations and the cited article highlighted,
a date filter, a Documents tab (list, upload, delete); every label, hint, example and
message in Italian or English (the browser's language, then the page's switch).

Callbacks parse input, call the service, format output (ui.format). Conversation state
lives in each browser session's Chatbot value (Gradio passes it to the callbacks);
nothing is kept at module level, so nothing is shared between users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from rag.errors import InputError, NewsragError
from rag.service import NewsQA
from ui.format import (
    article_hint,
    article_html,
    delete_summary,
    document_choices,
    document_rows,
    error_text,
    format_events,
    history_for_service,
    note_html,
    parse_citation_ref,
    parse_day,
    relabel_panel,
    upload_summary,
)
from ui.labels import LANGUAGES, label, pick_language
from ui.messages import examples, message
from vectorstore.ingest import IngestReport
from vectorstore.loaders import SUPPORTED_SUFFIXES

# Queue limits, chosen on purpose (see README, "Serving"): an answer is a few milliseconds of
# CPU, so four at a time keep both cores busy without starving the API's threadpool; at most
# 64 waiting requests, beyond which users get "queue full" at once instead of a long wait.
CONCURRENCY_LIMIT = 4
QUEUE_MAX_SIZE = 64

# A click on a citation link (`#cite:…`, made by ui.format) opens that article in the side
# panel: the link's reference goes into a hidden textbox and a hidden button submits it.
HEAD = """
<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#cite:"]');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const box = document.querySelector("#cite-ref textarea");
  const open = document.querySelector("#cite-open");
  if (!box || !open) return;
  box.value = link.getAttribute("href");
  box.dispatchEvent(new Event("input", { bubbles: true }));
  setTimeout(() => open.click(), 0);
}, true);
</script>
"""
CSS = """
#article .cite-body { white-space: pre-wrap; line-height: 1.5; }
#article mark { background: #ffe066; padding: 0 2px; }
#article .cite-meta { color: #666; }
#article .cite-note { color: #a33; }
#chat mark { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
"""
# The browser's language, as one of the switch's choices (pick_language does the same in
# Python); the article panel passes through unchanged.
DETECT_LANGUAGE_JS = (
    "(lang, panel) => [((navigator.language || '').toLowerCase().startsWith('it') ? 'it' : 'en'),"
    " panel]"
)
SCROLL_TO_MARK_JS = (
    "() => { const m = document.querySelector('#cite-mark'); "
    "if (m) m.scrollIntoView({block: 'center'}); }"
)


def _headers(lang: str) -> list[str]:
    return [label(lang, k) for k in ("col_title", "col_date", "col_chunks", "col_id")]


def build_ui(service: NewsQA) -> gr.Blocks:
    """The page for one service; every callback is a thin wrapper over a `NewsQA` method."""

    def respond(
        message: str, history: list[dict[str, Any]], lang: str, day_from: Any, day_to: Any
    ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        if not message.strip():
            yield history, message  # nothing asked: nothing to answer
            return
        shown = [*history, {"role": "user", "content": message}]
        try:
            events = service.ask_stream(
                message,
                history=history_for_service(history),
                date_from=parse_day(day_from),
                date_to=parse_day(day_to),
            )
            for text in format_events(events, lang):
                yield [*shown, {"role": "assistant", "content": text}], ""
        except NewsragError as exc:
            yield [*shown, {"role": "assistant", "content": error_text(exc, lang)}], ""

    def chat(message: str) -> Iterator[str]:
        """One question, no history: the answer's Markdown as it grows (for gradio_client)."""
        try:
            yield from format_events(service.ask_stream(message))
        except NewsragError as exc:
            yield error_text(exc)

    def pick_example(sample: list[str]) -> str:
        return sample[0]

    def open_citation(ref: str, lang: str) -> str:
        try:
            cite = parse_citation_ref(ref)
        except InputError:
            return note_html(message(lang, "invalid_request"))  # not a link the page made
        article = service.article(cite.doc_id)
        if article is None:
            return note_html(label(lang, "article_missing"))
        return article_html(article.title, article.date, article.source, article.body, cite, lang)

    def clear(lang: str) -> tuple[list[dict[str, Any]], str, str]:
        return [], "", article_hint(lang)

    def list_documents(lang: str) -> tuple[Any, Any]:
        documents = service.documents()
        return (
            gr.Dataframe(value=document_rows(documents), headers=_headers(lang)),
            gr.Dropdown(choices=document_choices(documents), value=None),
        )

    def upload(files: list[str] | None, lang: str) -> tuple[Any, ...]:
        results: list[tuple[str, IngestReport]] = []
        try:
            for path in files or []:
                name = Path(path).name  # Gradio's temporary copy keeps the uploaded file's name
                results.append((name, service.add_upload(name, Path(path).read_bytes())))
        except NewsragError as exc:
            return (error_text(exc, lang), None, *list_documents(lang))
        return (upload_summary(results, lang), None, *list_documents(lang))

    def delete(doc_id: str | None, lang: str) -> tuple[Any, ...]:
        if not doc_id:
            return ("", *list_documents(lang))
        removed = service.remove(doc_id)
        return (delete_summary(doc_id, removed, lang), *list_documents(lang))

    def set_language(browser_or_choice: str, panel: str | None) -> tuple[Any, ...]:
        lang = pick_language(browser_or_choice)
        return (
            gr.Radio(value=lang, label=label(lang, "language")),
            gr.Markdown(label(lang, "intro")),
            gr.Tab(label=label(lang, "chat_tab")),
            gr.Tab(label=label(lang, "documents_tab")),
            gr.Chatbot(label=label(lang, "chat")),
            gr.Textbox(label=label(lang, "question"), placeholder=label(lang, "placeholder")),
            gr.DateTime(label=label(lang, "date_from")),
            gr.DateTime(label=label(lang, "date_to")),
            gr.Button(value=label(lang, "clear")),
            gr.HTML(relabel_panel(panel, lang), label=label(lang, "article")),
            gr.File(label=label(lang, "upload")),
            gr.Dropdown(label=label(lang, "delete_id")),
            gr.Button(value=label(lang, "delete")),
            gr.Dataframe(label=label(lang, "documents"), headers=_headers(lang)),
            gr.Dataset(label=label(lang, "examples"), samples=[[q] for q in examples(lang)]),
        )

    it = "it"
    with gr.Blocks(title="newsrag", analytics_enabled=False) as blocks:
        with gr.Row():
            intro = gr.Markdown(label(it, "intro"))
            lang = gr.Radio(
                list(LANGUAGES), value=it, label=label(it, "language"), elem_id="lang", scale=0
            )
        with gr.Tabs():
            with gr.Tab(label(it, "chat_tab"), id="chat-tab") as chat_tab, gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        height=520,
                        label=label(it, "chat"),
                        elem_id="chat",
                        buttons=["copy", "copy_all"],
                        latex_delimiters=[],  # `$` in an article is money, not maths
                        sanitize_html=True,
                        allow_tags=False,
                        feedback_options=None,
                    )
                    question = gr.Textbox(
                        label=label(it, "question"),
                        placeholder=label(it, "placeholder"),
                        elem_id="question",
                        submit_btn=True,
                    )
                    with gr.Row():
                        day_from = gr.DateTime(
                            include_time=False, type="string", label=label(it, "date_from"),
                            elem_id="date-from",
                        )  # fmt: skip
                        day_to = gr.DateTime(
                            include_time=False, type="string", label=label(it, "date_to"),
                            elem_id="date-to",
                        )  # fmt: skip
                    # A Dataset, not gr.Examples: a click on one of those restores the
                    # textbox's first label and placeholder, whatever the language since.
                    example_list = gr.Dataset(
                        components=[question],
                        samples=[[q] for q in examples(it)],
                        label=label(it, "examples"),
                        elem_id="examples",
                    )
                    clear_btn = gr.Button(label(it, "clear"), elem_id="clear", size="sm")
                with gr.Column(scale=2):
                    article = gr.HTML(
                        article_hint(it),
                        label=label(it, "article"),
                        elem_id="article",
                    )
                    cite_ref = gr.Textbox(visible="hidden", elem_id="cite-ref")
                    cite_open = gr.Button(visible="hidden", elem_id="cite-open")
            with gr.Tab(label(it, "documents_tab"), id="documents-tab") as docs_tab:
                documents = gr.Dataframe(
                    headers=_headers(it),
                    label=label(it, "documents"),
                    interactive=False,
                    elem_id="documents",
                    wrap=True,
                )
                files = gr.File(
                    file_count="multiple",
                    file_types=list(SUPPORTED_SUFFIXES),
                    label=label(it, "upload"),
                    elem_id="upload",
                )
                status = gr.Markdown(elem_id="documents-status")
                with gr.Row():
                    delete_id = gr.Dropdown(
                        choices=[], label=label(it, "delete_id"), elem_id="delete-id"
                    )
                    delete_btn = gr.Button(label(it, "delete"), variant="stop", elem_id="delete")

        question.submit(
            respond,
            [question, chatbot, lang, day_from, day_to],
            [chatbot, question],
            api_name="ask",
        )
        example_list.click(
            pick_example, example_list, question, queue=False, api_visibility="undocumented"
        )
        gr.api(chat, api_name="chat")  # gradio_client: Client(url).submit(q, api_name="/chat")
        cite_open.click(open_citation, [cite_ref, lang], article).then(js=SCROLL_TO_MARK_JS)
        clear_btn.click(clear, lang, [chatbot, question, article])
        docs_tab.select(list_documents, lang, [documents, delete_id])
        files.upload(upload, [files, lang], [status, files, documents, delete_id])
        delete_btn.click(delete, [delete_id, lang], [status, documents, delete_id])
        labelled = [lang, intro, chat_tab, docs_tab, chatbot, question, day_from, day_to]
        labelled += [clear_btn, article, files, delete_id, delete_btn, documents]
        labelled.append(example_list)
        blocks.load(set_language, [lang, article], labelled, js=DETECT_LANGUAGE_JS)
        lang.input(set_language, [lang, article], labelled)
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return blocks


CHAT_LOGIN_MESSAGE = (
    "Questa istanza è protetta: inserisci la chiave API come password (nome utente libero). "
    "· This instance is protected: enter the API key as the password (any user name)."
)


def mount_ui(
    app: FastAPI, service: NewsQA, login: Callable[[str, str], bool] | None = None
) -> FastAPI:
    """Mount the page at `/`; behind Gradio's login when `login` is given (the API key's
    check, from rag.http.security, when `NEWSRAG_API_KEY` is set)."""
    return gr.mount_gradio_app(
        app,
        build_ui(service),
        path="/",
        footer_links=["api"],
        auth=login,
        auth_message=CHAT_LOGIN_MESSAGE if login else None,
        max_file_size=service.settings.max_file_bytes,
        head=HEAD,
        css=CSS,
    )
