"""The page's words in Italian and English: the browser's language picks one, a switch another."""

from __future__ import annotations

LANGUAGES = ("it", "en")

LABELS: dict[str, dict[str, str]] = {
    "it": {
        "intro": "# newsrag\nDomande sugli articoli: ogni risposta cita frasi testuali degli "
        "articoli. Clicca una fonte per leggere l'articolo con la frase evidenziata.",
        "language": "Lingua",
        "chat_tab": "Chat",
        "documents_tab": "Documenti",
        "chat": "Conversazione",
        "question": "Domanda",
        "placeholder": "Fai una domanda sugli articoli…",
        "date_from": "Articoli dal",
        "date_to": "Articoli fino al",
        "examples": "Domande di esempio",
        "clear": "Cancella conversazione",
        "article": "Articolo citato",
        "article_hint": "Clicca una fonte [n] per aprire l'articolo con la citazione evidenziata.",
        "article_missing": "Questo articolo non è più nella raccolta.",
        "article_changed": "L'articolo è cambiato dopo questa risposta: "
        "la citazione non è più in quella posizione.",
        "documents": "Articoli nella raccolta",
        "col_title": "Titolo",
        "col_date": "Data",
        "col_chunks": "Frammenti",
        "col_id": "ID",
        "upload": "Carica articoli (.txt, .md, .html, .pdf, .jsonl) — trascina qui i file",
        "delete_id": "Articolo da eliminare",
        "delete": "Elimina",
        "refresh": "Aggiorna",
    },
    "en": {
        "intro": "# newsrag\nQuestions about the articles: every answer quotes the articles "
        "verbatim. Click a source to read the article with the sentence highlighted.",
        "language": "Language",
        "chat_tab": "Chat",
        "documents_tab": "Documents",
        "chat": "Conversation",
        "question": "Question",
        "placeholder": "Ask a question about the articles…",
        "date_from": "Articles from",
        "date_to": "Articles up to",
        "examples": "Example questions",
        "clear": "Clear conversation",
        "article": "Cited article",
        "article_hint": "Click a source [n] to open the article with the quote highlighted.",
        "article_missing": "This article is no longer in the collection.",
        "article_changed": "The article changed after this answer: "
        "the quote is no longer at that place.",
        "documents": "Articles in the collection",
        "col_title": "Title",
        "col_date": "Date",
        "col_chunks": "Chunks",
        "col_id": "ID",
        "upload": "Upload articles (.txt, .md, .html, .pdf, .jsonl) — drop files here",
        "delete_id": "Article to delete",
        "delete": "Delete",
        "refresh": "Refresh",
    },
}


def pick_language(browser_language: str | None) -> str:
    """`it` for an Italian browser, `en` for any other; a known code is kept as is."""
    code = (browser_language or "").strip().lower()
    if code in LANGUAGES:
        return code
    return "it" if code.startswith("it") else "en"


def label(lang: str, key: str) -> str:
    return LABELS.get(lang, LABELS["it"])[key]
