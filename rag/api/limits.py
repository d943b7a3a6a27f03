"""Request limits: body and upload size (an ASGI middleware) and requests per key per minute.

Each limit answers with a JSON 4xx in the API's error format
(``{"error": {"type", "message"}}``): 413 for a body or upload over its size,
429 with ``Retry-After`` for too many requests. The question-length limit is
checked where the question is known (the chat routes, 422).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "RateLimiter", "error_body"]

UPLOAD_PATH = re.compile(r"^/v1/collections/[^/]+/documents/?$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def error_body(type_: str, message: str, **extra) -> bytes:
    return json.dumps({"error": {"type": type_, "message": message, **extra}}).encode("utf-8")


async def send_json_error(send: Send, status: int, type_: str, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = error_body(type_, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with 413, before any route reads them.

    Uploads (``POST /v1/collections/{c}/documents``) get ``max_upload_bytes``,
    everything else ``max_body_bytes``. A declared ``Content-Length`` over the
    limit is refused at once; a chunked body is read up to the limit and then
    refused, so a client cannot stream an unbounded body past the check.

    Args:
        app: the ASGI app to wrap.
        max_body_bytes: limit for ordinary requests (0 = no limit).
        max_upload_bytes: limit for document uploads (0 = no limit).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        if max_body_bytes < 0 or max_upload_bytes < 0:
            raise ValueError(f"body limits must be >= 0, but got {max_body_bytes} and {max_upload_bytes}")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, scope: Scope) -> tuple[int, str]:
        if scope.get("method") == "POST" and UPLOAD_PATH.match(scope.get("path", "")):
            return self.max_upload_bytes, "upload_too_large"
        return self.max_body_bytes, "payload_too_large"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit, kind = self.limit_for(scope)
        if not limit:
            await self.app(scope, receive, send)
            return
        what = "upload" if kind == "upload_too_large" else "request body"
        length = None
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                length = v
                break
        if length is not None:
            try:
                n = int(length)
                if n < 0:
                    raise ValueError
            except ValueError:
                await send_json_error(send, 400, "bad_request", "the Content-Length header is not a valid length")
                return
            if n > limit:
                await send_json_error(send, 413, kind, f"the {what} is {n} bytes; the limit is {limit} bytes")
                return
            await self.app(scope, receive, send)
            return
        # no declared length (chunked): buffer up to the limit, then replay
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body = msg.get("body", b"")
            size += len(body)
            if size > limit:
                await send_json_error(send, 413, kind, f"the {what} is over the limit of {limit} bytes")
                return
            chunks.append(body)
            more = msg.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RateLimiter:
    """Sliding-window limit of requests per key per minute (thread-safe, in memory, per process).

    Args:
        per_minute: requests allowed in any 60-second window (0 = unlimited).
        clock: monotonic seconds (tests pass a fake one).

    Example:
        >>> t = [0.0]
        >>> rl = RateLimiter(2, clock=lambda: t[0])
        >>> rl.hit("k"), rl.hit("k"), rl.hit("k")
        (None, None, 60)
        >>> t[0] = 60.5; rl.hit("k")
    """

    WINDOW = 60.0

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        if per_minute < 0:
            raise ValueError(f"per_minute must be >= 0, but got {per_minute}")
        self.per_minute = per_minute
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count one request; None when allowed, else the seconds to wait (for ``Retry-After``)."""
        if not self.per_minute:
            return None
        now = self.clock()
        with self._lock:
            q = self._hits.get(key)
            if q is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                q = self._hits[key] = deque()
            while q and q[0] <= now - self.WINDOW:
                q.popleft()
            if len(q) >= self.per_minute:
                return max(1, math.ceil(q[0] + self.WINDOW - now))
            q.append(now)
            return None

    def _prune(self, now: float) -> None:
        for k in [k for k, q in self._hits.items() if not q or q[-1] <= now - self.WINDOW]:
            del self._hits[k]
