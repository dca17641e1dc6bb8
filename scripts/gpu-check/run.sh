#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with .gpu/ made by make-kit.sh:
#   bash scripts/gpu-check/run.sh STEP...
# Steps: build (compiles the JNI shim against the machine's libtorch; first), bench-gpu, bench-cpu
# (bench continual --policies retain, 3 seeds, on the GPU or the CPU), bench-all-gpu (every
# policy), bench-generated-gpu, demo-gpu, demo-cpu (retain demo --data generated; needs --broker).
# Logs go to $OUT (the lending tool's folder) or /tmp/gpu-check.
#
# Why a shim: DJL 0.35.1's JNI is built for libtorch 2.7.1, and the only CUDA libtorch such a
# machine has is Python's (2.11 when this was written); the two are not ABI-compatible (DJL's own
# JNI fails there at the first array). djl_torch_min.cc implements the JNI functions Retain calls,
# compiled against the libtorch at hand, and DJL is pointed at both through its documented
# overrides (PYTORCH_LIBRARY_PATH, PYTORCH_VERSION, PYTORCH_FLAVOR and its cache directory).
set -uo pipefail
kit=/tmp/gpu-kit
mkdir -p "$kit"
for part in jre lib broker fashion-mnist; do
  if [[ -f ".gpu/$part.tar.xz" && ! -e "$kit/$part" ]]; then
    tar -xJf ".gpu/$part.tar.xz" -C "$kit"
  fi
done
if [[ -d "$kit/fashion-mnist" && ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]]; then
  mkdir -p /usr/share/datasets/fashion-mnist
  for f in "$kit"/fashion-mnist/*-ubyte; do
    gzip -1 -c "$f" > "/usr/share/datasets/fashion-mnist/$(basename "$f").gz"
  done
fi
site="$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')"
torch_lib="$site/torch/lib"
echo "torch $(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
nvidia-smi -L
# DJL loads every library in PYTORCH_LIBRARY_PATH: give it only libtorch's own
mkdir -p /tmp/gpu-kit-torch /tmp/gpu-kit-cudart
for l in libc10.so libc10_cuda.so libtorch_cpu.so libtorch_cuda.so libtorch.so; do
  ln -sf "$torch_lib/$l" "/tmp/gpu-kit-torch/$l"
done
# DJL counts GPUs through libcudart (JNA)
ln -sf "$(find "$site/nvidia" /usr/local/cuda*/ -name 'libcudart.so*' 2>/dev/null | head -1)" \
  /tmp/gpu-kit-cudart/libcudart.so
nvidia_libs="$(find "$site/nvidia" -type d -name lib 2>/dev/null | tr '\n' ':')"
export LD_LIBRARY_PATH="/tmp/gpu-kit-torch:$torch_lib:/tmp/gpu-kit-cudart:$nvidia_libs${LD_LIBRARY_PATH:-}"
export PYTORCH_LIBRARY_PATH=/tmp/gpu-kit-torch PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cu128
export ENGINE_CACHE_DIR=/tmp/gpu-kit-cache
jni="$ENGINE_CACHE_DIR/pytorch/2.7.1-cu128-linux-x86_64/0.35.1-libdjl_torch.so"
java="$kit/jre/bin/java -Xmx16g"
cp="$kit/lib/*:$kit/broker/*"
logs="${OUT:-/tmp/gpu-check}"
mkdir -p "$logs"
retain() { $java -cp "$cp" dev.retain.cli.Main "$@" 2>&1 | grep -v '^\s*at '; }
for step in "$@"; do
  echo "== $step"
  case "$step" in
    build)
      mkdir -p "$(dirname "$jni")"
      cuda_include="$(ls -d /usr/local/cuda/include "$site"/nvidia/cu*/include 2>/dev/null | sed 's/^/-I/' | tr '\n' ' ')"
      # shellcheck disable=SC2086
      g++ -O2 -shared -fPIC -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=1 -DWITH_CUDA \
        -I"$kit/lib/include" $cuda_include -I"$site/torch/include" \
        -I"$site/torch/include/torch/csrc/api/include" scripts/gpu-check/djl_torch_min.cc \
        -L"$torch_lib" -Wl,--no-as-needed -ltorch -ltorch_cuda -lc10_cuda -ltorch_cpu -lc10 \
        -o "$jni" && ls -l "$jni" ;;
    bench-gpu) retain bench continual --policies retain --device gpu --json | tee "$logs/bench-gpu.log" | tail -12 ;;
    bench-cpu) retain bench continual --policies retain --device cpu --json | tee "$logs/bench-cpu.log" | tail -12 ;;
    bench-all-gpu) retain bench continual --device gpu --json | tee "$logs/bench-all-gpu.log" | tail -20 ;;
    bench-generated-gpu) retain bench continual --generated --policies retain --seeds 1 --device gpu --json | tee "$logs/bench-generated-gpu.log" | tail -12 ;;
    demo-gpu) RETAIN_TRAIN_DEVICE=gpu retain demo --data generated | tee "$logs/demo-gpu.log" | tail -25 ;;
    demo-cpu) RETAIN_TRAIN_DEVICE=cpu retain demo --data generated | tee "$logs/demo-cpu.log" | tail -25 ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
