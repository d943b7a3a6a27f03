#!/usr/bin/env bash
# Compose smoke test, for real: a private Docker daemon, a registry-free base image, both
# images built, `docker-compose up`, health, ingest of the sample corpus through the API,
# a question answered by the llm service with citations checked, a bad .env refused
# without a crash loop, then `down -v` and the daemon stopped by its pid (also on failure).
#
#   docker/compose-smoke.sh            (as root; tests/compose/test_compose.py runs it)
#
# Environment (all optional):
#   RAG_CI_CACHE        cache folder (default /var/cache/rag-ci): base image tarball, and the
#                       daemon's data root so that image layers survive between runs
#   RAG_SMOKE_BASE_IMAGE  base image for both builds (default: rag-base:bookworm, made by
#                       docker/build-base-image.sh with debootstrap; no registry needed)
#   RAG_SMOKE_OUT       JSON file for the results (phase times, answer)
#   RAG_SMOKE_KEEP=1    leave the stack and the daemon running (prints how to reach them)
#   RAG_SMOKE_HEALTH_TIMEOUT  seconds to wait for both services to be healthy (default 900)
#   RAG_SMOKE_HOST_WHEELS=0  compile llama.cpp in the llm build even when this machine's pip
#                       cache holds a llama-cpp-python wheel (default: use that wheel)
#   RAG_SMOKE_INDEX_PORT  loopback port serving local pip folders to the builds (default 47321)
set -Eeuo pipefail

# the stack's settings come from the env file written below, not from this shell
for v in $(compgen -e | grep -E '^(RAG_|LLM_)' | grep -vE '^RAG_(CI_CACHE|SMOKE_)'); do unset "$v"; done
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
CACHE="${RAG_CI_CACHE:-/var/cache/rag-ci}"
BASE_IMAGE="${RAG_SMOKE_BASE_IMAGE:-rag-base:bookworm}"
HEALTH_TIMEOUT="${RAG_SMOKE_HEALTH_TIMEOUT:-900}"
PROJECT=ragsmoke
QUESTION="How much does it cost to ship a bike to the European Union?"
EXPECT_DOC="shipping.md"

mkdir -p "$CACHE"
RUN="$(mktemp -d /tmp/rag-smoke.XXXXXX)"   # short: the daemon's sockets live below it
export DOCKER_HOST="unix://$RUN/docker.sock"
export DOCKER_BUILDKIT=1
DOCKER=docker
for d in /usr/bin/docker /usr/local/bin/docker; do [ -x "$d" ] && { DOCKER="$d"; break; }; done
export DOCKER
COMPOSE=(docker-compose -p "$PROJECT" --env-file "$RUN/smoke.env")
DOCKERD_PID=""
INDEX_PID=""
BLOCKER_PID=""
STACK_UP=0
declare -a PHASES=()
T0=$(date +%s)

log() { echo "[smoke $(date +%H:%M:%S)] $*"; }
phase_start() { PHASE="$1"; PHASE_T=$(date +%s); log "---- $PHASE"; }
phase_end() {
  local s=$(( $(date +%s) - PHASE_T ))
  PHASES+=("$PHASE=$s")
  log "phase $PHASE took ${s} s"
}

summary() {
  echo "[smoke] phase times (s):"
  local p
  for p in "${PHASES[@]}"; do printf '[smoke]   %-14s %5s\n' "${p%%=*}" "${p#*=}"; done
  printf '[smoke]   %-14s %5s\n' total $(( $(date +%s) - T0 ))
}

