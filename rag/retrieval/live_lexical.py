"""The lexical snapshot that questions read, kept in step with the store.

Readers never wait for writers: `snapshot` hands out the current corpus at once, and
`refresh` builds the next one beside it (rag.retrieval.lexical_store.sync) and swaps it
in; a write in this process refreshes before it returns, so its articles are answerable
then. Changes made by other processes on the same Chroma are picked up by `watch`, which
servers run, or by an explicit `refresh`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from rag.retrieval.corpus import LexicalCorpus
from rag.retrieval.lexical_store import Indexed, forget, load, save, sync
from vectorstore.store import ChromaStore

log = logging.getLogger(__name__)


class LiveLexical:
    """The current `LexicalCorpus` of a store, saved under `folder`."""

    def __init__(self, store: ChromaStore, folder: Path, interval: float = 1.0) -> None:
        self.store = store
        self.folder = folder
        self.interval = interval
        self._state: Indexed | None = None
        self._refreshing = threading.Lock()  # one refresh at a time; readers never take it
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def snapshot(self) -> LexicalCorpus:
        """The corpus as of the last refresh (the first call loads or builds it)."""
        state = self._state
        return state.corpus if state is not None else self.refresh().corpus

    def refresh(self) -> Indexed:
        """Bring the corpus in step with the store now, and save it if it changed."""
        with self._refreshing:
            state = self._state
            if state is None:  # start-up: the saved corpus, repaired against the store
                state = load(self.folder, self.store.embedding_model) or Indexed.empty()
            new = sync(self.store, state)
            if new.corpus is not state.corpus or new.versions is not state.versions:
                try:
                    save(new, self.folder, self.store.embedding_model)
                except OSError as error:  # a read-only or full disk costs a rebuild, no more
                    log.warning("the lexical index was not saved: %s", error)
            self._state = new
            return new

    def reset(self) -> None:
        """Forget the corpus and its saved copy (the store's collections were switched)."""
        with self._refreshing:
            forget(self.folder)
            self._state = None

    def watch(self) -> None:
        """Refresh every `interval` seconds in a thread until `close`."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watching, name="lexical-watch")
            self._watcher.daemon = True
            self._watcher.start()

    def close(self) -> None:
        """Stop watching, after the refresh in progress (if any) ends."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=60)

    def _watching(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as error:  # the store may be briefly unreachable: next time
                log.warning("the lexical index could not be refreshed: %s", error)
