#!/usr/bin/env bash
# The whole test suite: unit, topology and integration tests (a real Kafka broker, embedded KRaft
# unless a Docker engine is available; real RocksDB). Installs what it needs. Also the format gate
# and the compiler's warning gate (both fail the build).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$root/scripts/setup.sh"
cd "$root"
mvn -B -ntp verify "$@"
