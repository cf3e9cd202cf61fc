"""The question's language, by its function words: which language to abstain in, and
whether the Italian-only lexical rules apply.

Italian, English, French, Spanish and German are told apart; anything else (or a tie)
counts as Italian, the articles' language, so a question of names alone keeps the rules.
"""

from __future__ import annotations

import re

_WORDS = {
    "it": "il lo gli di del della dei delle degli che chi cosa quando dove perché perche come "
    "quale quali quanto quanta quanti quante è era erano sono ha hanno fa un una uno per con "
    "non nel nella nei sul sulla al ai alla alle dal dalla i anche dov dell nell quest sua suo",
    "en": "the what who whom whose when where why how which is are was were did does do of "
    "with about said say says could would should has have it this that there their an and "
    "to from by many much",
    "fr": "les une des du qui quoi quand où pourquoi comment quel quelle quels quelles est "
    "sont été ont avec pour dans sur au aux ce cette elle ils ne pas qu combien selon depuis "
    "avant après lors chez",
    "es": "el los las unos qué quién quiénes cuándo dónde porqué cómo cuál cuáles cuántos "
    "cuántas es son fue fueron han para en sobre se su desde hasta entre pero muy también "
    "este esta estos estas cuánto cuánta por como",
    "de": "der die das den dem des ein eine einen wer was wann wo warum wie welche welcher "
    "ist sind war waren hat haben mit für von zu im am auf über und nicht wem wen wessen "
    "wieso weshalb wofür wovon womit woher wohin worüber wieviel wie viele welches welchem "
    "welchen wurde wurden wird werden worden um sich einem einer eines diese dieser dieses "
    "nach bei aus noch nur zum zur vom beim ins seit gegen ob dass",
}
_LEXICON = {lang: frozenset(words.split()) for lang, words in _WORDS.items()}
ABSTENTION = {
    "it": "Non ho trovato la risposta negli articoli.",
    "en": "I could not find the answer in the articles.",
    "fr": "Je n'ai pas trouvé la réponse dans les articles.",
    "es": "No he encontrado la respuesta en los artículos.",
    "de": "Ich habe die Antwort in den Artikeln nicht gefunden.",
}


def detect_language(text: str) -> str:
    """`it`, `en`, `fr`, `es` or `de`: the one whose function words the text uses most
    (Italian on a tie: shared words such as "la", "che" or "del" decide nothing)."""
    words = re.findall(r"\w+", text.lower())
    counts = {lang: sum(w in lexicon for w in words) for lang, lexicon in _LEXICON.items()}
    counts["es"] += 2 * text.count("¿")  # only Spanish opens a question with it
    best = max(counts.values())
    if best == 0 or counts["it"] == best:
        return "it"
    return max(counts, key=lambda lang: counts[lang])


def function_words(language: str) -> frozenset[str]:
    """The asking and function words by which `language` is told apart (lowercase)."""
    return _LEXICON.get(language, frozenset())


def abstention_message(question: str) -> str:
    """'Not in the articles', in the question's language."""
    return ABSTENTION[detect_language(question)]
