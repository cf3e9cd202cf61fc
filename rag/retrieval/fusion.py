"""Fusion: combine the result lists of several queries and retrievers into one ranking."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def score_fusion(
    scored: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float]
) -> list[tuple[K, float]]:
    """Weighted sum of scores normalised by each list's best (CombSUM).

    Unlike RRF, a key that one list ranks low adds little: with short lists (a small
    collection, where every chunk matches some word) RRF lets a chunk that merely appears
    in every list beat one that a single, more specific query ranks near the top.
    """
    if len(scored) != len(weights):
        raise ValueError("one weight per list")
    totals: dict[K, float] = {}
    for items, weight in zip(scored, weights, strict=True):
        top = max((s for _, s in items), default=0.0)
        if top <= 0:
            continue
        for key, score in items:
            totals[key] = totals.get(key, 0.0) + weight * max(score, 0.0) / top
    return sorted(totals.items(), key=lambda item: -item[1])
