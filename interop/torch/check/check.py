"""Checks `metacnn export torch` packages against metacnn's own logits.

    python3 interop/torch/check/check.py DIR [NAME ...]

DIR holds, per case NAME (default: every name in DIR/cases.json that has a
package), NAME.json (inputs and expected logits, written by
`go run ./interop/onnx/check`) and NAME.torch/ (written by
`metacnn export torch`). Each package's model.py is imported, load_model()
builds the module and loads weights.safetensors strictly, and its logits on
the case's inputs are compared with the expected ones: the case passes when
every |got - want| / max(1, |want|) <= 1e-4.

Then the module is checked in training mode (model.train(), one forward and
backward on the same inputs): every batch norm (plain or conditional) not
kept in evaluation by CONFIG["freeze"] counts exactly one batch and moves its
running mean, and every parameter that requires a gradient gets one. Where
the case holds metacnn's own training-mode forward (expected_train and
train_stats: models without dropout or modality dropout), the module's
training-mode logits and its batch norms' running statistics afterwards must
equal them to the same tolerance; the "train" column gives that error, or
"ok" for a model whose training forward is random.

Prints a table; exit status 1 when a case fails. Needs only PyTorch (no
safetensors package).
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
    err = rel_err(got, want)
    return err, want.abs().max().item(), len(names), check_train(model, ins, case)


def rel_err(got, want):
    return ((got - want).abs() / want.abs().clamp(min=1)).max().item()


def check_train(model, ins, case):
    """One training-mode forward and backward; returns the error against
    metacnn's training forward, or "ok" when the case has none."""
    norms = {n: m for n, m in model.named_modules() if hasattr(m, "num_batches_tracked")}
    before = {n: (m.num_batches_tracked.item(), m.running_mean.clone()) for n, m in norms.items()}
    model.train()
    got = model(**ins)
    got.sum().backward()
    for n, m in norms.items():
        count, mean = before[n]
        step = 1 if m.training else 0  # frozen norms stay in evaluation mode
        if m.num_batches_tracked.item() != count + step:
            raise RuntimeError("train: %s counted %d batches, want %d" % (n, m.num_batches_tracked.item() - count, step))
        if step and torch.equal(m.running_mean, mean):
            raise RuntimeError("train: %s did not update its running mean" % n)
    for n, p in model.named_parameters():
        if p.requires_grad and p.grad is None:
            raise RuntimeError("train: %s got no gradient" % n)
    if "expected_train" not in case:
        return "ok"
    err = rel_err(got.detach(), tensor(case["expected_train"]))
    state = model.state_dict()
    for n, a in case.get("train_stats", {}).items():
        err = max(err, rel_err(state[n], tensor(a)))
    if err > TOL:
        raise RuntimeError("train: logits or running statistics differ from metacnn's by %.3g" % err)
    return "%.2g" % err


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    d = sys.argv[1]
    names = sys.argv[2:] or [n for n in json.load(open(os.path.join(d, "cases.json")))
                             if os.path.isdir(os.path.join(d, n + ".torch"))]
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    print("torch %s, tolerance %g" % (torch.__version__, TOL))
    print("%-34s %8s %12s %10s %8s  %s" % ("case", "tensors", "max |logit|", "max err", "train", "result"))
    failed = 0
    for n in names:
        try:
            err, big, count, train = check(d, n)
            ok = err <= TOL
            print("%-34s %8d %12.4g %10.3g %8s  %s" % (n, count, big, err, train, "ok" if ok else "FAIL"))
        except Exception as e:  # report and go on
            ok = False
            print("%-34s %8s %12s %10s %8s  FAIL: %s" % (n, "-", "-", "-", "-", e))
        failed += not ok
    print("%d of %d cases pass" % (len(names) - failed, len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
