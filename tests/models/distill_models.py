"""Tiny teacher and student networks for the distillation tests (tests/test_distill.cpp).

No dropout and no batch norm, so train and eval mode compute the same function (the loss of a
network against itself must be exactly zero). Input N×3×8×32×32.
tiny_teacher: conv1 8, conv2 16, conv3 32 channels; conv3's output is 4×8×8.
tiny_student: conv1 4, conv2 8, conv3 16 channels and one more pooling, so conv3's output is
2×4×4 and the explanation loss must resample it to the teacher's 4×8×8.
"""
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, widths, extra_pool: bool, num_classes: int = 8):
        super().__init__()
        a, b, c = widths
        self.conv1 = nn.Conv3d(3, a, 3, padding=1)
        self.pool1 = nn.MaxPool3d((1, 2, 2))
        self.conv2 = nn.Conv3d(a, b, 3, padding=1)
        self.pool2 = nn.MaxPool3d(2)
        self.pool3 = nn.MaxPool3d(2) if extra_pool else nn.Identity()
        self.conv3 = nn.Conv3d(b, c, 3, padding=1)
        self.relu = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool3d((1, 2, 2))
        self.fc = nn.Linear(c * 4, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu(self.conv1(x)))
        x = self.pool3(self.pool2(self.relu(self.conv2(x))))
        x = self.relu(self.conv3(x))
        return self.fc(torch.flatten(self.gap(x), 1))


def make(outdir):
    torch.manual_seed(4321)
    torch.jit.script(TinyNet((8, 16, 32), False).eval()).save(str(outdir / "tiny_teacher.pt"))
    torch.manual_seed(1234)
    torch.jit.script(TinyNet((4, 8, 16), True).eval()).save(str(outdir / "tiny_student.pt"))