stop_pid() {  # stop one process that this script started, by its pid
  local pid="$1" what="$2" i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { log "stopped $what (pid $pid)"; return 0; }; sleep 0.5; done
  log "$what (pid $pid) did not stop in 30 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ] && [ "$STACK_UP" = 1 ]; then
    log "FAILED (exit $rc): last log lines of the stack"
    "${COMPOSE[@]}" ps
    "${COMPOSE[@]}" logs --no-color --tail 60
  fi
  stop_pid "$BLOCKER_PID" "port blocker"
  if [ "${RAG_SMOKE_KEEP:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
    log "RAG_SMOKE_KEEP=1: left running. DOCKER_HOST=$DOCKER_HOST; stop: kill $DOCKERD_PID; index server pid $INDEX_PID"
  else
    if [ "$STACK_UP" = 1 ]; then
      phase_start down
      "${COMPOSE[@]}" down -v --remove-orphans --timeout 20
      phase_end
    fi
    stop_pid "$INDEX_PID" "pip index server"
    stop_pid "$DOCKERD_PID" "dockerd"
    rm -rf "$RUN"
  fi
  [ -n "${PHASES[*]:-}" ] && summary
  if [ -n "${RAG_SMOKE_OUT:-}" ]; then
    python3 - "$RAG_SMOKE_OUT" "$rc" "${PHASES[@]}" <<'PY' || true
import json, sys
from pathlib import Path
out, rc, phases = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
data = json.loads(out.read_text()) if out.exists() and out.stat().st_size else {}
data["exit_code"] = rc
data["phases_s"] = {p.split("=")[0]: int(p.split("=")[1]) for p in phases}
out.write_text(json.dumps(data, indent=1, ensure_ascii=False))
PY
  fi
  [ "$rc" -eq 0 ] && log "PASSED in $(( $(date +%s) - T0 )) s" || log "FAILED (exit $rc) after $(( $(date +%s) - T0 )) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ------------------------------------------------------------------ tools
phase_start tools
# The images need BuildKit (secret and cache mounts). A docker CLI 20.10 has it built in; from 23
# on it needs the buildx plugin, and a machine may carry such a CLI without it (/usr/local/bin/docker
# 28 here). Pick a CLI that can build, and install Debian's docker.io (CLI 20.10) when none can.
buildkit_cli() {
  local d v
  for d in /usr/bin/docker /usr/local/bin/docker "$(command -v docker 2>/dev/null || true)"; do
    [ -n "$d" ] && [ -x "$d" ] || continue
    v=$("$d" --version 2>/dev/null | sed -n 's/^Docker version \([0-9][0-9]*\)\..*/\1/p')
    [ -n "$v" ] || continue
    if [ "$v" -lt 23 ] || "$d" buildx version >/dev/null 2>&1; then echo "$d"; return 0; fi
  done
  return 1
}
missing=()
if ! { command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ]; } || ! buildkit_cli >/dev/null; then
  missing+=(docker.io)
fi
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ "$BASE_IMAGE" = rag-base:bookworm ]; then command -v debootstrap >/dev/null || missing+=(debootstrap); fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "missing ${missing[*]} and not root: cannot install"; exit 1; }
  log "installing ${missing[*]} from Debian"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     "${missing[@]}" >/dev/null) || { log "apt-get install ${missing[*]} failed"; exit 1; }
fi
if ! buildkit_cli >/dev/null && [ "$(id -u)" = 0 ]; then  # a newer docker.io: its CLI needs the plugin
  log "no docker CLI here builds with BuildKit; installing docker-buildx"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-buildx >/dev/null 2>&1 || true
fi
DOCKER="$(buildkit_cli)" || {
  log "no docker CLI that can build with BuildKit: install Debian's docker.io (CLI 20.10) or the buildx plugin"; exit 1; }
export DOCKER
DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"
log "$("$DOCKER" --version 2>/dev/null || true); $(docker-compose version --short 2>/dev/null || true)"
phase_end

# ------------------------------------------------------------------ daemon
phase_start daemon
# one smoke run at a time owns the cached data root
exec 9>"$CACHE/docker.lock"
flock -w 1800 9 || { log "another smoke run holds $CACHE/docker.lock"; exit 1; }
mkdir -p "$CACHE/docker-root"
if other=$(pgrep -f -- "--data-root $CACHE/docker-root" 2>/dev/null); then
  log "another dockerd (pid $other) uses $CACHE/docker-root: stop it first"; exit 1
fi
# --bridge=none: no docker0, so nothing clashes with another daemon on this host;
# compose's own network still connects the services
"$DOCKERD" --host "$DOCKER_HOST" --data-root "$CACHE/docker-root" --exec-root "$RUN/exec" \
  --pidfile "$RUN/docker.pid" --bridge=none >"$RUN/dockerd.log" 2>&1 9>&- &
