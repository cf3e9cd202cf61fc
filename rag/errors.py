"""A small exception hierarchy: every message says what went wrong and what to do."""


class NewsragError(Exception):
    """Base class for errors shown to users."""


class ConfigError(NewsragError):
    """A setting is invalid or points to something that does not exist."""


class InputError(NewsragError):
    """A question or request is malformed."""


class IngestError(NewsragError):
    """A file cannot be ingested; the store is left as it was."""

    def __init__(self, source: str, problem: str, kind: str = "invalid") -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
        self.kind = kind  # invalid | too_large | unsupported_type | duplicate


class StoreError(NewsragError):
    """The vector store is unusable (for example built with another embedding model)."""


class ModelMismatchError(StoreError):
    """The store's vectors were made by another embedding model than the configured one."""

    def __init__(self, stored: str, configured: str) -> None:
        # A store records the model's name and what its records hold ("name+sentences":
        # vectorstore.store.store_identity); the folder is the name alone.
        folder = stored.rsplit("+", 1)[0]
        if configured.rsplit("+", 1)[0] == stored:  # the same model, before a format change
            message = (
                f"the store was written by an earlier newsrag ({stored!r}, without the "
                f"sentence vectors {configured!r} adds): run `newsrag reindex` to re-embed "
                "the stored articles"
            )
        else:
            message = (
                f"the store was embedded with {stored!r}, but newsrag is configured for "
                f"{configured!r}: run `newsrag reindex` to re-embed the stored articles with "
                f"the configured model (or set NEWSRAG_EMBEDDING_MODEL back to the {folder!r} "
                "folder)"
            )
        super().__init__(message)
        self.stored = stored
        self.configured = configured
