#!/usr/bin/env bash
# The system libraries librdkafka is built against (rdkafka's ssl and curl
# features): OpenSSL for TLS, SASL SCRAM and OAUTHBEARER, libcurl for
# OAUTHBEARER's OIDC token fetch. Idempotent: installs from Debian's
# packages only what pkg-config cannot find (root needed for that).
set -euo pipefail

missing=()
pkg-config --version >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/env/build-deps.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[build-deps] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
