"""The Gradio chat: one callback that calls the service and formats its answer.

Conversation state lives in each browser session's chat history (Gradio passes
it to the callback); nothing is shared between users.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag.errors import NewsragError
from rag.service import NewsQA
from ui.format import format_events, history_for_service

EXAMPLES = [
    "Chi è il portavoce del Cremlino?",
    "Cosa ha detto Putin sulle truppe straniere in Ucraina?",
    "Quante nazioni hanno promesso garanzie di sicurezza all'Ucraina?",
    "Dove si trovano le truppe nordcoreane?",
]


def build_ui(service: NewsQA) -> gr.Blocks:
    def respond(message: str, history: list[dict[str, Any]]) -> Iterator[str]:
        try:
            yield from format_events(
                service.ask_stream(message, history=history_for_service(history))
            )
        except NewsragError as exc:
            yield f"⚠️ {exc}"

    with gr.Blocks(title="newsrag", analytics_enabled=False) as blocks:
        gr.Markdown(
            "# newsrag\nDomande sugli articoli: ogni risposta cita frasi testuali degli articoli."
        )
        gr.ChatInterface(
            fn=respond,
            api_name="chat",  # gradio_client: Client(url).submit(question, api_name="/chat")
            examples=EXAMPLES,
            chatbot=gr.Chatbot(height=520, label="newsrag", elem_id="chat"),
            textbox=gr.Textbox(
                placeholder="Fai una domanda sugli articoli…", elem_id="question", submit_btn=True
            ),
            analytics_enabled=False,
            cache_examples=False,
        )
    return blocks
