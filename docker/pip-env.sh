# Sourced by the image builds' pip steps (`. /usr/local/lib/rag-docker/pip-env.sh`).
# The PIP_* build arguments default to empty; pip must not see empty values, so
# they are unset here, and users' builds reach PyPI as usual. A CA bundle given
# as the BuildKit secret `pip_cert` (docker build --secret id=pip_cert,src=FILE)
# becomes PIP_CERT, for networks whose HTTPS goes through an intercepting proxy.
for _v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST PIP_CERT; do
  eval "_val=\${$_v:-}"
  if [ -n "$_val" ]; then export "$_v"; else unset "$_v"; fi
done
unset _v _val
if [ -s /run/secrets/pip_cert ]; then
  export PIP_CERT=/run/secrets/pip_cert
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-180}"
