#!/usr/bin/env python3
"""Run metacnn, PyTorch and ONNX Runtime on the seed models in one run and
print throughput and the ratios the project's quality bars are stated in.

Run from the repository root (see bench/README.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/compare.py

- metacnn: `metacnn bench --json` (built once into bench/out/), GOMAXPROCS=2.
- PyTorch 1.13 CPU: the reference document's three models (imported from
  testdata/torch/gen.py), torch.set_num_threads(2), Adam(lr=1e-3),
  cross-entropy, batch 32; inference under torch.no_grad() in eval mode.
- ONNX Runtime (npm onnxruntime-node, intraOpNumThreads 2): seed-film
  exported from PyTorch with torch.onnx.export, timed by bench/ort_infer.js.
  Install it once with
      (cd bench/ort && npm install --ignore-scripts onnxruntime-node@1.30.0)
  or point ORT_DIR at a directory holding node_modules/onnxruntime-node;
  without it the ONNX Runtime column is skipped.

The sides alternate for --rounds rounds and each figure is the best round,
which damps noise from other work on a shared machine; compare the ratios
from one run, not figures from different runs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "testdata", "torch"))
from gen import CNNWithFiLM, CNNWithMetadataConcatenation, CNNWithMetadataConditioning  # noqa: E402

THREADS = 2
ARCHS = ["seed-concat", "seed-scalebias", "seed-film"]


def torch_model(arch, n):
    """The model and a random batch of n for arch."""
    g = torch.Generator().manual_seed(1)
    images = torch.rand(n, 3, 56, 56, generator=g)
    if arch == "seed-concat":
        return CNNWithMetadataConcatenation(), (images, torch.randint(0, 10, (n,), generator=g))
    if arch == "seed-scalebias":
        return CNNWithMetadataConditioning(), (images, torch.rand(n, 1, generator=g) * 2 - 1)
    return CNNWithFiLM(), (images, torch.rand(n, 2, generator=g) * 2 - 1)


def time_steps(f, warmup, steps):
    for _ in range(warmup):
        f()
    t0 = time.perf_counter()
    for _ in range(steps):
        f()
    return time.perf_counter() - t0


def bench_torch(arch, batch, steps, warmup):
    torch.manual_seed(1)
    model, inputs = torch_model(arch, batch)
    labels = torch.randint(0, 2, (batch,), generator=torch.Generator().manual_seed(2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def train_step():
        opt.zero_grad()
        loss_fn(model(*inputs), labels).backward()
        opt.step()

    train = batch * steps / time_steps(train_step, warmup, steps)
    model.eval()
    with torch.no_grad():
        infer = batch * steps / time_steps(lambda: model(*inputs), warmup, steps)
        _, one = torch_model(arch, 1)
        for _ in range(warmup):
            model(*one)
        lat = []
        for _ in range(steps):
            t0 = time.perf_counter()
            model(*one)
            lat.append((time.perf_counter() - t0) * 1e3)
    lat.sort()
    return {"train_img_per_s": train, "infer_img_per_s": infer, "infer_batch1_ms": lat[len(lat) // 2]}


def build_metacnn():
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "metacnn")
    subprocess.run(["go", "build", "-o", exe, "./cmd/metacnn"], cwd=ROOT, check=True)
    return exe


def bench_metacnn(exe, arch, batch, steps, warmup):
    env = dict(os.environ, GOMAXPROCS=str(THREADS))
    r = subprocess.run([exe, "bench", "--arch", arch, "--batch", str(batch), "--steps", str(steps),
                        "--warmup", str(warmup), "--json"], env=env, check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def export_onnx(path):
    torch.manual_seed(1)
    model, inputs = torch_model("seed-film", 2)
    model.eval()
    torch.onnx.export(model, inputs, path, input_names=["images", "metadata"], output_names=["logits"],
                      dynamic_axes={"images": {0: "n"}, "metadata": {0: "n"}, "logits": {0: "n"}},
                      opset_version=13)


def ort_available():
    d = os.environ.get("ORT_DIR", os.path.join(ROOT, "bench", "ort"))
    return os.path.isdir(os.path.join(d, "node_modules", "onnxruntime-node"))


def bench_ort(onnx_path, batch, steps, warmup):
    r = subprocess.run(["node", os.path.join(ROOT, "bench", "ort_infer.js"), onnx_path, str(batch),
                        str(steps), str(warmup), str(THREADS), "2"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def best(results, key, lower=False):
    vals = [r[key] for r in results]
    return min(vals) if lower else max(vals)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--no-ort", action="store_true", help="skip ONNX Runtime")
    args = ap.parse_args()
    archs = args.archs.split(",")
    torch.set_num_threads(THREADS)

    exe = build_metacnn()
    use_ort = not args.no_ort and ort_available()
    tmp = tempfile.mkdtemp(prefix="metacnn-bench-")
    onnx_path = os.path.join(tmp, "seed_film.onnx")
    if use_ort:
        export_onnx(onnx_path)
    elif not args.no_ort:
        print("ONNX Runtime: bench/ort/node_modules/onnxruntime-node not found; skipped "
              "(see the install line at the top of this script)", file=sys.stderr)

    res = {a: {"metacnn": [], "torch": []} for a in archs}
    ort = []
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr)
        for a in archs:
            res[a]["metacnn"].append(bench_metacnn(exe, a, args.batch, args.steps, args.warmup))
            res[a]["torch"].append(bench_torch(a, args.batch, args.steps, args.warmup))
        if use_ort and "seed-film" in archs:
            ort.append(bench_ort(onnx_path, args.batch, args.steps, args.warmup))

    print(f"batch {args.batch}, {THREADS} threads each, best of {args.rounds} rounds of {args.steps} steps; "
          f"torch {torch.__version__}, metacnn kernel {res[archs[0]]['metacnn'][0]['kernel']}")
    print()
    print(f"{'arch':<15} {'metric':<18} {'metacnn':>10} {'pytorch':>10} {'ratio':>7}")
    summary = {}
    for a in archs:
        m, t = res[a]["metacnn"], res[a]["torch"]
        rows = [("train img/s", "train_img_per_s", False), ("infer img/s", "infer_img_per_s", False),
                ("batch-1 ms", "infer_batch1_ms", True)]
        summary[a] = {}
        for label, key, lower in rows:
            mv, tv = best(m, key, lower), best(t, key, lower)
            ratio = tv / mv if lower else mv / tv
            summary[a][key] = {"metacnn": mv, "torch": tv, "ratio_vs_torch": ratio}
            print(f"{a:<15} {label:<18} {mv:>10.1f} {tv:>10.1f} {ratio:>6.2f}x" if not lower else
                  f"{a:<15} {label:<18} {mv:>10.3f} {tv:>10.3f} {ratio:>6.2f}x")
    if ort:
        m = res["seed-film"]["metacnn"]
        oi, ol = best(ort, "img_per_s"), best(ort, "batch1_ms", True)
        mi, ml = best(m, "infer_img_per_s"), best(m, "infer_batch1_ms", True)
        print()
        print(f"{'seed-film':<15} {'metric':<18} {'metacnn':>10} {'onnxrt':>10} {'ratio':>7}")
        print(f"{'seed-film':<15} {'infer img/s':<18} {mi:>10.1f} {oi:>10.1f} {mi / oi:>6.2f}x")
        print(f"{'seed-film':<15} {'batch-1 ms':<18} {ml:>10.3f} {ol:>10.3f} {ol / ml:>6.2f}x")
        summary["seed-film"]["onnxruntime"] = {"infer_img_per_s": oi, "infer_batch1_ms": ol,
                                               "ratio_infer": mi / oi, "ratio_batch1": ol / ml}
    print()
    print("ratio: metacnn / other for img/s, other / metacnn for latency (higher is better for metacnn)")
    print("targets: train >= 2x pytorch (seed-film), inference >= 0.7x onnxruntime (seed-film)")
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "out", "compare.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
