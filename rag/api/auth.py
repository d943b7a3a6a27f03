"""API keys: parsed once from ``RAG_API_KEYS``, compared in constant time, optionally scoped.

Format: ``key1,key2:coll1|coll2`` — ``key1`` may use every collection, ``key2``
only ``coll1`` and ``coll2`` (``*`` in a scope means all). A key travels as
``Authorization: Bearer <key>`` (what OpenAI clients send) or ``X-API-Key``.
With no keys configured authentication is off and the server should listen on
loopback only (``rag serve`` enforces that).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["ApiKey", "KeyRing", "Principal", "parse_api_keys"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``name`` identifies the key in logs and rate limits (never the key itself)."""

    name: str
    scopes: frozenset[str] | None = None  # None: every collection

    def allows(self, collection: str) -> bool:
        return self.scopes is None or collection in self.scopes


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True)
class ApiKey:
    secret: bytes
    principal: Principal

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.secret).digest()


def parse_api_keys(spec: str) -> list[ApiKey]:
    """Parse ``key1,key2:coll1|coll2``; raises ValueError on an empty scope list or a repeated key.

    Example:
        >>> [(k.secret, k.principal.scopes) for k in parse_api_keys("a, b:x|y")]
        [(b'a', None), (b'b', frozenset({'x', 'y'}))]
    """
    keys: list[ApiKey] = []
    seen: set[bytes] = set()
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        secret, sep, scope = item.partition(":")
        secret = secret.strip()
        if not secret:
            raise ValueError("RAG_API_KEYS has an entry with an empty key")
        scopes: frozenset[str] | None = None
        if sep:
            names = frozenset(s.strip() for s in scope.split("|") if s.strip())
            if not names:
                raise ValueError("RAG_API_KEYS: a key followed by ':' needs at least one collection")
            scopes = None if "*" in names else names
        raw = secret.encode("utf-8")
        if raw in seen:
            raise ValueError("RAG_API_KEYS lists the same key twice")
        seen.add(raw)
        name = "key-" + hashlib.sha256(raw).hexdigest()[:8]
        keys.append(ApiKey(raw, Principal(name, scopes)))
    return keys


class KeyRing:
    """The configured keys; ``lookup`` compares against every one of them in constant time."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys
        # compare fixed-length digests, so neither the content nor the length of a key leaks through timing
        self._digests = [(k.digest, k.principal) for k in keys]

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        return cls(parse_api_keys(spec))

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def lookup(self, presented: str) -> Principal | None:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for d, principal in self._digests:  # no early exit: the time taken does not depend on which key matched
            if hmac.compare_digest(digest, d):
                found = principal
        return found


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request carries, from ``Authorization: Bearer`` or ``X-API-Key``."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None
