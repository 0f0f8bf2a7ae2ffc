"""Tiny C3D-like classifiers for the training tests (tests/test_train.cpp).

tiny_c3d: input N×3×8×32×32 (any T ≥ 2, H, W ≥ 4), 8 classes, conv-pool-conv-pool-conv,
average pooling to a 2×4×4 grid (so position and time survive), dropout and a linear head:
~26 k parameters, a training step of 4 clips takes milliseconds. Scripted (train/eval mode
switchable) and traced variants, and a 5-class one for the class-count check.
"""
from typing import Dict

import torch
from torch import nn


class TinyC3D(nn.Module):
    def __init__(self, num_classes: int = 8):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 8, 3, padding=1)
        self.pool1 = nn.MaxPool3d((1, 2, 2))
        self.conv2 = nn.Conv3d(8, 16, 3, padding=1)
        self.pool2 = nn.MaxPool3d(2)
        self.conv3 = nn.Conv3d(16, 32, 3, padding=1)
        self.relu = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool3d((2, 4, 4))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(32 * 2 * 4 * 4, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu(self.conv1(x)))
        x = self.pool2(self.relu(self.conv2(x)))
        x = self.relu(self.conv3(x))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(self.dropout(x))


class TinyDictOut(nn.Module):
    """TinyC3D whose forward() returns {"features": the conv3 map, "logits": N×8}: the first
    tensor is not the logits, so training needs --output logits."""

    def __init__(self):
        super().__init__()
        self.net = TinyC3D()

    def forward(self, x) -> Dict[str, torch.Tensor]:
        n = self.net
        f = n.relu(n.conv3(n.pool2(n.relu(n.conv2(n.pool1(n.relu(n.conv1(x))))))))
        return {"features": f, "logits": n.fc(n.dropout(torch.flatten(n.gap(f), 1)))}


def make(outdir):
    torch.manual_seed(1234)
    m = TinyC3D().eval()
    torch.jit.script(m).save(str(outdir / "tiny_c3d.pt"))
    torch.jit.trace(m, torch.zeros(1, 3, 8, 32, 32)).save(str(outdir / "tiny_c3d_traced.pt"))
    torch.manual_seed(1234)
    torch.jit.script(TinyC3D(num_classes=5).eval()).save(str(outdir / "tiny_c3d_5classes.pt"))
    torch.manual_seed(1234)
    torch.jit.script(TinyDictOut().eval()).save(str(outdir / "tiny_dict_out.pt"))
