#!/bin/sh
# Entry point of the API image. Before `rag serve` it checks the configuration and,
# when it is wrong, says what to change and exits with 78 (EX_CONFIG) instead of
# starting a server that cannot work; compose's `restart: on-failure:3` then gives
# up after three tries rather than looping. Other commands (rag ingest, rag ask...)
# run as given.
set -eu

fail() {
  echo "rag-entrypoint: configuration error: $*" >&2
  echo "rag-entrypoint: fix the value in .env (see .env.example) and run 'docker compose up -d' again" >&2
  exit 78
}

if [ "${1:-}" = "rag" ] && [ "${2:-}" = "serve" ]; then
  keys="${RAG_API_KEYS:-}"
  [ -n "$(printf '%s' "$keys" | tr -d ' ,')" ] ||
    fail "RAG_API_KEYS is empty. Without keys the API listens on 127.0.0.1 inside the container and cannot be reached; set RAG_API_KEYS=<a long random key>"
  case "$keys" in
    *change-me*) fail "RAG_API_KEYS still holds the placeholder from .env.example; set your own key (e.g. openssl rand -hex 24)" ;;
  esac

  port="${RAG_PORT:-8000}"
  case "$port" in
    '' | *[!0-9]*) fail "RAG_PORT='$port' is not a port number" ;;
  esac
  if [ "$port" -lt 1024 ] || [ "$port" -gt 65535 ]; then
    fail "RAG_PORT=$port is outside 1024-65535 (the server runs as an unprivileged user)"
  fi

  # every other RAG_* setting, checked by the same code the server uses
  python - <<'PY' || exit 78
import sys
from pydantic import ValidationError
try:
    from rag.config import Settings
    Settings()
except ValidationError as e:
    for err in e.errors():
        name = "RAG_" + "_".join(str(p) for p in err["loc"]).upper()
        print(f"rag-entrypoint: configuration error: {name}={err.get('input')!r}: {err['msg']}", file=sys.stderr)
    print("rag-entrypoint: fix the value in .env (see .env.example) and run 'docker compose up -d' again", file=sys.stderr)
    sys.exit(78)
PY

  data="${RAG_DATA_DIR:-/data}"
  mkdir -p "$data" 2>/dev/null || true
  probe="$data/.rag-write-test.$$"
  if ! (: >"$probe") 2>/dev/null; then
    fail "RAG_DATA_DIR=$data is not writable by uid $(id -u); a bind-mounted folder must be writable by uid 10001 (or use the named volume)"
  fi
  rm -f "$probe"

  if [ "${RAG_GENERATOR:-extractive}" = "openai" ]; then
    # compose starts api once llm is healthy; elsewhere, wait a little and say so if it stays away
    python - <<'PY' || true
import os, sys, time, urllib.request
url = os.environ.get("RAG_LLM_BASE_URL", "http://127.0.0.1:8080/v1").rstrip("/") + "/models"
deadline = time.monotonic() + float(os.environ.get("RAG_LLM_WAIT_S", "60"))
while True:
    try:
        urllib.request.urlopen(url, timeout=3)
        print(f"rag-entrypoint: LLM endpoint {url} is up", file=sys.stderr)
        break
    except Exception as e:
        if time.monotonic() > deadline:
            print(f"rag-entrypoint: warning: LLM endpoint {url} is not reachable ({e}); "
                  "answers will fail until it is (check RAG_LLM_BASE_URL)", file=sys.stderr)
            break
        time.sleep(2)
PY
  fi
fi

exec "$@"
