"""Logits of an exported adapter loaded with Hugging Face PEFT over the exported base module.

Usage: peft_check.py EXPORT_DIR INPUTS_JSON. Fails on any warning PEFT raises while loading.
"""
import json
import sys
import warnings

import torch
from peft import PeftModel


def main(export_dir, inputs):
    sys.path.insert(0, export_dir)
    from retain_model import load_base

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = PeftModel.from_pretrained(load_base(f"{export_dir}/base/model.safetensors"), export_dir)
    model.eval()
    x = torch.tensor(json.load(open(inputs)), dtype=torch.float32)
    with torch.no_grad():
        print(json.dumps(model(x).tolist()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
