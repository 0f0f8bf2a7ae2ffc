"""The architectures users bring, exported through the project's own scripts with random
weights, plus Python references (capture_models.write_references) for tests/test_model.cpp and
the CLI runs of tests/test_model_zoo.cpp:

  zoo_r3d_18, zoo_mc3_18, zoo_r2plus1d_18   scripts/export_torchvision.py, 400 classes,
                                            scripted and traced, references at 1x3x8x32x32
  zoo_c3d                                   scripts/convert_c3d_pytorch.py on a narrow C3D
                                            state_dict in c3d-pytorch's layout (487 classes),
                                            scripted and traced, references at 1x3x16x112x112
  zoo_c3dpt.pickle                          that c3d-pytorch-style state_dict

torchvision is required (scripts/install-deps.sh installs python3-torchvision): without it the
build fails here rather than silently skipping these tests.
"""
import importlib.util
import pathlib

import torch
import torch.nn as nn

import capture_models

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"
TV_INPUT = (1, 3, 8, 32, 32)
C3D_INPUT = (1, 3, 16, 112, 112)
TV_LAYERS = ["layer4", "layer3.1.conv2", "layer2.0.conv1", "stem"]
C3D_LAYERS = ["pool5", "conv5b", "conv3a"]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class C3DPytorchLayout(nn.Module):
    """A C3D with c3d-pytorch's module names and forward (softmax at the end), narrow widths."""

    def __init__(self, c=(4, 8, 8, 8, 8), fc=16, classes=487):
        super().__init__()
        self.conv1 = nn.Conv3d(3, c[0], 3, padding=1)
        self.conv2 = nn.Conv3d(c[0], c[1], 3, padding=1)
        self.conv3a = nn.Conv3d(c[1], c[2], 3, padding=1)
        self.conv3b = nn.Conv3d(c[2], c[2], 3, padding=1)
        self.conv4a = nn.Conv3d(c[2], c[3], 3, padding=1)
        self.conv4b = nn.Conv3d(c[3], c[3], 3, padding=1)
        self.conv5a = nn.Conv3d(c[3], c[4], 3, padding=1)
        self.conv5b = nn.Conv3d(c[4], c[4], 3, padding=1)
        self.fc6 = nn.Linear(c[4] * 16, fc)
        self.fc7 = nn.Linear(fc, fc)
        self.fc8 = nn.Linear(fc, classes)
        self.flat = c[4] * 16

    def forward(self, x):
        r = torch.relu
        x = nn.functional.max_pool3d(r(self.conv1(x)), (1, 2, 2), (1, 2, 2))
        x = nn.functional.max_pool3d(r(self.conv2(x)), 2, 2)
        x = nn.functional.max_pool3d(r(self.conv3b(r(self.conv3a(x)))), 2, 2)
        x = nn.functional.max_pool3d(r(self.conv4b(r(self.conv4a(x)))), 2, 2)
        x = nn.functional.max_pool3d(r(self.conv5b(r(self.conv5a(x)))), 2, 2, padding=(0, 1, 1))
        x = x.reshape(-1, self.flat)
        x = r(self.fc7(r(self.fc6(x))))
        return torch.softmax(self.fc8(x), dim=1)


def make(outdir):
    outdir = pathlib.Path(outdir)
    tv = _script("export_torchvision")
    for i, arch in enumerate(tv.ARCHS):
        torch.manual_seed(100 + i)
        model = tv.build(arch)
        capture_models._randomize_bn(model)
        model.eval()
        tv.export(model, outdir / f"zoo_{arch}_scripted.pt", traced=False, trace_shape=TV_INPUT)
        tv.export(model, outdir / f"zoo_{arch}_traced.pt", traced=True, trace_shape=TV_INPUT)
        torch.manual_seed(200 + i)
        capture_models.write_references(outdir, f"zoo_{arch}", model, torch.randn(TV_INPUT), TV_LAYERS)

    # A fine-tuned checkpoint as training scripts save them (DataParallel prefix, wrapped in a
    # dict, 7 classes) loads with its class count and exactly its weights.
    torch.manual_seed(150)
    tuned = tv.build("mc3_18", num_classes=7)
    ckpt = {"epoch": 3, "state_dict": {"module." + k: v for k, v in tuned.state_dict().items()}}
    torch.save(ckpt, str(outdir / "zoo_mc3_18_tuned.pth"))
    loaded = tv.load_weights("mc3_18", outdir / "zoo_mc3_18_tuned.pth")
    assert loaded.fc.out_features == 7
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tuned.state_dict().values()))

    conv = _script("convert_c3d_pytorch")
    torch.manual_seed(300)
    source = C3DPytorchLayout().eval()
    torch.save(source.state_dict(), str(outdir / "zoo_c3dpt.pickle"))
    model = conv.convert(conv.read_state_dict(outdir / "zoo_c3dpt.pickle"))
    x = torch.randn(C3D_INPUT)
    with torch.no_grad():  # the conversion keeps the function: softmax of our logits = theirs
        err = (torch.softmax(model(x), dim=1) - source(x)).abs().max().item()
    assert err < 1e-6, f"converted C3D disagrees with the c3d-pytorch layout: {err}"
    conv.export(model, outdir / "zoo_c3d_scripted.pt", traced=False)
    conv.export(model, outdir / "zoo_c3d_traced.pt", traced=True)
    capture_models.write_references(outdir, "zoo_c3d", model, x, C3D_LAYERS)
