"""Checks `metacnn export torch` packages against metacnn's own logits.

    python3 interop/torch/check/check.py DIR [NAME ...]

DIR holds, per case NAME (default: every name in DIR/cases.json that has a
package), NAME.json (inputs and expected logits, written by
`go run ./interop/onnx/check`) and NAME.torch/ (written by
`metacnn export torch`). Each package's model.py is imported, load_model()
builds the module and loads weights.safetensors strictly, and its logits on
the case's inputs are compared with the expected ones: the case passes when
every |got - want| / max(1, |want|) <= 1e-4. Prints a table; exit status 1
when a case fails. Needs only PyTorch (no safetensors package).
"""
import importlib.util
import json
import os
import sys

import torch

TOL = 1e-4


def tensor(a):
    dtype = torch.int64 if a["dtype"] == "int64" else torch.float32
    return torch.tensor(a["data"], dtype=dtype).reshape(a["shape"])


def check(d, name):
    case = json.load(open(os.path.join(d, name + ".json")))
    path = os.path.join(d, name + ".torch", "model.py")
    spec = importlib.util.spec_from_file_location("metacnn_export_" + name.replace("-", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.load_model()
    names = set(model.state_dict())
    if names != set(mod.PARAMETERS):
        raise RuntimeError("state_dict names differ from PARAMETERS")
    ins = {k: tensor(v) for k, v in case["inputs"].items()}
    with torch.no_grad():
        got = model(**ins)
    want = tensor(case["expected"])
    if list(got.shape) != list(want.shape):
        raise RuntimeError("logits have shape %s, want %s" % (list(got.shape), list(want.shape)))
    err = ((got - want).abs() / want.abs().clamp(min=1)).max().item()
    return err, want.abs().max().item(), len(names)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    d = sys.argv[1]
    names = sys.argv[2:] or [n for n in json.load(open(os.path.join(d, "cases.json")))
                             if os.path.isdir(os.path.join(d, n + ".torch"))]
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    print("torch %s, tolerance %g" % (torch.__version__, TOL))
    print("%-28s %8s %12s %10s  %s" % ("case", "tensors", "max |logit|", "max err", "result"))
    failed = 0
    for n in names:
        try:
            err, big, count = check(d, n)
            ok = err <= TOL
            print("%-28s %8d %12.4g %10.3g  %s" % (n, count, big, err, "ok" if ok else "FAIL"))
        except Exception as e:  # report and go on
            ok = False
            print("%-28s %8s %12s %10s  FAIL: %s" % (n, "-", "-", "-", e))
        failed += not ok
    print("%d of %d cases pass" % (len(names) - failed, len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
