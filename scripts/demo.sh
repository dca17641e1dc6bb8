#!/usr/bin/env bash
# The demo: builds if needed, starts an embedded Kafka broker, Retain, and a built-in drift stream,
# shows progress and ends with a table. Extra arguments go to `retain demo` (see --help).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/retain" demo "$@"
