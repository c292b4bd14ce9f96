"""Compares train_ddp.py --predict's output with metacnn predict's.

    python3 interop/torch/check/compare_predictions.py METACNN.jsonl PYTHON.jsonl [--name NAME] [--tol 1e-4]
        [--package DIR] [--moved-from BEFORE.jsonl]

Both files hold one JSON object per row (row, path, label, probs, logits,
warnings). The rows must be the same, in the same order, with the same
path, label and warnings; every logit must agree within TOL relative to
max(1, |logit|), and every probability within TOL. The lines differ in the
last digits only; with --package (a directory written by metacnn export
torch), train_ddp.py's JSON writer must also reproduce every metacnn line
byte for byte from metacnn's own values (strings, float64 probabilities and
float32 logits formatted as Go does). With --moved-from (predictions of the
same rows by the model before training), some logit of PYTHON.jsonl must
differ from BEFORE.jsonl's by more than 1e-3, so that a comparison of
weights that training did not change cannot pass for a round trip. Prints
one summary line and the first differences; exit status 1 when they differ.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np


def reformat(td, line):
    """line rewritten by train_ddp.py's JSON writer from its own values."""
    raw = json.loads(line, parse_float=str, parse_int=str)  # numbers as written
    probs = ",".join(td.go_json_string(k) + ":" + td.go_format_g(float(v)) for k, v in raw["probs"].items())
    parts = ['"row":%d' % int(raw["row"]), '"path":' + td.go_json_string(raw["path"]),
             '"label":' + td.go_json_string(raw["label"]), '"probs":{' + probs + "}",
             '"logits":[' + ",".join(td.go_json_float32(np.float32(float(v))) for v in raw["logits"]) + "]"]
    if "warnings" in raw:
        parts.append('"warnings":[' + ",".join(td.go_json_string(w) for w in raw["warnings"]) + "]")
    return "{" + ",".join(parts) + "}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("metacnn")
    ap.add_argument("python")
    ap.add_argument("--name", default="")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--package")
    ap.add_argument("--moved-from")
    args = ap.parse_args()
    td = None
    if args.package:
        spec = importlib.util.spec_from_file_location("train_ddp_under_check", os.path.join(args.package, "train_ddp.py"))
        td = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(td)
    with open(args.metacnn, encoding="utf-8") as f:
        glines = f.read().splitlines()
    with open(args.python, encoding="utf-8") as f:
        plines = f.read().splitlines()
    go = [json.loads(x) for x in glines]
    py = [json.loads(x) for x in plines]
    problems = []
    if [g["row"] for g in go] != [p["row"] for p in py]:
        problems.append("rows differ: metacnn %s, python %s" % ([g["row"] for g in go], [p["row"] for p in py]))
    worst, worst_p, labels, reformatted = 0.0, 0.0, 0, 0
    for gl, pl, g, p in zip(glines, plines, go, py):
        if td is not None:
            again = reformat(td, gl)
            if again == gl:
                reformatted += 1
            else:
                problems.append("row %d: metacnn wrote %s, train_ddp.py's writer %s" % (g["row"], gl, again))
        if g["path"] != p["path"]:
            problems.append("row %d: path %r, python %r" % (g["row"], g["path"], p["path"]))
        if g["label"] != p["label"]:
            labels += 1
            problems.append("row %d: label %s, python %s (logits %s, %s)" % (g["row"], g["label"], p["label"], g["logits"], p["logits"]))
        if list(g["probs"]) != list(p["probs"]):
            problems.append("row %d: probs keys %s, python %s" % (g["row"], list(g["probs"]), list(p["probs"])))
        if len(g["logits"]) != len(p["logits"]):
            problems.append("row %d: %d logits, python %d" % (g["row"], len(g["logits"]), len(p["logits"])))
            continue
        for a, b in zip(g["logits"], p["logits"]):
            worst = max(worst, abs(a - b) / max(1.0, abs(a)))
        for k in g["probs"]:
            worst_p = max(worst_p, abs(g["probs"][k] - p["probs"].get(k, float("nan"))))
        if g.get("warnings", []) != p.get("warnings", []):
            problems.append("row %d: warnings %s, python %s" % (g["row"], g.get("warnings"), p.get("warnings")))
    if worst > args.tol or worst_p > args.tol or worst != worst:
        problems.append("logits differ by up to %.3g, probabilities by %.3g (tolerance %g)" % (worst, worst_p, args.tol))
    fmt = ", JSON writer reproduces %d of %d metacnn lines" % (reformatted, len(glines)) if td is not None else ""
    if args.moved_from:
        with open(args.moved_from, encoding="utf-8") as f:
            before = [json.loads(x) for x in f.read().splitlines()]
        moved = max((abs(a - b) for q, r in zip(py, before) for a, b in zip(q["logits"], r["logits"])), default=0.0)
        if moved <= 1e-3:
            problems.append("the logits moved by only %.3g from %s: the weights did not change" % (moved, args.moved_from))
        fmt += ", logits moved by up to %.3g from before training" % moved
    print("%s: %d rows (python %d), labels differ in %d, max logit error %.3g, max prob error %.3g%s"
          % (args.name or args.python, len(go), len(py), labels, worst, worst_p, fmt))
    for p in problems[:15]:
        print("  " + p)
    return 1 if problems or not go else 0


if __name__ == "__main__":
    sys.exit(main())
