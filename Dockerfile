# The API service: `rag serve` on port 8000, collections in /data.
#
#   docker build -t rag-api .                     # FROM python:3.11-slim, pip from PyPI
#   docker compose up                             # see docker-compose.yml and docker/README-compose.md
#
# Build arguments (all optional):
#   BASE_IMAGE        any Debian/Ubuntu image; Python >= 3.11 is installed with apt when it has none
#   TORCH_INDEX_URL   index for torch alone, e.g. https://download.pytorch.org/whl/cpu for a CPU-only
#                     image (PyPI's Linux torch carries the CUDA libraries: larger, works on CPU too)
#   TORCH_VERSION     default 2.13.0
#   RAG_EXTRAS        extras of the project to install, e.g. "gpu" (faiss GPU wheel instead of faiss-cpu)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_TRUSTED_HOST, PIP_CERT
#                     pip configuration for networks that need it; empty = pip's defaults
# Secret (optional): --secret id=pip_cert,src=/path/to/ca-bundle.crt  -> PIP_CERT inside the build.
# Needs BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 for older ones).
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build: a venv in /opt/venv
FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_FIND_LINKS=""
ARG PIP_TRUSTED_HOST=""
ARG PIP_CERT=""
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=""
ARG RAG_EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1
COPY docker/python-env.sh docker/pip-env.sh /usr/local/lib/rag-docker/
RUN sh /usr/local/lib/rag-docker/python-env.sh ensure \
 && sh /usr/local/lib/rag-docker/python-env.sh venv /opt/venv

# torch first, pinned for every later step: an unpinned resolve could pick another build
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    . /usr/local/lib/rag-docker/pip-env.sh \
 && /opt/venv/bin/pip install -q --upgrade pip \
 && echo "torch==${TORCH_VERSION}" > /opt/venv/torch-constraint.txt \
 && if [ -n "${TORCH_INDEX_URL}" ]; then set -- --index-url "${TORCH_INDEX_URL}"; else set --; fi \
 && /opt/venv/bin/pip install -q "$@" "torch==${TORCH_VERSION}" \
 && /opt/venv/bin/python -c "import torch; print('torch', torch.__version__)"

# the project's dependencies, in a layer that only pyproject.toml invalidates (installed
# from a stub of the project in a scratch folder, so no stale build output is left behind)
COPY pyproject.toml README.md /tmp/deps/
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    . /usr/local/lib/rag-docker/pip-env.sh \
 && cd /tmp/deps \
 && mkdir -p rag connectors eval \
 && touch rag/__init__.py connectors/__init__.py eval/__init__.py \
 && spec="."; if [ -n "${RAG_EXTRAS}" ]; then spec=".[${RAG_EXTRAS}]"; fi \
 && /opt/venv/bin/pip install -q -c /opt/venv/torch-constraint.txt "$spec" \
 && case ",${RAG_EXTRAS}," in *,gpu,*) \
      /opt/venv/bin/pip uninstall -q -y faiss-cpu \
      && /opt/venv/bin/pip install -q --no-deps --force-reinstall "$(/opt/venv/bin/pip list --format=freeze | grep -i '^faiss-gpu')" ;; \
    esac \
 && cd / && rm -rf /tmp/deps

# the project itself
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rag ./rag
COPY connectors ./connectors
COPY eval ./eval
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    . /usr/local/lib/rag-docker/pip-env.sh \
 && /opt/venv/bin/pip install -q --no-deps --force-reinstall . \
 && rm -rf build *.egg-info \
 && /opt/venv/bin/rag --help >/dev/null \
 && cd / && /opt/venv/bin/python -c "import faiss, sentence_transformers, rag.api.app; from connectors import FilesystemConnector; print('imports ok')"

# ---------------------------------------------------------------- runtime
FROM ${BASE_IMAGE}
COPY docker/python-env.sh /usr/local/lib/rag-docker/
RUN sh /usr/local/lib/rag-docker/python-env.sh ensure \
 && groupadd --gid 10001 rag \
 && useradd --uid 10001 --gid rag --create-home --home-dir /home/rag --shell /usr/sbin/nologin rag \
 && mkdir -p /data \
 && chown rag:rag /data
COPY --from=build /opt/venv /opt/venv
COPY docker/api-entrypoint.sh /usr/local/bin/rag-entrypoint
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    RAG_DATA_DIR=/data \
    RAG_HOST=0.0.0.0 \
    RAG_PORT=8000 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    RAGAS_DO_NOT_TRACK=true
WORKDIR /home/rag
USER rag
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('RAG_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["rag-entrypoint"]
CMD ["rag", "serve", "--host", "0.0.0.0"]
