"""Errors the service raises. Abstaining is not an error: it is a normal ``Answer``."""


class RAGError(Exception):
    """Base class: every error here carries a message meant for the user."""


class QueryError(RAGError, ValueError):
    """The question is unusable (empty, too long, not text)."""


class CollectionNotFound(RAGError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "collection not found"


class InvalidName(RAGError, ValueError):
    """A collection or document name that cannot be used."""


class IndexFormatError(RAGError):
    """The stored index was written by another format version or another model."""


class CorruptIndexError(RAGError):
    """A stored index file fails its checksum or cannot be read."""


class IngestError(RAGError):
    """An ingest could not complete; the collection is left as it was."""


class TrainingDataError(RAGError):
    """Too little data to train on; the collection keeps its current models."""


class GeneratorUnavailable(RAGError):
    """An LLM backend could not be reached (the pipeline falls back to extractive)."""
