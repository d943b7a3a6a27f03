"""``security``: malicious input, unsafe output, leaked sensitive data.

Runtime signals: chunks quarantined by the injection scan that would have
reached the context, an injection in the query (``query_flags["injection"]``),
injected text that still reached the context (a chunk ingestion marked
``metadata["quarantine"]``), secrets or personal data redacted from
(``query_flags["redacted"]``) or still present in the response, and
exfiltration links in the response. Chunk texts are not scanned again:
ingestion scanned every chunk once and recorded the result.
"""

from __future__ import annotations

import re

from rag.diagnostics._common import BaseDetector, answer_text, check_int, relevant_quarantined, short
from rag.security import redact, scan_injection
from rag.types import FailureTag, Trace

_LOW_RISK_KINDS = {"email", "phone"}
# What an unsafe response needs at least (a link, markup, a script URL, invisible characters):
# responses without any of these are not scanned.
_UNSAFE_HINT = re.compile(
    r"<|://|\]\(|javascript|data\s*:|www\.|\.[a-z]{2,6}/|[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]",
    re.I,
)


class SecurityDetector(BaseDetector):
    """Tags injections (query or documents) and sensitive data in the response.

    Args:
        rescan_context: Also scan the text of context chunks without a
            quarantine mark (for collections ingested without the scan). Context
            chunks that ingestion marked are always reported. Default False.
        check_answer: Scan the response for secrets / personal data when the
            pipeline reports no redaction (``"redacted"`` absent from
            ``query_flags``). Default True.
        quarantine_depth: Upper bound on the first-stage (fused) rank of a
            quarantined chunk that counts. Within it, a chunk counts only when it
            would have reached the context (see
            :func:`rag.diagnostics._common.relevant_quarantined`). Default 10.
    """

    mode = "security"
    suggestion = "quarantine injected chunks, never follow instructions found in documents, redact secrets and refuse injected queries"

    def __init__(self, rescan_context: bool = False, check_answer: bool = True, quarantine_depth: int = 10) -> None:
        super().__init__()
        self.quarantine_depth = check_int("quarantine_depth", quarantine_depth)
        for name, value in (("rescan_context", rescan_context), ("check_answer", check_answer)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, but got {value!r}")
        self.rescan_context = rescan_context
        self.check_answer = check_answer

    def detect(self, trace: Trace) -> list[FailureTag]:
        findings: list[tuple[float, str]] = []
        injection = trace.query_flags.get("injection")
        if injection:
            findings.append((0.95, f"injection in the query: {injection}"))
        relevant = [
            (hit, reason, rank)
            for hit, reason, rank in relevant_quarantined(trace)
            if rank is None or rank <= self.quarantine_depth
        ]
        if relevant:
            hit, reason, rank = relevant[0]
            more = f" (+{len(relevant) - 1} more)" if len(relevant) > 1 else ""
            at = f" at fused rank {rank}" if rank else ""
            findings.append((0.9, f"quarantined chunk {hit.chunk.id}{at}: {reason}{more}"))
        for i, hit in enumerate(trace.context, 1):
            reason = hit.chunk.metadata.get("quarantine")
            if not reason and self.rescan_context:
                reason = scan_injection(hit.chunk.text)
            if reason:
                findings.append((0.85, f"context [{i}] chunk {hit.chunk.id} contains an injection: {reason}"))
                break
        redacted = trace.query_flags.get("redacted")
        if redacted:
            kinds = list(redacted) if not isinstance(redacted, str) else [redacted]
            conf = 0.6 if set(kinds) <= _LOW_RISK_KINDS else 0.85
            findings.append((conf, f"redacted from the response: {', '.join(map(str, kinds))}"))
        elif self.check_answer and "redacted" not in trace.query_flags:
            answer = answer_text(trace)
            _, kinds = redact(answer)
            if kinds:
                conf = 0.6 if set(kinds) <= _LOW_RISK_KINDS else 0.85
                findings.append((conf, f"response contains sensitive data ({', '.join(kinds)}) and was not redacted"))
        answer = answer_text(trace)
        if answer and _UNSAFE_HINT.search(answer):
            reason = scan_injection(answer)
            if reason and ("exfiltration" in reason or "script" in reason or "hidden" in reason):
                findings.append((0.9, f"unsafe response: {reason} in '{short(answer, 40)}'"))
        if not findings:
            return []
        findings.sort(key=lambda f: -f[0])
        return [self.tag(findings[0][0], [f for _, f in findings])]
