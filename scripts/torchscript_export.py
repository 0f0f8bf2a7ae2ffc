"""What the model exporters share (scripts/export_torchvision.py, scripts/convert_c3d_pytorch.py):
reading a state_dict however it was saved, and saving TorchScript that is checked against the
eager model. Not a command; the exporters load it by path (see load_sibling)."""
import importlib.util
import pathlib

import torch


def load_sibling(name):
    """scripts/<name>.py as a module, wherever the caller is run (or imported) from."""
    path = pathlib.Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_state_dict(path):
    """A plain state_dict from a torch.save file: bare, a whole module, or inside a checkpoint
    dict under 'state_dict', 'model' or 'model_state_dict'; a DataParallel 'module.' prefix is
    stripped."""
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise SystemExit(f"{path}: not a state_dict (expected a dict of tensors, or a checkpoint holding one "
                         "under 'state_dict', 'model' or 'model_state_dict')")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def save_checked(model, out, traced, shape):
    """Saves `model` (put in eval mode) as TorchScript, scripted or traced at `shape`, reloads the
    file and compares its logits with the eager model's on a random clip of `shape`. Returns the
    largest absolute difference; exits if it exceeds 1e-3."""
    model = model.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        exported = torch.jit.trace(model, x) if traced else torch.jit.script(model)
        exported.save(str(out))
        err = (torch.jit.load(str(out))(x) - model(x)).abs().max().item()
    if err > 1e-3:
        raise SystemExit(f"{out}: the saved model disagrees with the eager one (max |difference| {err:g})")
    return err