DOCKERD_PID=$!
for i in $(seq 1 120); do
  "$DOCKER" version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -30 "$RUN/dockerd.log"; log "dockerd exited"; exit 1; }
  sleep 0.5
done
"$DOCKER" version >/dev/null 2>&1 || { tail -30 "$RUN/dockerd.log"; log "dockerd did not answer in 60 s"; exit 1; }
log "dockerd pid $DOCKERD_PID on $DOCKER_HOST, data root $CACHE/docker-root"
# leftovers of an interrupted run in the persistent data root
"$DOCKER" ps -aq --filter "label=com.docker.compose.project=$PROJECT" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
"$DOCKER" volume prune -f >/dev/null 2>&1 || true   # this daemon's data root is ours alone
phase_end

# ------------------------------------------------------------------ base image
phase_start base-image
if [ "$BASE_IMAGE" = rag-base:bookworm ]; then
  RAG_CI_CACHE="$CACHE" bash docker/build-base-image.sh "$BASE_IMAGE"
else
  "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null || { log "base image $BASE_IMAGE is not loaded"; exit 1; }
fi
phase_end

# ------------------------------------------------------------------ build
phase_start pip-config
# this machine's pip configuration (local indexes, wheel folders, CA bundle) for the builds
# a fixed port keeps the build arguments, and so the layer cache, the same from run to run
INDEX_PORT="${RAG_SMOKE_INDEX_PORT:-47321}"
python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$INDEX_PORT" 2>/dev/null \
  || INDEX_PORT=$(free_port)
BUILD_ARGS=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
SECRET=()
while IFS= read -r line; do
  case "$line" in
    CERT=*) SECRET=(--secret "id=pip_cert,src=${line#CERT=}") ;;
    "--build-arg "*) BUILD_ARGS+=(--build-arg "${line#--build-arg }") ;;
  esac
done < <(PIP_FOR_CONFIG="${PIP_FOR_CONFIG:-}" python3 docker/host-pip-config.py "$RUN/index" "http://127.0.0.1:$INDEX_PORT")
# llama.cpp takes 5 to 40 minutes to compile on 2 shared cores. When this machine already
# built a llama-cpp-python wheel (pip's wheel cache, e.g. from scripts/build_llama_cpp.sh, same
# portable flags), the llm build installs that one instead; RAG_SMOKE_HOST_WHEELS=0 compiles.
if [ "${RAG_SMOKE_HOST_WHEELS:-1}" = 1 ]; then
  wheel=$(find "${PIP_CACHE_DIR:-$HOME/.cache/pip}/wheels" -name 'llama_cpp_python-*-linux_x86_64.whl' \
            -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-)
  if [ -n "$wheel" ]; then
    mkdir -p "$RUN/index/hostwheels"
    ln -sf "$wheel" "$RUN/index/hostwheels/"
    ver=$(basename "$wheel" | cut -d- -f2)
    links="http://127.0.0.1:$INDEX_PORT/hostwheels/"
    for i in "${!BUILD_ARGS[@]}"; do
      case "${BUILD_ARGS[$i]}" in PIP_FIND_LINKS=*) links="${BUILD_ARGS[$i]#PIP_FIND_LINKS=} $links"; unset 'BUILD_ARGS[i]' 'BUILD_ARGS[i-1]' ;; esac
    done
    BUILD_ARGS=("${BUILD_ARGS[@]}" --build-arg "PIP_FIND_LINKS=$links" --build-arg "LLAMA_CPP_VERSION=$ver")
    log "llm build uses this machine's llama-cpp-python $ver wheel ($wheel)"
  fi
fi
if [ -n "$(ls -A "$RUN/index" 2>/dev/null)" ]; then
  python3 -m http.server "$INDEX_PORT" --bind 127.0.0.1 --directory "$RUN/index" >"$RUN/index.log" 2>&1 9>&- &
  INDEX_PID=$!
  for i in $(seq 1 40); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$INDEX_PORT/', timeout=2)" 2>/dev/null && break
    sleep 0.25
  done
  log "serving local pip folders on 127.0.0.1:$INDEX_PORT (pid $INDEX_PID)"
