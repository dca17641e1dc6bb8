"""Retain's base model as a torch.nn.Module, for Hugging Face PEFT.

Written next to an exported adapter by `retain export`. Usage:

    import sys, torch
    from peft import PeftModel
    sys.path.insert(0, "DIR")
    from retain_model import load_base
    model = PeftModel.from_pretrained(load_base("DIR/base/model.safetensors"), "DIR").eval()
    logits = model(torch.tensor(features, dtype=torch.float32).reshape(1, -1))

The layout is the one Retain trains and serves: optional 3x3 convolutions (padding 1, each
followed by ReLU and 2x2 max pooling) over a square one-channel image given as a flat vector,
then Linear layers with ReLU between them. The module names (convs.C, layers.N) are those the
adapter's target_modules name.
"""
import math

import torch
from safetensors.torch import load_file
from torch import nn


class RetainBase(nn.Module):
    def __init__(self, tensors):
        super().__init__()
        convs, layers = [], []
        while f"convs.{len(convs)}.weight" in tensors:
            w = tensors[f"convs.{len(convs)}.weight"]
            convs.append(nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1))
        while f"layers.{len(layers)}.weight" in tensors:
            w = tensors[f"layers.{len(layers)}.weight"]
            layers.append(nn.Linear(w.shape[1], w.shape[0]))
        self.convs = nn.ModuleList(convs)
        self.layers = nn.ModuleList(layers)
        self.side = 0
        if convs:
            pooled = round(math.sqrt(layers[0].in_features / convs[-1].out_channels))
            self.side = pooled << len(convs)
        self.load_state_dict(tensors)

    def forward(self, x):
        if len(self.convs):
            x = x.reshape(-1, 1, self.side, self.side)
            for conv in self.convs:
                x = torch.max_pool2d(torch.relu(conv(x)), 2)
            x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


def load_base(path):
    """The base model from a safetensors file, in eval mode."""
    return RetainBase(load_file(path)).eval()
