"""Retrieval-augmented question answering with citations, abstention and failure diagnostics."""

__version__ = "0.1.0"
