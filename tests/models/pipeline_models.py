"""Models whose right explanation is known by construction, for the frame-level pipeline tests.

red_detector: a 1×1×1 convolution that fires on pure red pixels (in raw [0,1] RGB units, the
input normalisation folded into its weights), ReLU, a spatial max-pool (the default 5D
layer), global average pooling and a linear head: logit 0 = "red" grows with the amount of
red, logit 1 = "no red" falls with it. Grad-CAM and Grad-CAM++ at the pool must therefore
light up exactly where red pixels are, in exactly the frames that have them.
"""
import torch
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
