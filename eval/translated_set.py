"""Foreign questions machine-translated into Italian and answered as Italian ones: would
translation do better than reading them across languages? (issue 18; README, "Stop 45")

The one machine translation installable here is Apertium's rule-based pairs from Debian
(`apertium-eng-spa`, `apertium-spa-ita`, `apertium-fr-es`: English and French go through
Spanish; German has no pair and stays as it is). Names are kept out of the translation
("Trump" would become "trionfo"). Each set's single questions in those languages are asked
twice on the same store, as written and translated, and counted:

    apt-get install apertium apertium-eng-spa apertium-spa-ita apertium-fr-es
    .venv/bin/python -m eval.translated_set multilingual --store /tmp/translated

Not part of the product: the answers it gives are in the README, and it needs the system
packages above.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from eval.datasets import EvalItem, load_set
from eval.runner import evaluate
from rag.service import NewsQA
from rag.settings import load_settings

PAIRS = {"en": ("eng-spa", "spa-ita"), "es": ("spa-ita",), "fr": ("fr-es", "spa-ita")}
# a run of capitalised words, particles between them ("Ursula von der Leyen")
_NAME = re.compile(
    r"(?<![\w'’])[A-ZÀ-Ý][\w'’-]*(?:\s+(?:(?:von|van|der|de|del|la|di|da)\s+)*[A-ZÀ-Ý][\w'’-]*)*"
)
_OPENING = " ¿¡\"'«"
Translate = Callable[[str, str], str]  # (text, Apertium pair) -> text


def protect(question: str) -> tuple[str, list[str]]:
    """The question with its names (capitalised runs after its first word) replaced by
    placeholders the translation leaves alone, and the names in order."""
    names: list[str] = []

    def hold(match: re.Match[str]) -> str:
        if not question[: match.start()].strip(_OPENING):
            return match.group(0)  # the opening word is capitalised anyway
        names.append(match.group(0))
        return f"Xq{len(names) - 1}qx"

    return _NAME.sub(hold, question), names


def restore(text: str, names: Sequence[str]) -> str:
    """`text` with protect's placeholders given back their names, spaces tidied."""
    for i, name in enumerate(names):
        text = re.compile(rf"xq{i}qx", re.IGNORECASE).sub(name.replace("\\", r"\\"), text)
    return re.sub(r"\s+", " ", text).replace(" ?", "?").strip()


def apertium(text: str, pair: str) -> str:
    done = subprocess.run(
        ["apertium", "-u", pair], input=text, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def translated(question: str, language: str, translate: Translate = apertium) -> str:
    """The question in Italian through PAIRS (as it is in a language without a pair)."""
    if language not in PAIRS:
        return question
    text, names = protect(question)
    for pair in PAIRS[language]:
        text = translate(text, pair)
    return restore(text, names)


def foreign(items: Sequence[EvalItem]) -> list[EvalItem]:
    """The set's single questions in a language with a translation."""
    return [i for i in items if not i.history and i.tags.get("lang") in PAIRS]


def counts(records: Sequence[dict[str, object]]) -> str:
    right = sum(bool(r["correct"]) for r in records if r["answerable"])
    asked = sum(bool(r["answerable"]) for r in records)
    held = sum(bool(r["abstained"]) for r in records if not r["answerable"])
    return f"answerable {right}/{asked}, unanswerable abstained {held}/{len(records) - asked}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", help="an evaluation set (`newsrag eval --dataset`)")
    parser.add_argument("--store", type=Path, required=True, help="a store folder to use")
    args = parser.parse_args()
    evalset = load_set(args.dataset)
    service = NewsQA.from_settings(load_settings(data_dir=args.store))
    items = foreign(evalset.items)
    as_written = evaluate(service, evalset, items, with_baselines=False, progress=False)
    italian = [
        dataclasses.replace(i, question=translated(i.question, str(i.tags["lang"]))) for i in items
    ]
    stored = dataclasses.replace(evalset, articles=[])  # ingested by the first pass
    answered = evaluate(service, stored, italian, with_baselines=False, progress=False)
    print(f"{args.dataset}, {len(items)} questions")
    print(f"  as written: {counts(as_written['records']['newsrag'])}")
    print(f"  translated: {counts(answered['records']['newsrag'])}")


if __name__ == "__main__":
    main()
