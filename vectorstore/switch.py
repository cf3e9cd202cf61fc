"""The names of a store's Chroma collections, and the switch that ends a reindex.

For a prefix P the live store is `P_chunks` and `P_articles`. A reindex builds
`P__reindex_chunks` / `P__reindex_articles`, then switches (vectorstore.reindex has
the whole protocol):

1. `P_chunks` -> `P__old_chunks`       (the commit point: from here on it rolls forward)
2. `P_articles` -> `P__old_articles`
3. `P__reindex_chunks` -> `P_chunks`
4. `P__reindex_articles` -> `P_articles`
5. delete `P__old_chunks`, then `P__old_articles`

Which step comes next is read from which collections exist (`next_step`, pure), so
`finish_switch` can be run by anyone, any number of times, after a crash at any step:
every `ChromaStore` runs it before it opens the live collections. It imports no
store code, so the store can depend on it and the reindex on both.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from rag.errors import StoreError

STAGING = "reindex"  # role of the collections a reindex builds
OLD = "old"  # role of the live collections set aside during the switch
_MAX_STEPS = 12  # 6 steps, and a retry of each when another process took it first


def names(prefix: str, role: str = "") -> tuple[str, str]:
    """(chunks, articles) collection names: the live ones, or those of a `role`."""
    stem = f"{prefix}__{role}" if role else prefix
    return f"{stem}_chunks", f"{stem}_articles"


def all_names(prefix: str) -> list[str]:
    return [*names(prefix), *names(prefix, STAGING), *names(prefix, OLD)]


@dataclass(frozen=True)
class Step:
    """Rename collection `name` to `to`, or delete it when `to` is None."""

    name: str
    to: str | None = None


def next_step(prefix: str, existing: Set[str]) -> Step | None:
    """The next step of a committed switch, given the collections that exist; None when
    there is none to finish (no switch began, or it is complete)."""
    live, staging, old = names(prefix), names(prefix, STAGING), names(prefix, OLD)
    if not any(o in existing for o in old):
        return None  # not committed: the live collections are the store
    kinds = list(zip(live, staging, old, strict=True))
    for lv, st, od in kinds:
        # All three (the live name recreated after step 1), or an old one with nothing to
        # replace it: not a state the switch leaves, so nothing is guessed or deleted.
        if (lv in existing and st in existing and od in existing) or (
            od in existing and lv not in existing and st not in existing
        ):
            raise StoreError(
                f"the switch to re-embedded collections cannot be finished: of "
                f"{', '.join(all_names(prefix))} these exist: {', '.join(sorted(existing))}. "
                f"Nothing was deleted; remove the collection {lv!r} if it is empty, or "
                f"rename {od!r} back to {lv!r}, then run `newsrag reindex`"
            )
    for lv, st, od in kinds:  # steps 1-2: set every live collection aside
        if st in existing and lv in existing and od not in existing:
            return Step(lv, od)
    for lv, st, _ in kinds:  # steps 3-4: the new ones take the live names
        if st in existing and lv not in existing:
            return Step(st, lv)
    for _, st, od in kinds:  # step 5: drop the old ones, once replaced
        if od in existing and st not in existing:
            return Step(od)
    return None


def existing(client: Any, wanted: list[str]) -> set[str]:
    """Which of these collections exist (one lookup each, not a listing of the server)."""
    from chromadb.errors import NotFoundError

    found = set()
    for name in wanted:
        try:
            client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            continue
        found.add(name)
    return found


def finish_switch(client: Any, prefix: str) -> bool:
    """Finish a committed switch that a crash interrupted; True when there was one.
    Safe to run concurrently: a step another process took first is looked at again."""
    from chromadb.errors import ChromaError

    if not existing(client, list(names(prefix, OLD))):
        return False  # the common case: two lookups
    for _ in range(_MAX_STEPS):
        step = next_step(prefix, existing(client, all_names(prefix)))
        if step is None:
            return True
        try:
            if step.to is None:
                client.delete_collection(step.name)
            else:
                client.get_collection(step.name, embedding_function=None).modify(name=step.to)
        except (ChromaError, ValueError):
            continue  # another process took this step first: read the state again
    raise StoreError(
        f"the switch to re-embedded collections of {prefix!r} did not finish after "
        f"{_MAX_STEPS} steps: check that the Chroma store is writable, then run "
        "`newsrag reindex` again"
    )


def commit_switch(client: Any, prefix: str) -> None:
    """Step 1 (the commit point), then the rest: call only with a complete staging."""
    live_chunks, _ = names(prefix)
    old_chunks, _ = names(prefix, OLD)
    client.get_collection(live_chunks, embedding_function=None).modify(name=old_chunks)
    finish_switch(client, prefix)
