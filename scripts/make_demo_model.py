#!/usr/bin/python3
"""Exports C3D-style networks (Tran et al. 2015 layer names and shapes) as TorchScript with
fixed random weights:
  c3d        the original: channels 64-128-256-512-512, fc6/fc7 4096, 487 classes (Sports-1M)
  c3d-small  the same layers with narrower channels 16-32-64-96-96, fc 256, 8 classes

The c3d-small file in models/ is the demo model until a trained one ships: its explanations
show the tool working end to end, not a learned behaviour.

Input: 1×3×16×112×112, RGB, scaled to [0,1] and normalised with the library's defaults.
Run with Debian's python3-torch so LibTorch 1.13 can load the file:
    /usr/bin/python3 scripts/make_demo_model.py models/demo_c3d_small.pt [c3d|c3d-small]
"""
import sys

import torch
from torch import nn


class C3D(nn.Module):
    """C3D layout: conv1a pool1 conv2a pool2 conv3a conv3b pool3 conv4a conv4b pool4
    conv5a conv5b pool5 fc6 fc7 fc8. `width` scales the channels (64 in the original)."""

    def __init__(self, channels=(16, 32, 64, 96, 96), fc=256, num_classes=8, dropout=0.5):
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        self.conv1a = nn.Conv3d(3, c1, 3, padding=1)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2a = nn.Conv3d(c1, c2, 3, padding=1)
        self.pool2 = nn.MaxPool3d(2, 2)
        self.conv3a = nn.Conv3d(c2, c3, 3, padding=1)
        self.conv3b = nn.Conv3d(c3, c3, 3, padding=1)
        self.pool3 = nn.MaxPool3d(2, 2)
        self.conv4a = nn.Conv3d(c3, c4, 3, padding=1)
        self.conv4b = nn.Conv3d(c4, c4, 3, padding=1)
        self.pool4 = nn.MaxPool3d(2, 2)
        self.conv5a = nn.Conv3d(c4, c5, 3, padding=1)
        self.conv5b = nn.Conv3d(c5, c5, 3, padding=1)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(c5 * 1 * 4 * 4, fc)
        self.fc7 = nn.Linear(fc, fc)
        self.fc8 = nn.Linear(fc, num_classes)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.pool1(self.relu(self.conv1a(x)))
        x = self.pool2(self.relu(self.conv2a(x)))
        x = self.pool3(self.relu(self.conv3b(self.relu(self.conv3a(x)))))
        x = self.pool4(self.relu(self.conv4b(self.relu(self.conv4a(x)))))
        x = self.pool5(self.relu(self.conv5b(self.relu(self.conv5a(x)))))
        x = torch.flatten(x, 1)
        x = self.dropout(self.relu(self.fc6(x)))
        x = self.dropout(self.relu(self.fc7(x)))
        return self.fc8(x)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "models/demo_c3d_small.pt"
    arch = sys.argv[2] if len(sys.argv) > 2 else "c3d-small"
    torch.manual_seed(0)
    if arch == "c3d":
        model = C3D(channels=(64, 128, 256, 512, 512), fc=4096, num_classes=487)
    elif arch == "c3d-small":
        model = C3D()
    else:
        sys.exit(f"unknown architecture {arch}: c3d or c3d-small")
    scripted = torch.jit.script(model.eval())
    scripted.save(out)
    n = sum(p.numel() for p in model.parameters())
    print(f"{out}: {arch}, {n / 1e6:.2f} M parameters")


if __name__ == "__main__":
    main()
