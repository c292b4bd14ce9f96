"""Compares the weights two train_ddp.py runs wrote after the same step.

    python3 interop/torch/check/compare_weights.py PACKAGE A B [--tolerance T] [--name NAME]
    python3 interop/torch/check/compare_weights.py PACKAGE A --unchanged [--name NAME]

A and B are safetensors files written by train_ddp.py from PACKAGE's
weights.safetensors (the start). The check passes when every tensor of A
equals B's within T times the largest change from the start (over all
tensors): the two runs took the same step, up to float rounding, and the
step moved the weights. train_check.sh uses it for the loss normalisation:
one optimizer step of 2 processes with batch B and class weights must be the
step of 1 process with batch 2B over the same rows (metacnn's loss over the
global batch, sum(w[y] * ce) / sum(w[y])). With --unchanged, A must equal
the start bit for bit, parameters and buffers (running statistics,
num_batches_tracked): a run that had nothing to train on changed nothing.
Prints one summary line; exit status 1 on a failure.
"""
import argparse
import importlib.util
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package")
    ap.add_argument("a")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--unchanged", action="store_true")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--name", default="weights")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("train_ddp_under_check", os.path.join(args.package, "train_ddp.py"))
    td = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(td)
    start = td.read_safetensors(os.path.join(args.package, "weights.safetensors"))
    if args.unchanged:
        a = td.read_safetensors(args.a)
        changed = sorted(k for k in set(a) | set(start)
                         if k not in a or k not in start or a[k].shape != start[k].shape or not bool((a[k] == start[k]).all()))
        print("%s: %d tensors, %d changed%s" % (args.name, len(a), len(changed),
                                                 " (%s)" % ", ".join(changed[:5]) if changed else ", identical to the start"))
        return 1 if changed else 0
    if args.b is None:
        ap.error("want A and B, or --unchanged")
    a, b = td.read_safetensors(args.a), td.read_safetensors(args.b)
    problems = []
    if set(a) != set(start) or set(b) != set(start):
        problems.append("the files' tensor names differ")
    moved, diff, worst = 0.0, 0.0, "-"
    for k in sorted(set(a) & set(b) & set(start)):
        x, y, s = a[k].double(), b[k].double(), start[k].double()
        if x.shape != y.shape:
            problems.append("%s: shapes %s and %s" % (k, list(x.shape), list(y.shape)))
            continue
        if x.numel() == 0:
            continue
        moved = max(moved, (x - s).abs().max().item(), (y - s).abs().max().item())
        d = (x - y).abs().max().item()
        if d > diff:
            diff, worst = d, k
    if moved == 0:
        problems.append("the step moved no weight")
    elif diff > args.tolerance * moved:
        problems.append("max |A - B| %.3g (%s) is over %g x the largest change %.3g" % (diff, worst, args.tolerance, moved))
    print("%s: %d tensors, largest change from the start %.3g, max |A - B| %.3g (%.2g of it)%s" % (
        args.name, len(a), moved, diff, diff / moved if moved else float("nan"), "" if not problems else " FAIL"))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
