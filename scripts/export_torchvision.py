#!/usr/bin/python3
"""Exports torchvision's video ResNets as TorchScript for explain-video.

  r3d_18       ResNet3D-18: 3x3x3 convolutions throughout (Tran et al. 2018, "R3D")
  mc3_18       mixed convolutions: 3D in the stem and layer1, 1x3x3 (2D) from layer2 on
  r2plus1d_18  (2+1)D: every 3x3x3 convolution factored into 1x3x3 spatial + 3x1x1 temporal

Weights (--weights FILE): a state_dict saved with torch.save, such as torchvision's own
Kinetics-400 files (r3d_18-b3b3357e.pth, mc3_18-a90a0ba3.pth, r2plus1d_18-91a641e6.pth from
download.pytorch.org/models/; copy them over by hand, this script never downloads), or your
fine-tuned model's; a checkpoint dict holding it under 'state_dict', 'model' or
'model_state_dict' works too, and a DataParallel 'module.' prefix is stripped. The number of
classes is read from fc.weight. Without --weights the model gets RANDOM weights (loud warning):
good for trying the tool, meaningless as an explanation.

The file is saved by this Python's PyTorch: use Debian's /usr/bin/python3 (python3-torch 1.13)
so LibTorch 1.13 loads it. Scripted by default; --traced traces at --trace-shape instead (both
keep the submodule calls explain-video captures; never torch.jit.freeze the result).

Preprocessing the Kinetics-400 weights expect (torchvision 0.14, models/video/resnet.py: the
weights' transforms=VideoClassification(crop_size=(112, 112), resize_size=(128, 171)), whose
mean/std are in transforms/_presets.py): clips of 16 RGB frames, each resized to 128x171,
centre-cropped to 112x112, scaled to [0,1], normalised with mean (0.43216, 0.394666, 0.37645)
and std (0.22803, 0.22145, 0.216989). explain-video's `--preset kinetics` is exactly that:

    /usr/bin/python3 scripts/export_torchvision.py --arch r3d_18 --weights r3d_18-b3b3357e.pth --out r3d_18.pt
    explain-video clip.mp4 --model r3d_18.pt --preset kinetics --labels models/kinetics400_labels.txt
"""
import argparse
import pathlib
import sys

import torch

try:
    from torchvision.models import video as tv_video
except ImportError as e:  # a clear message instead of a traceback
    raise SystemExit(f"export_torchvision.py: torchvision is not importable ({e}); on Debian install "
                     "python3-torchvision (scripts/install-deps.sh does) and run with /usr/bin/python3")

ARCHS = ("r3d_18", "mc3_18", "r2plus1d_18")
KINETICS_CLASSES = 400
PREPROCESSING = ("16 RGB frames, resize 128x171, centre crop 112x112, x1/255, "
                 "mean 0.43216,0.394666,0.37645, std 0.22803,0.22145,0.216989 (explain-video --preset kinetics)")


def build(arch, num_classes=KINETICS_CLASSES):
    """The torchvision architecture with PyTorch's default (random) initialisation."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture '{arch}': choose one of {', '.join(ARCHS)}")
    return getattr(tv_video, arch)(weights=None, num_classes=num_classes)


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # works when loaded by path too
import torchscript_export as _COMMON  # noqa: E402  (scripts/torchscript_export.py)

read_state_dict = _COMMON.read_state_dict


def load_weights(arch, path):
    """The architecture with the weights of `path`; the class count comes from fc.weight."""
    sd = read_state_dict(path)
    if "fc.weight" not in sd:
        raise SystemExit(f"{path}: no fc.weight, so this is not a torchvision video ResNet state_dict")
    model = build(arch, num_classes=sd["fc.weight"].shape[0])
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{path}: does not fit {arch}: missing {missing[:6]}{'...' if len(missing) > 6 else ''}, "
                         f"unexpected {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}")
    return model


def export(model, out, traced=False, trace_shape=(1, 3, 16, 112, 112)):
    """Saves `model` (eval mode) as TorchScript and checks the file against the eager model.
    Returns the largest absolute logit difference on a random clip of `trace_shape`."""
    return _COMMON.save_checked(model, out, traced, trace_shape)


def warn_random(arch):
    bar = "!" * 78
    print(f"{bar}\n!! WARNING: no --weights given: {arch} has RANDOM weights.\n"
          "!! Its predictions and heatmaps mean nothing; use it only to try the tool.\n"
          f"!! Pass --weights FILE (e.g. torchvision's {arch} Kinetics-400 .pth) for a real model.\n{bar}",
          file=sys.stderr)


def parse_shape(text):
    try:
        dims = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f"'{text}': expected TxHxW, e.g. 16x112x112")
    return (1, 3) + dims


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=ARCHS, required=True)
    ap.add_argument("--out", required=True, help="TorchScript file to write")
    ap.add_argument("--weights", help="state_dict (.pth) to load; without it: random weights")
    ap.add_argument("--classes", type=int, default=KINETICS_CLASSES,
                    help="classes of the random model (with --weights: read from fc.weight)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    ap.add_argument("--traced", action="store_true", help="trace instead of script")
    ap.add_argument("--trace-shape", type=parse_shape, default=(1, 3, 16, 112, 112), metavar="TxHxW",
                    help="clip size to trace (and check the file) with (default 16x112x112)")
    a = ap.parse_args()
    if a.weights:
        model = load_weights(a.arch, a.weights)
    else:
        warn_random(a.arch)
        torch.manual_seed(a.seed)
        model = build(a.arch, a.classes)
    err = export(model, a.out, a.traced, a.trace_shape)
    n = sum(p.numel() for p in model.parameters())
    print(f"{a.out}: {a.arch}, {model.fc.out_features} classes, {n / 1e6:.1f} M parameters, "
          f"{'traced' if a.traced else 'scripted'}, {'weights ' + a.weights if a.weights else 'RANDOM weights'} "
          f"(reloaded file matches eager model: max |diff| {err:.1e})")
    print(f"preprocessing: {PREPROCESSING}")


if __name__ == "__main__":
    main()
