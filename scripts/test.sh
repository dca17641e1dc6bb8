#!/usr/bin/env bash
# The whole test suite: unit, topology and integration tests (a real Kafka broker, embedded KRaft
# unless a Docker engine is available; real RocksDB; a real Prometheus). Installs what it needs.
# Also the format gate and the compiler's warning gate (both fail the build).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$root/scripts/setup.sh"
# Prometheus for PrometheusIT: installed from Debian when missing; the test is required whenever
# the binary is present, and skipped (with a warning here) only where it cannot be installed
if "$root/scripts/setup.sh" --quiet --prometheus && command -v prometheus >/dev/null 2>&1; then
  export RETAIN_REQUIRE_PROMETHEUS=1
else
  echo "WARNING: prometheus could not be installed; PrometheusIT will be skipped" >&2
fi
cd "$root"
mvn -B -ntp verify "$@"
