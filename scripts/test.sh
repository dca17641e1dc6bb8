#!/usr/bin/env bash
# The whole test suite: unit, topology and integration tests (a real Kafka broker, embedded KRaft
# unless a Docker engine is available; real RocksDB; a real Prometheus). Installs what it needs.
# Also the format gate and the compiler's warning gate (both fail the build).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$root/scripts/setup.sh" --prometheus
cd "$root"
# the Prometheus test must not be skipped here: Prometheus was just installed
RETAIN_REQUIRE_PROMETHEUS=1 mvn -B -ntp verify "$@"
