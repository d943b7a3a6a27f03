"""Connectors turn a source into ``rag.types.Document`` records. They depend on ``rag.types`` only."""

from connectors.base import Connector
from connectors.filesystem import SUPPORTED_EXTENSIONS, FilesystemConnector
from connectors.jsonl import JsonlConnector

__all__ = ["Connector", "FilesystemConnector", "JsonlConnector", "SUPPORTED_EXTENSIONS"]
