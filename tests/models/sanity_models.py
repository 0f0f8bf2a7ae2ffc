"""A model for the sanity checks (eval --sanity), whose maps provably depend on its layers.

noise_conv: conv = a 3×7×7 convolution (no bias) that, as trained, copies the red channel's
centre tap (weight 1 there, 0 elsewhere), global average pooling, fc = Linear(1, 2) with weights
+1 / -1 and no bias. Class 0 is predicted when the mean red is above the normalisation mean.
At the conv layer the gradient of class 0 is +1/n everywhere, so Grad-CAM's map is relu(A),
A = the normalised red channel; class 1's is relu(-A).

On a clip of independent grey noise (R = G = B), re-initialising conv draws its 441 weights
iid from N(m, s²) with the trained ones' m = 1/441 and s ~ 0.048; per tap position j (147 of
them) the three channels add up to w_j ~ N(3m, 3s²). A' = sum_j w_j x(shift j) correlates with
A = x(centre) by w_centre / |w|: the mean's share is negligible (147·(3m)² << 147·3s²), so
this is about N(0, 1/147) and |Spearman(relu A, relu A')| < 0.5 except with a probability below
1e-6 (0.5 is about 6 of its standard deviations). The tests assert that bound.
"""
import torch
from torch import nn


class NoiseConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 1, kernel_size=(3, 7, 7), padding=(1, 3, 3), bias=False)
        self.gap = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, 1, 3, 3] = 1.0
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))

    def forward(self, x):
        return self.fc(torch.flatten(self.gap(self.conv(x)), 1))


def make(outdir):
    m = NoiseConv().eval()
    torch.jit.script(m).save(str(outdir / "noise_conv.pt"))
    # The same model frozen: its weights become constants, so nothing can be randomised.
    torch.jit.freeze(torch.jit.script(m)).save(str(outdir / "noise_conv_frozen.pt"))
