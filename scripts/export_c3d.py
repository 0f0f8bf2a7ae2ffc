#!/usr/bin/python3
"""Exports C3D-style networks (Tran et al. 2015 layer names and shapes) as TorchScript with
fixed random weights:
  c3d        the original: channels 64-128-256-512-512, fc6/fc7 4096, 487 classes (Sports-1M)
  c3d-small  the same layers and strides with narrower channels 8-16-32-64-64, fc 128, 8 classes
             (0.58 M parameters: a training step on 2 CPU cores takes ~0.13 s per clip)
  c3d-demo   channels 16-32-64-96-96, fc 256, 8 classes: the untrained demo model
  c3d-tiny   channels 4-8-16-32-32, fc 64, 8 classes: a student for `explain-video distill`

Input: N×3×16×112×112, RGB, scaled to [0,1] and normalised with the library's defaults.
Run with Debian's python3-torch so LibTorch 1.13 can load the file:
    /usr/bin/python3 scripts/export_c3d.py --arch c3d-small --out c3d_small_init.pt [--classes 8] [--seed 0]
"""
import argparse

import torch
from torch import nn


class C3D(nn.Module):
    """C3D layout: conv1a pool1 conv2a pool2 conv3a conv3b pool3 conv4a conv4b pool4
    conv5a conv5b pool5 fc6 fc7 fc8. `width` scales the channels (64 in the original)."""

    def __init__(self, channels=(16, 32, 64, 96, 96), fc=256, num_classes=8, dropout=0.5, norm=False):
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        # Optional batch normalisation after every convolution (bn1a … bn5b): not in the
        # original C3D, but it lets the small variant train from scratch in a few epochs.
        def bn(c):
            return nn.BatchNorm3d(c) if norm else nn.Identity()
        self.bn1a, self.bn2a, self.bn3a, self.bn3b = bn(c1), bn(c2), bn(c3), bn(c3)
        self.bn4a, self.bn4b, self.bn5a, self.bn5b = bn(c4), bn(c4), bn(c5), bn(c5)
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
        # He initialisation: with PyTorch's default (uniform, a=sqrt(5)) the signal shrinks
        # through eight conv layers without normalisation and training from scratch stalls.
        for mod in self.modules():
            if isinstance(mod, (nn.Conv3d, nn.Linear)):
                nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(mod.bias)
        nn.init.normal_(self.fc8.weight, std=0.01)

    def forward(self, x):
        x = self.pool1(self.relu(self.bn1a(self.conv1a(x))))
        x = self.pool2(self.relu(self.bn2a(self.conv2a(x))))
        x = self.relu(self.bn3a(self.conv3a(x)))
        x = self.pool3(self.relu(self.bn3b(self.conv3b(x))))
        x = self.relu(self.bn4a(self.conv4a(x)))
        x = self.pool4(self.relu(self.bn4b(self.conv4b(x))))
        x = self.relu(self.bn5a(self.conv5a(x)))
        x = self.pool5(self.relu(self.bn5b(self.conv5b(x))))
        x = torch.flatten(x, 1)
        x = self.dropout(self.relu(self.fc6(x)))
        x = self.dropout(self.relu(self.fc7(x)))
        return self.fc8(x)


ARCHS = {
    "c3d": dict(channels=(64, 128, 256, 512, 512), fc=4096, num_classes=487),
    "c3d-small": dict(channels=(8, 16, 32, 64, 64), fc=128, num_classes=8),
    "c3d-demo": dict(channels=(16, 32, 64, 96, 96), fc=256, num_classes=8),
    "c3d-tiny": dict(channels=(4, 8, 16, 32, 32), fc=64, num_classes=8),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), default="c3d-small")
    ap.add_argument("--out", required=True, help="TorchScript file to write")
    ap.add_argument("--classes", type=int, help="number of classes (default: the architecture's)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random initial weights")
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--traced", action="store_true", help="trace instead of script")
    ap.add_argument("--norm", action="store_true", help="batch normalisation after every convolution (bn1a … bn5b)")
    a = ap.parse_args()
    cfg = dict(ARCHS[a.arch])
    if a.classes:
        cfg["num_classes"] = a.classes
    torch.manual_seed(a.seed)
    model = C3D(dropout=a.dropout, norm=a.norm, **cfg).eval()
    if a.traced:
        exported = torch.jit.trace(model, torch.zeros(1, 3, 16, 112, 112))
    else:
        exported = torch.jit.script(model)
    exported.save(a.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"{a.out}: {a.arch}, {cfg['num_classes']} classes, {n / 1e6:.2f} M parameters, "
          f"{'traced' if a.traced else 'scripted'}")


if __name__ == "__main__":
    main()
