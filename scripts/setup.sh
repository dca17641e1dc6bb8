#!/usr/bin/env bash
# Installs what Retain needs on a fresh Debian machine: a JDK 17 and Maven. Idempotent.
#   scripts/setup.sh [--quiet]
set -euo pipefail
need=()
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if ((${#need[@]})); then
  echo "installing ${need[*]}..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
elif [[ "${1:-}" != "--quiet" ]]; then
  echo "java and maven present" >&2
fi
