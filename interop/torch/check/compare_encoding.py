"""Compares train_ddp.py's encoding of a manifest with metacnn's.

    python3 interop/torch/check/compare_encoding.py PACKAGE GO_JSON MANIFEST [--name NAME]
        [--image-column path] [--tolerance-levels L]

PACKAGE is a directory written by metacnn export torch (its train_ddp.py is
imported), GO_JSON what interop/torch/check/encode wrote for MANIFEST and the
same model. Every row is read and encoded with train_ddp.py's functions as
its --predict does (the image, then the metadata); the rows, the bad rows
(row, kind, column), and per row the image, metadata, ids and
metadata_missing tensors and the encoding warnings must be the same. Tensors
are compared bit for bit, or, with --tolerance-levels (for JPEG, whose
decoders differ), the image within L pixel levels (L/255 divided by the
smallest normalisation std). Prints one summary line (NAME first) and the first
differences; exit status 1 when they differ.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np


def load_train_ddp(pkg):
    spec = importlib.util.spec_from_file_location("train_ddp_under_check", os.path.join(pkg, "train_ddp.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def python_side(td, pkg, manifest, image_column):
    enc = td.load_encoding(pkg)
    opts = td.ImageOptions(enc)
    encoder = td.MetaEncoder(enc) if td.enc_get(enc, "metadata", None) is not None else None
    missing_input = "metadata_missing" in [td.enc_get(t, "inputs[].name") for t in td.enc_get(enc, "inputs")]
    rows, bad, _ = td.read_manifest(manifest, image_column, None,
                                    required=encoder.column_names() if encoder else (), streaming=True)
    out = {}
    bads = [(b.row, b.kind, b.column or "") for b in bad]
    for r in rows:
        try:
            img = td.load_image(r.file, opts)
        except td.ImageError as e:
            bads.append((r.line, e.kind, ""))
            continue
        dense, ids, warns = np.zeros(0, np.float32), np.zeros(0, np.int64), []
        if encoder is not None:
            try:
                dense, ids, warns = encoder.encode(r.meta)
            except td.MetaValueError as e:
                bads.append((r.line, e.kind(), e.column))
                continue
        out[r.line] = {"path": r.path, "image": img.reshape(-1), "metadata": dense, "ids": ids,
                       "missing": np.zeros(1, np.float32), "warnings": warns}
    return out, sorted(bads), missing_input


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package")
    ap.add_argument("go_json")
    ap.add_argument("manifest")
    ap.add_argument("--name", default="")
    ap.add_argument("--image-column", default="path")
    ap.add_argument("--tolerance-levels", type=float, default=None)
    args = ap.parse_args()

    td = load_train_ddp(args.package)
    py, pybad, missing_input = python_side(td, args.package, args.manifest, args.image_column)
    args.tolerance = None
    if args.tolerance_levels is not None:
        std = td.enc_get(td.load_encoding(args.package), "image.std", None)
        args.tolerance = args.tolerance_levels / 255.0 / (min(std) if std else 1.0)
    with open(args.go_json) as f:
        # "-0" is how Go writes a float32 negative zero: keep its sign.
        go = json.load(f, parse_int=lambda t: -0.0 if t == "-0" else int(t))
    gobad = sorted((b["row"], b["kind"], b.get("column", "")) for b in go["bad"])
    gorows = {r["row"]: r for r in go["rows"]}
    problems = []
    if gobad != pybad:
        problems.append("bad rows differ: metacnn %s, python %s" % (sorted(set(gobad) - set(pybad)), sorted(set(pybad) - set(gobad))))
    if sorted(gorows) != sorted(py):
        problems.append("rows differ: only metacnn %s, only python %s" % (sorted(set(gorows) - set(py)), sorted(set(py) - set(gorows))))
    if go["missing_input"] != missing_input:
        problems.append("metadata_missing input: metacnn %s, python %s" % (go["missing_input"], missing_input))
    stats = {k: [0.0, 0, 0] for k in ("image", "metadata", "ids", "missing")}  # max |d|, values differing, sum |d|
    counts = {k: 0 for k in stats}
    warn_diff = 0
    for line in sorted(set(gorows) & set(py)):
        g, p = gorows[line], py[line]
        if g["path"] != p["path"]:
            problems.append("row %d: path %r, python %r" % (line, g["path"], p["path"]))
        for k in ("image", "metadata", "missing"):
            a = np.array(g[k] if k != "missing" else [g[k]], dtype=np.float64).astype(np.float32)
            b = np.asarray(p[k], dtype=np.float32)
            if a.shape != b.shape:
                problems.append("row %d: %s has %d values, python %d" % (line, k, a.size, b.size))
                continue
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
            ndiff = int((bits(a) != bits(b)).sum())
            s = stats[k]
            s[0] = max(s[0], float(d.max()) if d.size else 0.0)
            s[1] += ndiff
            s[2] += float(d.sum())
            counts[k] += a.size
            exact = args.tolerance is None or k != "image"
            if (exact and ndiff) or (not exact and d.size and d.max() > args.tolerance):
                i = int(np.argmax(d if not exact else (bits(a) != bits(b))))
                problems.append("row %d: %s[%d] = %r, python %r (%d values differ)" % (line, k, i, float(a[i]), float(b[i]), ndiff))
        a, b = np.array(g["ids"], dtype=np.int64), np.asarray(p["ids"], dtype=np.int64)
        counts["ids"] += a.size
        if a.shape != b.shape or (a != b).any():
            stats["ids"][1] += int((a != b).sum()) if a.shape == b.shape else a.size
            problems.append("row %d: ids %s, python %s" % (line, a.tolist(), b.tolist()))
        elif a.size:
            stats["ids"][0] = max(stats["ids"][0], 0.0)
        if (g.get("warnings") or []) != p["warnings"]:
            warn_diff += 1
            problems.append("row %d: warnings %s, python %s" % (line, g.get("warnings"), p["warnings"]))
    summary = "%s: %d rows, %d bad rows; max |d| (values differing): image %.3g (%d of %d), metadata %.3g (%d of %d), ids %.3g (%d of %d), missing %.3g (%d); warnings differ in %d rows" % (
        args.name or os.path.basename(args.manifest), len(gorows), len(gobad),
        stats["image"][0], stats["image"][1], counts["image"], stats["metadata"][0], stats["metadata"][1], counts["metadata"],
        stats["ids"][0], stats["ids"][1], counts["ids"], stats["missing"][0], stats["missing"][1], warn_diff)
    if args.tolerance is not None and counts["image"]:
        summary += "; image mean |d| %.3g (tolerance %.3g: %g levels)" % (stats["image"][2] / counts["image"], args.tolerance, args.tolerance_levels)
    print(summary)
    for p in problems[:15]:
        print("  " + p)
    if len(problems) > 15:
        print("  ... %d more" % (len(problems) - 15))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
