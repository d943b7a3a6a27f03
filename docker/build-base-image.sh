#!/usr/bin/env bash
# Build a Debian bookworm + Python 3.11 base image without any image registry:
# debootstrap a minimal root file system, add python3.11 and venv with apt in a
# chroot, and `docker import` it. The tarball is cached under $RAG_CI_CACHE,
# keyed by a hash of this script, the suite and the mirror, so reruns only import.
#
#   docker/build-base-image.sh [IMAGE]        (default rag-base:bookworm)
#
# Environment: DOCKER (docker CLI), DOCKER_HOST, RAG_CI_CACHE (default
# /var/cache/rag-ci), RAG_DEBIAN_MIRROR (default: the mirror apt uses here),
# RAG_BASE_REBUILD=1 to ignore the cache. Needs root and debootstrap.
set -euo pipefail

IMAGE="${1:-rag-base:bookworm}"
SUITE=bookworm
DOCKER="${DOCKER:-docker}"
CACHE="${RAG_CI_CACHE:-/var/cache/rag-ci}"
PACKAGES="python3.11 python3.11-venv python3-venv ca-certificates"

detect_mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ]; then
    m=$(grep -hsE '^deb [^ ]*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '{print $2; exit}')
  fi
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR="${RAG_DEBIAN_MIRROR:-$(detect_mirror)}"
MIRROR="${MIRROR%/}"

key=$( { cat "$0"; echo "$SUITE $MIRROR $PACKAGES"; } | sha256sum | cut -c1-16)
tarball="$CACHE/base-$SUITE-$key.tar"

if [ "${RAG_BASE_REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 \
   && [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "rag.base.key"}}' "$IMAGE" 2>/dev/null)" = "$key" ]; then
  echo "base image $IMAGE is up to date (key $key)"
  exit 0
fi

if [ "${RAG_BASE_REBUILD:-0}" = 1 ] || [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  mkdir -p "$CACHE"
  work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  root="$work/rootfs"
  cleanup() {
    mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc" || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  echo "debootstrap $SUITE from $MIRROR into $root"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
SOURCES
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null \
           && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin"
  umount "$root/proc"
  : >"$root/etc/resolv.conf"
  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  trap - EXIT
  cleanup
fi

echo "importing $tarball as $IMAGE"
"$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL rag.base.key=$key" \
  --change 'CMD ["/bin/bash"]' \
  "$tarball" "$IMAGE" >/dev/null
# drop older cached tarballs of this suite
find "$CACHE" -maxdepth 1 -name "base-$SUITE-*.tar" ! -name "$(basename "$tarball")" -delete 2>/dev/null || true
echo "base image $IMAGE ready (key $key)"
