"""Which language to abstain in: Italian unless the question is clearly English."""

from __future__ import annotations

import re

_EN = frozenset(
    "the what who when where why how which is are was were did does do of in on with about "
    "said say says could would should has have it this that there their".split()
)
_IT = frozenset(
    "il lo la gli le di del della dei che chi cosa quando dove perché perche come quale è "
    "sono ha hanno un una per con non nel nella sul sulla".split()
)
ABSTENTION = {
    "it": "Non ho trovato la risposta negli articoli.",
    "en": "I could not find the answer in the articles.",
}


def detect_language(text: str) -> str:
    words = re.findall(r"\w+", text.lower())
    english = sum(w in _EN for w in words)
    italian = sum(w in _IT for w in words)
    return "en" if english > italian else "it"


def abstention_message(question: str) -> str:
    return ABSTENTION[detect_language(question)]
