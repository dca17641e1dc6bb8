#!/usr/bin/env bash
# Packs what a GPU check needs into .gpu/ (ignored by git) for a machine that has a CUDA build of
# PyTorch (Python's torch) but no Java, no Maven and no network, such as the GPU machine lent to
# development sessions. Not used by the build or the tests. See README, Benchmarks, "The GPU path".
#   scripts/gpu-check/make-kit.sh [--broker] [--fashion-mnist]
# Always: a trimmed Java runtime (jlink) and Retain's jar and libraries without the CPU natives,
# repacked uncompressed so that xz packs them small. --broker adds the Kafka broker's jars (for
# `retain demo`); --fashion-mnist adds the dataset (for `bench continual` without --generated).
# The lending tool carries at most 64 MiB: the two options together exceed that.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ensure_built
out="$root/.gpu"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*.tar.xz

broker_jars='^(scala-|kafka_2|kafka-server|kafka-raft|kafka-metadata|kafka-storage|kafka-group|kafka-transaction|kafka-share|kafka-coordinator|kafka-test|zstd-jni|snappy|commons-compress|jopt|argparse|jose4j|metrics-core|caffeine)'

# repack: jar -> uncompressed jar with only Linux x86-64 natives (and no CPU-only DJL JNI)
repack() {
  local source="$1" dest="$2" dir
  dir="$(mktemp -d)"
  (cd "$dir" && unzip -q -o "$source" \
    && find . \( -name '*.dll' -o -name '*.dylib' -o -name '*.jnilib' -o -name '*.a' \) -delete \
    && { find . -name '*.so' | { grep -v -E 'linux64\.so|linux-x86-64/|linux/amd64/|linux-x86_64/cu' || true; } \
      | xargs -r rm -f; } \
    && zip -q -r -0 "$dest" .)
  rm -rf "$dir"
}

echo "java runtime..." >&2
jlink --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.naming,java.xml,java.sql,jdk.crypto.ec,jdk.zipfs,jdk.httpserver,java.net.http,java.security.sasl,java.security.jgss,jdk.security.auth,java.desktop \
  --strip-debug --no-header-files --no-man-pages --compress=0 --output "$work/jre"
strip --strip-unneeded "$work/jre/lib/server/libjvm.so" "$work"/jre/lib/*.so
rm -f "$work"/jre/lib/{libawt_xawt,libfontmanager,libsplashscreen,libjavajpeg,liblcms}.so
tar -C "$work" -cf - jre | xz -9 -T0 > "$out/jre.tar.xz"

echo "libraries..." >&2
mkdir -p "$work/lib" "$work/broker"
for library in "$root"/target/lib/*.jar; do
  name="$(basename "$library")"
  case "$name" in pytorch-native-*) continue ;; esac
  if [[ "$name" =~ $broker_jars ]]; then
    if [[ " $* " == *" --broker "* ]]; then repack "$library" "$work/broker/$name"; fi
  else
    repack "$library" "$work/lib/$name"
  fi
done
repack "$jar" "$work/lib/retain.jar"
mkdir -p "$work/lib/include"
jdk_include="$(dirname "$(readlink -f "$(command -v javac)")")/../include"
cp "$jdk_include/jni.h" "$jdk_include/linux/jni_md.h" "$work/lib/include/"
tar -C "$work" -cf - lib | xz -9 -T0 > "$out/lib.tar.xz"
if [[ " $* " == *" --broker "* ]]; then
  tar -C "$work" -cf - broker | xz -9 -T0 > "$out/broker.tar.xz"
fi

if [[ " $* " == *" --fashion-mnist "* ]]; then
  echo "Fashion-MNIST..." >&2
  mkdir -p "$work/fashion-mnist"
  for f in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do
    zcat "$f" > "$work/fashion-mnist/$(basename "$f" .gz)"
  done
  tar -C "$work" -cf - fashion-mnist | xz -9 -T0 > "$out/fashion-mnist.tar.xz"
fi
du -ch "$out"/*.tar.xz >&2
