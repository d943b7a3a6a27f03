#!/bin/sh
# Image build helper, shared by Dockerfile and docker/llm.Dockerfile.
#   python-env.sh ensure      make sure a Python >= 3.11 with venv is installed
#                             (python:3.11-slim has /usr/local/bin/python3; a debootstrap
#                             image has /usr/bin/python3; CUDA images have none: apt installs it)
#   python-env.sh venv DIR    create a virtual environment at DIR from that Python
#   python-env.sh apt PKG...  apt-get install without recommends, lists removed afterwards
set -eu

find_python() {
  for p in python3.12 python3.11 python3 python; do
    if command -v "$p" >/dev/null 2>&1 &&
       "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  rm -rf /var/lib/apt/lists/*
}

case "${1:-}" in
  ensure)
    if ! find_python >/dev/null; then
      echo "no Python >= 3.11 with venv in the base image: installing python3 python3-venv with apt"
      apt_install python3 python3-venv ca-certificates
      find_python >/dev/null || { echo "error: the base image's python3 is older than 3.11" >&2; exit 1; }
    fi
    ;;
  venv)
    py=$(find_python) || { echo "error: no Python >= 3.11 (run 'python-env.sh ensure' first)" >&2; exit 1; }
    "$py" -m venv "${2:?venv DIR}"
    echo "created ${2} with $("$py" --version 2>&1) ($py)"
    ;;
  apt)
    shift
    apt_install "$@"
    ;;
  *)
    echo "usage: python-env.sh ensure | venv DIR | apt PKG..." >&2
    exit 2
    ;;
esac