fi
log "build args: ${BUILD_ARGS[*]} ${SECRET[*]:-}"
phase_end

build() {  # build NAME DOCKERFILE
  local name="$1" file="$2" t=$(date +%s)
  if ! "$DOCKER" build --progress=plain --network host "${SECRET[@]}" "${BUILD_ARGS[@]}" \
       -f "$file" -t "rag-$name:smoke" . >"$RUN/build-$name.log" 2>&1; then
    tail -60 "$RUN/build-$name.log"
    log "building $name failed"
    return 1
  fi
  log "rag-$name:smoke built ($(grep -c ' CACHED$' "$RUN/build-$name.log" || true) cached steps) in $(( $(date +%s) - t )) s"
}
phase_start build-llm
build llm docker/llm.Dockerfile
phase_end
phase_start build-api
build api Dockerfile
phase_end
# bound the private data root: untagged images of earlier builds, and build cache beyond 10 GB
"$DOCKER" image prune -f >/dev/null 2>&1 || true
"$DOCKER" builder prune -f --keep-storage 10GB >/dev/null 2>&1 || true
"$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^rag-(api|llm|base):' || true

# ------------------------------------------------------------------ up
phase_start up
API_PORT=$(free_port)
API_KEY="smoke-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
cat >"$RUN/smoke.env" <<EOF
RAG_API_KEYS=$API_KEY
RAG_HOST_PORT=$API_PORT
RAG_BIND_ADDRESS=127.0.0.1
RAG_IMAGE_PREFIX=rag
RAG_IMAGE_TAG=smoke
RAG_ENV_FILE=$RUN/smoke.env
RAG_GENERATOR=openai
RAG_LLM_BASE_URL=http://llm:8080/v1
RAG_LLM_TIMEOUT_S=600
RAG_LLM_MAX_TOKENS=64
RAG_LLM_TEMPERATURE=0
LLM_THREADS=2
EOF
# the compose file is checked first, with and without the gpu profile
docker-compose -p "$PROJECT" --env-file "$RUN/smoke.env" config -q
docker-compose -p "$PROJECT" --env-file "$RUN/smoke.env" --profile gpu config -q
STACK_UP=1
"${COMPOSE[@]}" up -d --no-build
phase_end

# ------------------------------------------------------------------ health
phase_start health
cid() {  # the service's container, also when it was created but never started
  "$DOCKER" ps -aq --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" | head -n 1
}
health() { "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$(cid "$1")" 2>/dev/null || echo gone; }
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
last=""
while :; do
  now="llm=$(health llm) api=$(health api)"
  [ "$now" != "$last" ] && log "$now" && last="$now"
  [ "$now" = "llm=healthy api=healthy" ] && break
  case "$now" in *unhealthy* | *exited* | *gone* | *dead*) log "a service failed: $now"; exit 1 ;; esac
  [ "$(date +%s)" -lt "$deadline" ] || { log "not healthy after ${HEALTH_TIMEOUT} s: $now"; exit 1; }
  sleep 3
done
phase_end

# ------------------------------------------------------------------ ingest and ask
phase_start ingest-ask
chat_calls() { "${COMPOSE[@]}" logs --no-color llm 2>/dev/null | grep -c 'POST /v1/chat/completions' || true; }
before=$(chat_calls)
python3 docker/smoke-check.py --url "http://127.0.0.1:$API_PORT" --key "$API_KEY" --sample rag/data/sample \
  --question "$QUESTION" --expect-doc "$EXPECT_DOC" --out "${RAG_SMOKE_OUT:-$RUN/result.json}"
after=$(chat_calls)
log "llm service: $(( after - before )) chat completion request(s) during the question"
[ $(( after - before )) -ge 1 ] || { log "the answer did not come from the llm service"; exit 1; }
phase_end

