"""TorchScript models (scripted and traced) plus Python reference activations and gradients
for tests/test_model.cpp.

For each model base name B this writes into outdir:
  B_scripted.pt, B_traced.pt    the exported model (only _scripted for control flow / frozen)
  B.input.bin                   fixed random input, raw little-endian float32
  B.logits.bin                  eager logits for that input
  B.layers.txt                  one line per submodule: name type [shape...] (eager hooks,
                                last call wins, nothing after the type if never called)
  B.ref.txt                     "input" shape line, then per captured layer:
                                "layer NAME classes C1 C2 shape D0 D1 ..."
  B.LAYER.act.bin / .grad.bin   activation (as the layer output it, before any in-place op
                                downstream) and dS_c/dA for each class, concatenated
Plus not_a_model.pt (text) and cap_truncated.pt (first half of cap_plain_scripted.pt).
"""
import copy
import pathlib

import torch
import torch.nn as nn

INPUT_SHAPE = (1, 3, 4, 16, 16)


class Plain(nn.Module):
    """C3D-style: features Sequential with in-place ReLUs, classifier Sequential."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, 4, 3, padding=1),      # features.0
            nn.ReLU(inplace=True),              # features.1
            nn.MaxPool3d((1, 2, 2)),            # features.2
            nn.Conv3d(4, 8, 3, padding=1),      # features.3
            nn.ReLU(inplace=True),              # features.4
            nn.MaxPool3d(2),                    # features.5
        )
        self.classifier = nn.Sequential(
            nn.Linear(8 * 2 * 4 * 4, 16),       # classifier.0
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(16, 10),
        )
        self.unused = nn.Conv3d(3, 3, 1)        # never called by forward

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv3d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(c)

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out += identity
        out = self.relu(out)
        return out


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1, bias=False), nn.BatchNorm3d(4),
                                  nn.ReLU(inplace=True))
        self.layer1 = nn.Sequential(Block(4), Block(4))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class ControlFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv3d(3, 4, 3, padding=1)
        self.branch = nn.Conv3d(4, 4, 3, padding=1)
        self.looped = nn.Conv3d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = self.conv_a(x)
        if bool(x.sum() > -1e30):
            x = self.branch(x)
        for _ in range(2):
            x = self.looped(x)
        x = x.mean(dim=(2, 3, 4))
        return self.fc(x)


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        f = self.relu(self.conv(x))
        pooled = f.mean(dim=(2, 3, 4))
        return self.fc(pooled), pooled


def _randomize_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def _raw(path, t):
    t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(str(path))


def _layer_table(model, x):
    shapes = {}
    hooks = []
    for name, m in model.named_modules():
        if not name:
            continue

        def hook(mod, inp, out, name=name):
            if isinstance(out, torch.Tensor):
                shapes[name] = list(out.shape)
        hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(x.clone())
    for h in hooks:
        h.remove()
    lines = []
    for name, m in model.named_modules():
        if name:
            lines.append(" ".join([name, type(m).__name__] + [str(d) for d in shapes.get(name, [])]))
    return "\n".join(lines) + "\n"


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _reference(model, x, layer):
    """Activation at `layer` (last call) and dS_c/dA on the whole eager graph."""
    mod = dict(model.named_modules())[layer]
    captured = []

    def hook(m, inp, out):
        captured.append(out)
        return out.clone()   # later in-place ops modify the clone, not the captured output
    h = mod.register_forward_hook(hook)
    logits = _first(model(x.clone())).reshape(-1)
    h.remove()
    act = captured[-1]
    top = int(logits.argmax())
    classes = [top, (top + 3) % logits.numel()]
    grads = [torch.autograd.grad(logits[c], act, retain_graph=True)[0] for c in classes]
    return act.detach(), classes, torch.stack(grads)


def _export(outdir, base, model, layers, trace=True, script=True):
    model.eval()
    x = torch.randn(INPUT_SHAPE)
    if script:
        torch.jit.script(model).save(str(outdir / f"{base}_scripted.pt"))
    if trace:
        with torch.no_grad():
            torch.jit.trace(model, x.clone(), check_trace=False).save(str(outdir / f"{base}_traced.pt"))
    write_references(outdir, base, model, x, layers)


def write_references(outdir, base, model, x, layers):
    """B.input.bin, B.logits.bin, B.layers.txt, B.ref.txt and per layer B.LAYER.act/.grad.bin
    for the eager `model` (eval mode) on input `x`."""
    _raw(outdir / f"{base}.input.bin", x)
    with torch.no_grad():
        _raw(outdir / f"{base}.logits.bin", _first(model(x.clone())))
    (outdir / f"{base}.layers.txt").write_text(_layer_table(model, x))
    ref = ["input " + " ".join(str(d) for d in x.shape)]
    for layer in layers:
        act, classes, grads = _reference(model, x, layer)
        _raw(outdir / f"{base}.{layer}.act.bin", act)
        _raw(outdir / f"{base}.{layer}.grad.bin", grads)
        ref.append(f"layer {layer} classes {' '.join(map(str, classes))} shape "
                   + " ".join(str(d) for d in act.shape))
    (outdir / f"{base}.ref.txt").write_text("\n".join(ref) + "\n")


def make(outdir):
    outdir = pathlib.Path(outdir)
    torch.manual_seed(1234)
    plain = Plain()
    _export(outdir, "cap_plain", plain, ["features.3", "features.4", "features", "features.0"])
    res = Residual()
    _randomize_bn(res)
    _export(outdir, "cap_residual", res, ["layer1.0.conv2", "layer1", "layer1.1.relu", "stem.2"])
    _export(outdir, "cap_control", ControlFlow(), ["conv_a"], trace=False)
    tup = TupleOut()
    _export(outdir, "cap_tuple", tup, ["conv", "relu"])
    with torch.no_grad():  # the second output (pooled features), for Model::setOutput("1")
        x = torch.from_numpy(__import__("numpy").fromfile(str(outdir / "cap_tuple.input.bin"), dtype="<f4"))
        _raw(outdir / "cap_tuple.out1.bin", tup(x.reshape(INPUT_SHAPE))[1])
    # Frozen: submodule calls are inlined away.
    frozen = torch.jit.freeze(torch.jit.script(Plain().eval()))
    frozen.save(str(outdir / "cap_frozen_scripted.pt"))
    # The same weights as cap_plain, saved with requires_grad=False.
    nograd = copy.deepcopy(plain).eval()
    for p in nograd.parameters():
        p.requires_grad_(False)
    torch.jit.script(nograd).save(str(outdir / "cap_nograd_scripted.pt"))
    # Broken files.
    (outdir / "not_a_model.pt").write_text("this is a text file, not a TorchScript archive\n")
    data = (outdir / "cap_plain_scripted.pt").read_bytes()
    (outdir / "cap_truncated.pt").write_bytes(data[: len(data) // 2])
