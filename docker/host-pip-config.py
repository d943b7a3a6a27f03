#!/usr/bin/env python3
"""Translate this machine's pip configuration into image build arguments.

    host-pip-config.py SERVE_DIR BASE_URL

Reads `pip config list` (files and PIP_* variables, as pip itself sees them) and
prints one `--build-arg NAME=VALUE` per line, and `CERT=<path>` when pip uses a CA
bundle (passed to the build as the `pip_cert` secret). Local indexes and wheel
folders (plain paths or file:// URLs) cannot be seen from inside a build, so each is
linked into SERVE_DIR and given as BASE_URL/<n>/...; the caller serves SERVE_DIR over
HTTP on the loopback address and builds with --network host. Remote URLs are kept.
Nothing configured: prints nothing, and the build uses PyPI as for any user.
Stdlib only; the pip used is $PIP_FOR_CONFIG (default: this Python's pip).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

KEYS = {"index-url": "PIP_INDEX_URL", "extra-index-url": "PIP_EXTRA_INDEX_URL",
        "find-links": "PIP_FIND_LINKS", "trusted-host": "PIP_TRUSTED_HOST", "cert": "CERT"}


def pip_config() -> dict[str, str]:
    cmd = shlex.split(os.environ.get("PIP_FOR_CONFIG", "")) or [sys.executable, "-m", "pip"]
    try:
        out = subprocess.run([*cmd, "config", "list"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    files: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in out.splitlines():
        scope_key, sep, value = line.partition("=")
        if not sep:
            continue
        scope, _, key = scope_key.rpartition(".")
        if key not in KEYS or scope not in (":env:", "global", "install", "download"):
            continue
        value = value.strip().strip("'\"")
        (env if scope == ":env:" else files)[key] = value
    return {**files, **env}  # PIP_* variables win, as in pip


def main() -> int:
    serve_dir, base_url = Path(sys.argv[1]), sys.argv[2].rstrip("/")
    serve_dir.mkdir(parents=True, exist_ok=True)
    served: dict[str, str] = {}

    def url_for(item: str) -> str | None:
        path = unquote(urlparse(item).path) if item.startswith("file:") else item
        if "://" in item and not item.startswith("file:"):
            return item
        p = Path(path)
        if not p.exists():
            return None
        # serve the folder above a PEP 503 "simple" folder, so its ../../files links resolve
        root, rest = (p.parent, p.name) if p.name == "simple" else (p, "")
        name = served.setdefault(str(root), f"d{len(served)}")
        link = serve_dir / name
        if not link.is_symlink():
            link.symlink_to(root.resolve(), target_is_directory=True)
        return f"{base_url}/{name}/{rest + '/' if rest else ''}"

    for key, value in pip_config().items():
        if key == "cert":
            if Path(value).is_file():
                print(f"CERT={value}")
            continue
        if key == "trusted-host":
            print(f"--build-arg PIP_TRUSTED_HOST={value}")
            continue
        urls = [u for u in (url_for(v) for v in value.split()) if u]
        if urls:
            print(f"--build-arg {KEYS[key]}={' '.join(urls)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