# ------------------------------------------------------------------ bad .env
phase_start bad-env
# 1. missing key: compose refuses before starting anything
grep -v '^RAG_API_KEYS=' "$RUN/smoke.env" >"$RUN/nokey.env"
if out=$(RAG_ENV_FILE="$RUN/nokey.env" docker-compose -p "$PROJECT" --env-file "$RUN/nokey.env" up -d --no-build api 2>&1); then
  log "compose started without RAG_API_KEYS"; exit 1
fi
echo "$out" | grep -q 'set RAG_API_KEYS in .env' || { echo "$out"; log "no clear message for a missing key"; exit 1; }
log "missing key -> compose: ...${out##*: }"
# 2. a wrong port: not a number -> compose's own error; a port already in use on the
#    host -> `up` fails with the bind error and the container is not restarted
sed -e "s/^RAG_HOST_PORT=.*/RAG_HOST_PORT=not-a-port/" "$RUN/smoke.env" >"$RUN/badport.env"
if out=$(RAG_ENV_FILE="$RUN/badport.env" docker-compose -p "$PROJECT" --env-file "$RUN/badport.env" up -d --no-build api 2>&1); then
  log "compose accepted RAG_HOST_PORT=not-a-port"; exit 1
fi
log "RAG_HOST_PORT=not-a-port -> compose: $(echo "$out" | tail -n 1)"
BUSY_PORT=$(free_port)
python3 -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' "$BUSY_PORT" &
BLOCKER_PID=$!
sleep 1
sed -e "s/^RAG_HOST_PORT=.*/RAG_HOST_PORT=$BUSY_PORT/" "$RUN/smoke.env" >"$RUN/busyport.env"
if out=$(RAG_ENV_FILE="$RUN/busyport.env" docker-compose -p "$PROJECT" --env-file "$RUN/busyport.env" up -d --no-build --no-deps api 2>&1); then
  log "compose started api on a port in use"; exit 1
fi
echo "$out" | grep -qiE 'address already in use|port is already allocated' || { echo "$out"; log "no clear message for a busy port"; exit 1; }
log "RAG_HOST_PORT=$BUSY_PORT (in use) -> compose: $(echo "$out" | grep -iE 'address already in use|port is already allocated' | tail -n 1)"
sleep 5
st=$("$DOCKER" inspect -f '{{.State.Status}}, {{.RestartCount}} restarts' "$(cid api)" 2>/dev/null || echo none)
case "$st" in restarting*) log "api is restarting on a busy port: $st"; exit 1 ;; esac
log "api container after the failed bind: $st"
stop_pid "$BLOCKER_PID" "port blocker"; BLOCKER_PID=""
# 3. values compose cannot judge: the entrypoint refuses them with exit 78, and
#    restart: on-failure:3 stops after three retries instead of looping
for bad in "RAG_API_KEYS=change-me" "RAG_TOP_K=0"; do
  name="${bad%%=*}"
  { grep -v "^$name=" "$RUN/smoke.env"; echo "$bad"; } >"$RUN/bad.env"
  RAG_ENV_FILE="$RUN/bad.env" docker-compose -p "$PROJECT" --env-file "$RUN/bad.env" up -d --no-build --no-deps api >/dev/null 2>&1
  deadline=$(( $(date +%s) + 240 ))
  while :; do
    st=$("$DOCKER" inspect -f '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' "$(cid api)")
    case "$st" in "exited 3 "*) break ;; esac
    [ "$(date +%s)" -lt "$deadline" ] || { log "$bad: still '$st' after 240 s (crash loop?)"; exit 1; }
    sleep 2
  done
  sleep 5
  st2=$("$DOCKER" inspect -f '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' "$(cid api)")
  [ "$st2" = "exited 3 78" ] || { log "$bad: expected 'exited 3 78', got '$st2'"; exit 1; }
  msg=$("$DOCKER" logs "$(cid api)" 2>&1 | grep 'configuration error' | tail -n 1)
  [ -n "$msg" ] || { "$DOCKER" logs "$(cid api)" 2>&1 | tail -20; log "$bad: no clear message"; exit 1; }
  log "$bad -> api exited 78 after 3 restarts, stopped: $msg"
done
phase_end

log "smoke test passed"
