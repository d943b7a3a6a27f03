#!/usr/bin/env python3
"""Talk to the running compose stack like a user: ingest the sample corpus, ask, check.

    smoke-check.py --url http://127.0.0.1:PORT --key KEY --sample DIR --question Q --expect-doc DOC [--out FILE]

Stdlib only (runs with any python3). Exits non-zero with a message on the first failure;
writes what it saw as JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path


def call(method: str, url: str, *, key: str | None = None, body: bytes | None = None,
         ctype: str | None = None, timeout: float = 60) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode("utf-8", "replace")[:500]}


def multipart(files: list[Path], root: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for f in files:
        ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{f.relative_to(root)}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n".encode() + f.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--sample", required=True, type=Path)
    ap.add_argument("--collection", default="sample")
    ap.add_argument("--question", required=True)
    ap.add_argument("--expect-doc", required=True)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    base = a.url.rstrip("/")
    seen: dict = {}

    def done(ok: bool, msg: str) -> int:
        seen["ok"], seen["message"] = ok, msg
        if a.out:
            a.out.write_text(json.dumps(seen, indent=1, ensure_ascii=False))
        print(("smoke-check: " if ok else "smoke-check: FAILED: ") + msg, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1

    status, body = call("GET", f"{base}/readyz")
    seen["readyz"] = body
    if status != 200:
        return done(False, f"/readyz answered {status}: {body}")

    status, body = call("POST", f"{base}/v1/chat", body=json.dumps({"query": "hi"}).encode(), ctype="application/json")
    seen["unauthenticated_status"] = status
    if status != 401:
        return done(False, f"/v1/chat without a key answered {status}, expected 401")

    files = sorted(p for p in a.sample.rglob("*") if p.is_file())
    payload, ctype = multipart(files, a.sample)
    t = time.monotonic()
    status, report = call("POST", f"{base}/v1/collections/{a.collection}/documents", key=a.key, body=payload,
                          ctype=ctype, timeout=900)
    seen["ingest_s"] = round(time.monotonic() - t, 1)
    seen["ingest"] = {k: report.get(k) for k in ("documents", "chunks", "added", "skipped", "seconds") if k in report} or report
    if status != 200:
        return done(False, f"ingest of {len(files)} files answered {status}: {json.dumps(report)[:800]}")
    if not report.get("documents") or not report.get("chunks"):
        return done(False, f"ingest stored nothing: {json.dumps(report)[:800]}")
    print(f"smoke-check: uploaded {len(files)} files in {seen['ingest_s']} s: {report.get('documents')} documents, "
          f"{report.get('chunks')} chunks, {len(report.get('skipped') or [])} skipped")

    t = time.monotonic()
    status, ans = call("POST", f"{base}/v1/chat", key=a.key, ctype="application/json", timeout=900,
                       body=json.dumps({"collection": a.collection, "query": a.question}).encode())
    seen["ask_s"] = round(time.monotonic() - t, 1)
    seen["answer"] = ans
    if status != 200:
        return done(False, f"/v1/chat answered {status}: {json.dumps(ans)[:800]}")
    cited = [c.get("doc_id") for c in ans.get("citations", [])]
    print(f"smoke-check: asked {a.question!r} in {seen['ask_s']} s")
    print(f"smoke-check: answer {ans.get('answer')!r}, abstained={ans.get('abstained')}, cited {cited}, "
          f"timings_ms {ans.get('timings_ms')}")
    if ans.get("abstained"):
        return done(False, f"the service abstained: {ans.get('abstain_reason')}")
    if not (ans.get("answer") or "").strip():
        return done(False, "empty answer")
    if not cited:
        return done(False, "no citations")
    if not any(str(d).endswith(a.expect_doc) for d in cited):
        return done(False, f"{a.expect_doc} is not among the cited documents {cited}")
    if any(not (c.get("text") or "").strip() for c in ans["citations"]):
        return done(False, "a citation carries no text")
    return done(True, f"answer cites {a.expect_doc}")


if __name__ == "__main__":
    raise SystemExit(main())
