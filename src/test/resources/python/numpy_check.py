"""Logits of an exported adapter over its base, read with numpy alone (no Retain code, no torch).

Usage: numpy_check.py EXPORT_DIR INPUTS_JSON. Reads the safetensors files by their published
layout, merges each Linear layer as PEFT does (W + lora_alpha / r * B @ A; sqrt(r) with rsLoRA)
and prints the MLP's logits as JSON.
"""
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = np.frombuffer(data[8 + n + start : 8 + n + end], dtype="<f4")
        out[name] = raw.reshape(info["shape"])
    return out


def main(export_dir, inputs):
    config = json.load(open(f"{export_dir}/adapter_config.json"))
    rank = config["r"]
    scale = config["lora_alpha"] / (rank ** 0.5 if config["use_rslora"] else rank)
    base = load(f"{export_dir}/base/model.safetensors")
    adapter = load(f"{export_dir}/adapter_model.safetensors")
    x = np.array(json.load(open(inputs)), dtype=np.float64)
    layers = 0
    while f"layers.{layers}.weight" in base:
        layers += 1
    for i in range(layers):
        module = f"layers.{i}"
        w = base[f"{module}.weight"].astype(np.float64)
        a = adapter.get(f"base_model.model.{module}.lora_A.weight")
        b = adapter.get(f"base_model.model.{module}.lora_B.weight")
        if module in config["target_modules"]:
            w = w + scale * b.astype(np.float64) @ a.astype(np.float64)
        x = x @ w.T + base[f"{module}.bias"]
        if i < layers - 1:
            x = np.maximum(x, 0)
    print(json.dumps(x.tolist()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
