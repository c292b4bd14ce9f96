"""Checks the output of a train_ddp.py run.

    python3 interop/torch/check/check_ddp.py PACKAGE LOG WEIGHTS [--ranks N] [--steps S] [--name NAME]

LOG is the run's output (every rank's stdout and stderr). The run passes when
it printed one "rank R/N: parameters sha256 X" line per rank with the same X
on every rank (DDP kept the replicas identical), its progress lines show
finite losses and end at step S, and WEIGHTS (written by rank 0) loads
strictly into PACKAGE's model with state_dict names, its parameters giving
the same checksum the ranks printed. Prints one summary line; exit status 1
on a failure.
"""
import argparse
import importlib.util
import math
import os
import re
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package")
    ap.add_argument("log")
    ap.add_argument("weights")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--name", default="ddp")
    args = ap.parse_args()
    with open(args.log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    problems = []
    sums = dict(re.findall(r"rank (\d+)/%d: parameters sha256 ([0-9a-f]{64})" % args.ranks, text))
    if sorted(sums) != [str(r) for r in range(args.ranks)]:
        problems.append("checksum lines from ranks %s, want 0..%d" % (sorted(sums), args.ranks - 1))
    if len(set(sums.values())) > 1:
        problems.append("the ranks' parameters differ: %s" % sums)
    steps = re.findall(r"step (\d+)/(\d+)  loss (\S+)  acc (\S+)  lr (\S+)  (\S+) img/s", text)
    losses = [float(s[2]) for s in steps if s[2] != "-"]  # "-": no row trained on in that window
    if not steps:
        problems.append("no progress lines")
    elif int(steps[-1][0]) != args.steps:
        problems.append("the last progress line is step %s, want %d" % (steps[-1][0], args.steps))
    if any(not math.isfinite(x) for x in losses):
        problems.append("non-finite loss: %s" % losses)
    done = re.search(r"done: (\d+) steps, final loss (\S+), (\S+) img/s", text)
    if not done:
        problems.append("no 'done' line")
    file_sum = "-"
    try:
        spec = importlib.util.spec_from_file_location("train_ddp_under_check", os.path.join(args.package, "train_ddp.py"))
        td = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(td)
        model = td.load_model_module(args.package).build_model()
        td.load_weights(model, args.weights, {k: list(v.shape) for k, v in model.state_dict().items()})
        file_sum, _ = td.parameters_sha256(model)
        if sums and file_sum not in sums.values():
            problems.append("%s's parameters have checksum %s, the ranks printed %s" % (args.weights, file_sum, sorted(set(sums.values()))))
    except Exception as e:  # report and fail
        problems.append("%s does not load: %s" % (args.weights, e))
    print("%s: %d ranks, %d progress lines, losses %s, %s img/s, parameters sha256 %s (%s)" % (
        args.name, len(sums), len(steps), " ".join("%.4f" % x for x in losses) or "-",
        done.group(3) if done else "-", file_sum[:16], "same on every rank and in the file" if not problems else "FAIL"))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
