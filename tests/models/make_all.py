#!/usr/bin/python3
"""Exports every TorchScript model the tests need into OUTDIR.

Each module in this folder that defines make(outdir) contributes its models. Run with
Debian's /usr/bin/python3 (python3-torch 1.13), so the files load in LibTorch 1.13.
"""
import importlib
import pathlib
import sys

import torch


def main():
    outdir = pathlib.Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    here = pathlib.Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    torch.manual_seed(0)
    for py in sorted(here.glob("*.py")):
        if py.name == "make_all.py":
            continue
        mod = importlib.import_module(py.stem)
        if hasattr(mod, "make"):
            mod.make(outdir)


if __name__ == "__main__":
    main()
