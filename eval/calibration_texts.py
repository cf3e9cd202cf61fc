"""Write the texts newsrag calibrates its int8 OpenVINO export on (`vectorstore/calibration/`).

Static int8 quantization needs sample inputs to fix each activation's range. They are
paragraphs and questions of the SQuAD-it dev half (Italian Wikipedia, CC BY-SA 4.0):
every fifth paragraph, so every article contributes, and every sixtieth question, so
short query-like inputs are in range too. Run: `python -m eval.calibration_texts`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from eval.datasets import SQUAD_IT

TARGET = Path(__file__).resolve().parents[1] / "vectorstore" / "calibration" / "texts.jsonl"


def calibration_texts(squad: dict, paragraph_step: int = 5, question_step: int = 60) -> list[str]:
    """Every `paragraph_step`-th paragraph and every `question_step`-th question, in order."""
    paragraphs = [p for article in squad["data"] for p in article["paragraphs"]]
    questions = [qa["question"] for p in paragraphs for qa in p["qas"]]
    return [p["context"] for p in paragraphs[::paragraph_step]] + questions[::question_step]


def main() -> None:
    squad = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))
    texts = calibration_texts(squad)
    TARGET.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts))
    print(f"{len(texts)} texts -> {TARGET}")


if __name__ == "__main__":
    main()
