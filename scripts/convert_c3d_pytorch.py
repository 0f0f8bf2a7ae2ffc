#!/usr/bin/python3
"""Converts a C3D state_dict in the layout of the c3d-pytorch port (github.com/DavideA/c3d-pytorch,
whose Sports-1M weights ship as c3d.pickle) into explain-video's C3D layout (scripts/export_c3d.py)
and saves it as TorchScript.

c3d-pytorch's keys are conv1, conv2, conv3a, conv3b, conv4a, conv4b, conv5a, conv5b, fc6, fc7, fc8
(.weight/.bias each); ours name the first two conv1a and conv2a, as the C3D paper does. Every
other key is kept. The widths and class count are read from the tensors, so narrower or
fine-tuned variants (e.g. fc8 with 101 UCF101 classes) convert too; a checkpoint dict with the
state_dict under 'state_dict', 'model' or 'model_state_dict' and a 'module.' prefix are accepted.
The original's forward() ends in a softmax; the exported model returns the logits (pre-softmax),
which is what Grad-CAM differentiates.

Preprocessing these weights expect, as c3d-pytorch's own predict.py feeds them
(get_sport_clip): 16 frames, RGB (skimage.io.imread), resized to 112x200 (height x width) with
values kept in 0..255 (preserve_range=True), the centre 112x112 cropped (columns 44..155), no mean
subtraction, no scaling. explain-video's `--preset c3d-sports1m` is exactly that:

    /usr/bin/python3 scripts/convert_c3d_pytorch.py --state-dict c3d.pickle --out c3d_sports1m.pt
    explain-video clip.mp4 --model c3d_sports1m.pt --preset c3d-sports1m --labels models/sports1m_labels.txt

(The original Caffe C3D was trained on 128x171 frames, BGR, minus a per-pixel mean cube; the
port's README says its performance was "tested only qualitatively".) C3D's fc6 fixes the input:
exactly 16x112x112.
"""
import argparse
import pathlib
import sys

import torch

RENAME = {"conv1": "conv1a", "conv2": "conv2a"}
LAYERS = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b", "fc6", "fc7", "fc8")
INPUT_SHAPE = (1, 3, 16, 112, 112)
PREPROCESSING = ("16 RGB frames, resize 112x200, centre crop 112x112, values 0..255 (scale 1), "
                 "no mean/std (explain-video --preset c3d-sports1m)")


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # works when loaded by path too
import torchscript_export as _COMMON  # noqa: E402  (scripts/torchscript_export.py)

read_state_dict = _COMMON.read_state_dict


def convert(sd, source="state_dict"):
    """explain-video's C3D (eval mode) holding the weights of a c3d-pytorch-style state_dict."""
    expected = {f"{layer}.{p}" for layer in LAYERS for p in ("weight", "bias")}
    missing = sorted(expected - set(sd))
    unexpected = sorted(set(sd) - expected)
    if missing or unexpected:
        raise SystemExit(f"{source}: not a c3d-pytorch C3D state_dict: missing {missing[:6]}, unexpected "
                         f"{unexpected[:6]} (expected keys {', '.join(LAYERS)} with .weight and .bias)")
    channels = tuple(sd[f"{c}.weight"].shape[0] for c in ("conv1", "conv2", "conv3a", "conv4a", "conv5a"))
    fc = sd["fc6.weight"].shape[0]
    classes = sd["fc8.weight"].shape[0]
    if sd["fc6.weight"].shape[1] != channels[4] * 1 * 4 * 4:
        raise SystemExit(f"{source}: fc6 takes {sd['fc6.weight'].shape[1]} inputs, but pool5 gives "
                         f"{channels[4]}x1x4x4 = {channels[4] * 16} for a 16x112x112 clip: not C3D's layout")
    model = _COMMON.load_sibling("export_c3d").C3D(channels=channels, fc=fc, num_classes=classes)
    ours = {(RENAME.get(k.split(".")[0], k.split(".")[0]) + "." + k.split(".", 1)[1]): v for k, v in sd.items()}
    model.load_state_dict(ours, strict=True)
    return model.eval()


def export(model, out, traced=False):
    """Saves as TorchScript and checks the reloaded file against the eager model; returns the
    largest absolute logit difference on a random clip."""
    return _COMMON.save_checked(model, out, traced, INPUT_SHAPE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state-dict", required=True, help="c3d-pytorch weights, e.g. c3d.pickle")
    ap.add_argument("--out", required=True, help="TorchScript file to write")
    ap.add_argument("--traced", action="store_true", help="trace instead of script")
    a = ap.parse_args()
    model = convert(read_state_dict(a.state_dict), a.state_dict)
    err = export(model, a.out, a.traced)
    n = sum(p.numel() for p in model.parameters())
    print(f"{a.out}: C3D from {a.state_dict}, {model.fc8.out_features} classes, {n / 1e6:.1f} M parameters, "
          f"{'traced' if a.traced else 'scripted'}, returns logits (reloaded file matches: max |diff| {err:.1e})")
    print(f"preprocessing: {PREPROCESSING}")


if __name__ == "__main__":
    sys.exit(main())
