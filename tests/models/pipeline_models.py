"""Models whose right explanation is known by construction, for the frame-level pipeline tests.

red_detector: a 1×1×1 convolution that fires on pure red pixels (in raw [0,1] RGB units, the
input normalisation folded into its weights), ReLU, a spatial max-pool (the default 5D
layer), global average pooling and a linear head: logit 0 = "red" grows with the amount of
red, logit 1 = "no red" falls with it. Grad-CAM and Grad-CAM++ at the pool must therefore
light up exactly where red pixels are, in exactly the frames that have them.
"""
import torch
import torch.nn.functional as F
from typing import List
from torch import nn

# The library's default normalisation (torchvision's Kinetics-400 statistics).
MEAN = (0.43216, 0.394666, 0.37645)
STD = (0.22803, 0.22145, 0.216989)


class RedDetector(nn.Module):
    def __init__(self, pool_t: int = 1):
        super().__init__()
        self.detect = nn.Conv3d(3, 1, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d((pool_t, 2, 2))
        self.gap = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(1, 2)
        k = torch.tensor([1.0, -1.0, -1.0])  # raw response: R - G - B - 0.5
        with torch.no_grad():
            self.detect.weight.copy_((k * torch.tensor(STD)).view(1, 3, 1, 1, 1))
            self.detect.bias.fill_(float((k * torch.tensor(MEAN)).sum()) - 0.5)
            self.fc.weight.copy_(torch.tensor([[200.0], [-200.0]]))
            self.fc.bias.copy_(torch.tensor([0.0, 0.5]))

    def forward(self, x):
        x = self.pool(self.relu(self.detect(x)))
        return self.fc(torch.flatten(self.gap(x), 1))


class RedDetectorManyClasses(RedDetector):
    """The same detector with a 12-class head: class 0 ("red") wins the video's mean logits on
    the test clip, but windows with little red rank it last (its bias is lowest), so with no
    --class the pipeline must re-run those windows for class 0 (more than 10 classes: each
    window keeps only its top-5 CAMs)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 12)
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.weight[0, 0] = 5000.0
            self.fc.bias.copy_(torch.arange(12, dtype=torch.float32) * 0.1)
            self.fc.bias[0] = -10.0


def make(outdir):
    torch.jit.script(RedDetectorManyClasses().eval()).save(str(outdir / "red_detector_12.pt"))
    m = RedDetector().eval()
    torch.jit.script(m).save(str(outdir / "red_detector.pt"))
    torch.jit.trace(m, torch.zeros(1, 3, 8, 32, 32)).save(str(outdir / "red_detector_traced.pt"))
    (outdir / "red_detector_labels.txt").write_text("red\nno red\n")
    make_keras_same(outdir)


class KerasSame(nn.Module):
    """Keras-style "same" layers as converters write them: F.pad before a convolution and an
    asymmetric F.pad before a pooling (TensorFlow pads the far side), plus a functional pooling
    whose kernel and stride are module attributes, then an nn.MaxPool3d (the default layer).
    Cell centres for a 1×3×8×15×15 input, by hand (tests/test_layer_geometry.cpp):
    t = (1.5, 5.5), h = w = (3.5, 11.375)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3)
        self.k: List[int] = [1, 2, 2]
        self.pool = nn.MaxPool3d(2)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.conv(F.pad(x, [1, 1, 1, 1, 1, 1])))
        x = F.max_pool3d(F.pad(x, [0, 1, 0, 1, 0, 1]), kernel_size=2, stride=2)
        x = F.max_pool3d(x, self.k, self.k)
        x = self.pool(x)
        return self.fc(x.mean([2, 3, 4]))


def make_keras_same(outdir):
    m = KerasSame().eval()
    torch.jit.script(m).save(str(outdir / "keras_same_scripted.pt"))
    torch.jit.trace(m, torch.zeros(1, 3, 8, 15, 15)).save(str(outdir / "keras_same_traced.pt"))
