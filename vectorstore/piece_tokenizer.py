"""multilingual-e5-small's tokenizer run by SentencePiece instead of `tokenizers`: the same
word pieces in a quarter of the memory.

`tokenizers` holds XLM-R's 250,002-piece vocabulary in a trie of hash maps, ~260 MB
resident in every process that encodes (a server at 100k chunks has 1.5 GB in all).
SentencePiece's C++ runtime holds the same pieces and scores in ~65 MB and segments about
four times faster. The derived model folder carries two small SentencePiece model files
(`derive_e5_folder` writes them): `normalizer.spm`, the precompiled normalisation map with a
token vocabulary, and `pieces.spm`, every piece with its score behind an identity
normaliser. Between the two, this module does what the rest of `tokenizers`' pipeline does
(rag's `build_tokenizer`): runs of spaces collapsed to one, `▁` prepended unless the
normalised text already starts with a space, then the unigram segmentation, `<s> … </s>`
and truncation at the model's window.

Measured on 17,661 texts (the evaluation sets' articles, split by line and in 700-character
windows, and their questions): identical ids for all but 9, eight of them a tie between two
segmentations of equal score ("nnn") and one a literal "<s>" in the text, which `tokenizers`
reads as the special token and SentencePiece as characters.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

NORMALIZER_FILE = "normalizer.spm"
PIECES_FILE = "pieces.spm"
_SPACES = re.compile(" {2,}")


class PieceEncoding(NamedTuple):
    """The fields of a `tokenizers.Encoding` the encoders read."""

    ids: list[int]
    attention_mask: list[int]
    type_ids: list[int]


def piece_models(
    pieces: Sequence[tuple[str, float]], special: Mapping[str, int], charsmap: bytes
) -> dict[str, bytes]:
    """The two SentencePiece model files (name -> serialized ModelProto) for a unigram
    vocabulary in id order, its special ids (`bos`, `eos`, `pad`, `unk`) and its precompiled
    normalisation map."""
    from sentencepiece import sentencepiece_model_pb2

    # Generated protobuf classes: typed as Any, as their attributes exist only at run time.
    pb: Any = sentencepiece_model_pb2
    kinds = pb.ModelProto.SentencePiece
    control = {special["bos"], special["eos"], special["pad"]}

    def model(vocabulary: Sequence[tuple[str, float]], normalizer: bytes | None) -> bytes:
        proto = pb.ModelProto()
        spec = proto.trainer_spec
        spec.model_type = pb.TrainerSpec.UNIGRAM
        spec.vocab_size = len(vocabulary)
        for role in ("unk", "bos", "eos", "pad"):
            setattr(spec, f"{role}_id", special[role])
            setattr(spec, f"{role}_piece", pieces[special[role]][0])
        for i, (piece, score) in enumerate(vocabulary):
            entry = proto.pieces.add()
            entry.piece, entry.score = piece, score
            entry.type = (
                kinds.UNKNOWN if i == special["unk"]
                else kinds.CONTROL if i in control or piece == "<mask>"
                else kinds.NORMAL
            )  # fmt: skip
        norm = proto.normalizer_spec
        norm.add_dummy_prefix = norm.remove_extra_whitespaces = False
        if normalizer is None:  # the text arrives normalised, spaces as they will be read
            norm.name, norm.escape_whitespaces = "identity", True
        else:
            norm.name, norm.escape_whitespaces = "e5", False
            norm.precompiled_charsmap = normalizer
        return bytes(proto.SerializeToString())

    # SentencePiece loads no normaliser without a vocabulary of one ordinary piece at least:
    # the special pieces and the one after them.
    first = pieces[: max(special.values()) + 2]
    return {NORMALIZER_FILE: model(first, charsmap), PIECES_FILE: model(pieces, None)}


def has_piece_models(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (NORMALIZER_FILE, PIECES_FILE))


def write_piece_models(folder: Path, models: Mapping[str, bytes]) -> None:
    """Each file written beside its final name and renamed into place (readers see all or
    nothing; two processes writing the same bytes at once are harmless)."""
    for name, data in models.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class PieceTokenizer:
    """`encode_batch` as `tokenizers` answers it for the e5 folder's `tokenizer.json`, with
    truncation at `max_tokens` (special tokens included) and no padding."""

    def __init__(self, normalizer: Any, pieces: Any, max_tokens: int) -> None:
        self.normalizer = normalizer
        self.pieces = pieces
        self.max_tokens = max_tokens

    def encode_batch(
        self, texts: Sequence[str], add_special_tokens: bool = True
    ) -> list[PieceEncoding]:
        if not texts:
            return []
        spaced = (_SPACES.sub(" ", t) for t in self.normalizer.normalize(list(texts)))
        found: list[list[int]] = self.pieces.encode(
            [t if t[:1] in ("", " ") else " " + t for t in spaced]
        )
        if add_special_tokens:
            bos, eos, room = self.pieces.bos_id(), self.pieces.eos_id(), self.max_tokens - 2
            found = [[bos, *ids[:room], eos] for ids in found]
        else:
            found = [ids[: self.max_tokens] for ids in found]
        return [PieceEncoding(ids, [1] * len(ids), [0] * len(ids)) for ids in found]


def load_piece_tokenizer(folder: Path, max_tokens: int) -> PieceTokenizer:
    import sentencepiece as spm

    def load(name: str) -> Any:
        return spm.SentencePieceProcessor(model_file=str(folder / name))

    return PieceTokenizer(load(NORMALIZER_FILE), load(PIECES_FILE), max_tokens)
