#!/usr/bin/env bash
# Installs what Retain needs on a fresh Debian machine: a JDK 17 and Maven; with --prometheus also
# Prometheus (and promtool), which the tests run; with --fashion-mnist Debian's Fashion-MNIST
# package (the demo and `retain bench continual` use it). Idempotent.
#   scripts/setup.sh [--quiet] [--prometheus] [--fashion-mnist]
set -euo pipefail
quiet=0 prometheus=0 fashion=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --prometheus) prometheus=1 ;;
    --fashion-mnist) fashion=1 ;;
  esac
done
need=()
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if ((prometheus)) && ! command -v prometheus >/dev/null 2>&1; then need+=(prometheus); fi
if ((fashion)) && [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  need+=(dataset-fashion-mnist)
fi
if ((${#need[@]})); then
  echo "installing ${need[*]}..." >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "not root: install ${need[*]} with apt-get, then run again" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
elif ((!quiet)); then
  echo "all present" >&2
fi
