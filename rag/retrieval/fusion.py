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


def unit_range(values: Sequence[float]) -> list[float]:
    """Values mapped so their lowest is 0 and their highest 1 (all 1 when they are equal):
    e5's cosines sit in a narrow band (0.75-0.9), which dividing by the best would flatten."""
    if not values:
        return []
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 1.0 for v in values]
