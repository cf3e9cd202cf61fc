"""What the page writes into its content, in Italian and English: the words of answers,
statuses and errors, and the example questions (component labels are in ui.labels).

English examples are English questions about the seed articles: the answers quote the
Italian articles, whatever the question's language.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "it": {
        "sources": "Fonti",
        "added": "aggiunti",
        "updated": "aggiornati",
        "unchanged": "invariati",
        "duplicates": "duplicati",
        "rejected": "scartato",
        "deleted": "Articolo eliminato",
        "not_found": "Articolo non trovato",
        "invalid_request": "Richiesta non valida",
        "failed": "Non è stato possibile completare la richiesta",
        "bad_date": "«{value}» non è una data: usa il formato AAAA-MM-GG",
    },
    "en": {
        "sources": "Sources",
        "added": "added",
        "updated": "updated",
        "unchanged": "unchanged",
        "duplicates": "duplicates",
        "rejected": "rejected",
        "deleted": "Article deleted",
        "not_found": "No such article",
        "invalid_request": "Invalid request",
        "failed": "The request could not be completed",
        "bad_date": "«{value}» is not a date: use the YYYY-MM-DD format",
    },
}

EXAMPLES: dict[str, list[str]] = {
    "it": [
        "Chi è il portavoce del Cremlino?",
        "Cosa ha detto Putin sulle truppe straniere in Ucraina?",
        "Quante nazioni hanno promesso garanzie di sicurezza all'Ucraina?",
        "Dove si trovano le truppe nordcoreane?",
    ],
    "en": [
        "How many nations promised security guarantees to Ukraine?",
        "Which region did North Korean troops help recapture?",
        "What did Macron say about security guarantees?",
        "What does Russia see as one of the causes of the war?",
    ],
}


def message(lang: str, key: str) -> str:
    return MESSAGES.get(lang, MESSAGES["it"])[key]


def examples(lang: str) -> list[str]:
    return EXAMPLES.get(lang, EXAMPLES["it"])
