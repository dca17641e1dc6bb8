#!/usr/bin/env bash
# Container health check: GET /health/live on the learner's metrics port or serving's port (the
# first that answers), with bash alone (the runtime image has no curl). Liveness, not readiness: a
# learner waiting for its first data is alive and must not be restarted.
set -u
for port in ${RETAIN_HEALTH_PORT:-${RETAIN_METRICS_PORT:-9404} ${RETAIN_SERVE_PORT:-8080}}; do
  if { exec 3<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null; then
    printf 'GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    read -r -t 2 status <&3 || status=""
    exec 3<&-
    [[ "$status" == *" 200 "* ]] && exit 0
    exit 1
  fi
done
exit 1
