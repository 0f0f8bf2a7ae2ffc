"""Models explain-video cannot explain, or can only with --output, for the error and
output-selection tests (tests/test_model.cpp, tests/test_model_zoo.cpp). Input 1x3x8x32x32.

  two_pathway_{scripted,traced}.pt  SlowFast-style: forward(List[Tensor]) (slow, fast pathways)
  image2d_scripted.pt               a 2D image CNN: forward takes N×C×H×W
  tokens_{scripted,traced}.pt       a video transformer on tubelet tokens, no 5D activation
  dict_out_{scripted,traced}.pt     forward returns {"features": N×C×T×H×W, "logits": N×5}
"""
import pathlib
from typing import Dict, List

import torch
import torch.nn as nn

INPUT = (1, 3, 8, 32, 32)


class TwoPathway(nn.Module):
    def __init__(self):
        super().__init__()
        self.slow = nn.Conv3d(3, 4, 3, padding=1)
        self.fast = nn.Conv3d(3, 2, 3, padding=1)
        self.fc = nn.Linear(6, 5)

    def forward(self, pathways: List[torch.Tensor]):
        s = self.slow(pathways[0]).mean(dim=(2, 3, 4))
        f = self.fast(pathways[1]).mean(dim=(2, 3, 4))
        return self.fc(torch.cat([s, f], dim=1))


class Image2D(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))


class Tokens(nn.Module):
    """Tubelets of 2x8x8 flattened and embedded by a Linear layer, one transformer block."""

    def __init__(self, dim=16):
        super().__init__()
        self.embed = nn.Linear(3 * 2 * 8 * 8, dim)
        self.block = nn.TransformerEncoderLayer(dim, nhead=2, dim_feedforward=32, batch_first=True)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        n, c, t, h, w = x.shape
        x = x.reshape(n, c, t // 2, 2, h // 8, 8, w // 8, 8).permute(0, 2, 4, 6, 1, 3, 5, 7)
        x = self.embed(x.reshape(n, (t // 2) * (h // 8) * (w // 8), c * 2 * 8 * 8))
        return self.head(self.block(x).mean(dim=1))


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 5)

    def forward(self, x) -> Dict[str, torch.Tensor]:
        f = self.relu(self.conv(x))
        return {"features": f, "logits": self.fc(f.mean(dim=(2, 3, 4)))}


def make(outdir):
    outdir = pathlib.Path(outdir)
    torch.manual_seed(4321)
    x = torch.randn(INPUT)
    two = TwoPathway().eval()
    torch.jit.script(two).save(str(outdir / "two_pathway_scripted.pt"))
    with torch.no_grad():
        torch.jit.trace(two, ([x, x.clone()],)).save(str(outdir / "two_pathway_traced.pt"))
    torch.jit.script(Image2D().eval()).save(str(outdir / "image2d_scripted.pt"))
    tok = Tokens().eval()
    torch.jit.script(tok).save(str(outdir / "tokens_scripted.pt"))
    with torch.no_grad():
        torch.jit.trace(tok, x).save(str(outdir / "tokens_traced.pt"))
    d = DictOut().eval()
    torch.jit.script(d).save(str(outdir / "dict_out_scripted.pt"))
    with torch.no_grad():
        torch.jit.trace(d, x, strict=False).save(str(outdir / "dict_out_traced.pt"))
