#!/usr/bin/env bash
# The demo: builds if needed, starts an embedded Kafka broker, the learner (ingest, training,
# publishing), the serving endpoint and a drift stream (Fashion-MNIST with permuted domains; it
# installs Debian's package when it can, else uses generated data), shows progress and ends with
# the accuracy matrix, a plot of retained accuracy per domain, the adapter versions and a served
# prediction. Extra arguments go to `retain demo` (see --help).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
"$here/setup.sh" --quiet --fashion-mnist || echo "Fashion-MNIST unavailable: the demo uses generated data" >&2
exec "$here/retain" demo "$@"
