"""Checks train_ddp.py's reimplementations of the Go functions metacnn's
encoders rest on against Go itself, on many generated values.

    python3 interop/torch/check/compare_primitives.py PACKAGE ENCODE_BINARY [--n 20000] [--seed 1]

PACKAGE is a directory written by metacnn export torch (its train_ddp.py is
imported); ENCODE_BINARY the interop/torch/check/encode program, run with
-primitives. Compared exactly: strconv.ParseFloat and Atoi (meta's number
parsing), math.Sin, Cos and Log1p (bit for bit), time.Parse(RFC3339)
(fields, weekday and day of the year), strconv.FormatFloat 'g' and
encoding/json of float32 (predict's output), and strconv.Quote (warnings).
Prints one summary line and the first differences; exit status 1 when they
differ.
"""
import argparse
import importlib.util
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

import numpy as np


def f2s(x):
    return str(struct.unpack("<Q", struct.pack("<d", x))[0])


def s2f(s):
    return struct.unpack("<d", struct.pack("<Q", int(s)))[0]


def number_strings(rng, n):
    pieces = ["0", "1", "7", "9", "00", "123", "4503599627370497", "17976931348623157", "2470328229206232720882"]
    specials = ["inf", "+Inf", "-INF", "infinity", "-Infinity", "nan", "NaN", "+nan", "-nan", "infin", "in", "1e", "e5",
                ".", "-", "+", "", "1_000", "1__0", "_1", "1_", "0x1p-2", "0x_1p0", "0x1.8p1", "0X1P+3", "0x1", "0x",
                "0x.8p1", "0b101", "0o7", "1e400", "-1e400", "1e-400", "4.9e-324", "2.4703282292062328e-324",
                "1.7976931348623157e308", "1.7976931348623159e308", "0x1.fffffffffffffp1023", "0x1p1024", "1e+_5",
                "1_0.5e1_0", "٣", "1.5\u00a0", "--1", "+-1", "1..2", "1e5.5", "0.000001", "9007199254740993",
                "2.000000000000000000001", "-0", "+0.0", ".5", "7.", "1E5", "1e-5", "12abc", " 1", "1 "]
    out = list(specials)
    while len(out) < n:
        r = rng.random()
        if r < 0.5:
            s = "%r" % rng.uniform(-1e6, 1e6)
        elif r < 0.7:
            s = "%.*e" % (rng.randint(0, 20), 10 ** rng.uniform(-330, 308))
        elif r < 0.85:
            s = rng.choice(["", "-", "+"]) + "".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
            if rng.random() < 0.5:
                s += "." + rng.choice(pieces)
            if rng.random() < 0.4:
                s += rng.choice(["e", "E"]) + rng.choice(["", "-", "+"]) + str(rng.randint(0, 400))
        else:
            s = "".join(rng.choice("0123456789._eE+-xXpPabcdef") for _ in range(rng.randint(1, 8)))
        out.append(s)
    return out


def angles(rng, n):
    out = [0.0, -0.0, math.pi, -math.pi, math.pi / 4, 2 * math.pi, 1e-300, 5e-324, float(1 << 29), float(1 << 29) - 1,
           1e10, 1e12, 1e20, 1e300, 1.7976931348623157e308, -1e12, 536870911.9999999]
    while len(out) < n:
        r = rng.random()
        if r < 0.6:
            out.append(rng.uniform(-800, 800))
        elif r < 0.8:
            out.append(rng.choice([-1, 1]) * 10 ** rng.uniform(-10, 15))
        elif r < 0.9:
            out.append(rng.choice([-1, 1]) * 10 ** rng.uniform(15, 308.2))
        else:
            out.append(2 * math.pi * rng.uniform(-1e4, 1e4) / rng.choice([24.0, 7.0, 12.0, 365.2425, 360.0]))
    return out


def log1p_inputs(rng, n):
    out = [0.0, -0.0, 1e-300, -1e-300, 2 ** -29, 2 ** -54, 0.41421356237309503, 0.4142135623730951, -0.2928932188134524,
           -0.2928932188134525, -0.9999999999999999, 9007199254740992.0, 1e300, 500.0, 1.0]
    while len(out) < n:
        r = rng.random()
        if r < 0.4:
            out.append(rng.uniform(-0.99, 1000))
        elif r < 0.7:
            out.append(10 ** rng.uniform(-20, 308.2))
        elif r < 0.85:
            out.append(-(10 ** rng.uniform(-20, 0)) * 0.999)
        else:
            out.append(rng.uniform(-0.3, 0.42))
    return out


def times(rng, n):
    fixed = ["2024-05-01T14:30:00Z", "2024-02-29T23:59:59.999999999+14:00", "2023-02-29T10:00:00Z", "0000-01-01T00:00:00Z",
             "9999-12-31T23:59:59Z", "2024-05-01T7:04:05Z", "2024-05-01T14:30:00,5Z", "2024-05-01T14:30:00.Z",
             "2024-05-01T24:00:00Z", "2024-05-01T14:60:00Z", "2024-05-01T14:30:60Z", "2024-05-01T14:30:00+24:00",
             "2024-05-01T14:30:00+25:00", "2024-05-01T14:30:00+05:61", "2024-05-01T14:30:00+05:60", "2024-05-01t14:30:00Z",
             "2024-05-01T14:30:00z", "2024-05-01 14:30:00Z", "2024-05-01T14:30:00", "2024-5-01T14:30:00Z",
             "2024-05-1T14:30:00Z", "2024-05-01T14:30Z", "2024-05-01T14:30:00+0530", "2024-05-01T14:30:00.1234567891234Z",
             "2024-05-01T14:30:00-00:00", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z",
             "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2024-05-01T14:30:00Z ", "x2024-05-01T14:30:00Z",
             "2024-05-01T114:30:00Z", "2024-05-01T14:30:00+5:30", "2024-05-01T14:30:00.5+05:30", "+2024-05-01T14:30:00Z"]
    out = list(fixed)
    while len(out) < n:
        y = rng.choice([rng.randint(0, 9999), rng.randint(1990, 2030)])
        mo, d = rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        hs = ("%d" if rng.random() < 0.2 else "%02d") % h
        frac = rng.choice(["", "", ".%d" % rng.randint(0, 10 ** rng.randint(1, 12)), ",%d" % rng.randint(0, 999)])
        zone = rng.choice(["Z", "Z", "+%02d:%02d" % (rng.randint(0, 25), rng.choice([0, 30, 45, 60, 61])),
                           "-%02d:%02d" % (rng.randint(0, 14), rng.choice([0, 30]))])
        out.append("%04d-%02d-%02dT%s:%02d:%02d%s%s" % (y, mo, d, hs, mi, s, frac, zone))
    return out


def floats_g(rng, n):
    out = [0.0, -0.0, 1.0, 0.5, 1e-5, 1e-4, 123456.0, 1234567.0, 1e6, 1e21, 1e-7, 5e-324, 1.7976931348623157e308,
           0.1, 1 / 3, 100.0, 0.30000000000000004, float("inf"), float("-inf")]
    while len(out) < n:
        r = rng.random()
        if r < 0.5:
            out.append(rng.random())
        elif r < 0.6:
            out.append(math.exp(-rng.uniform(0, 700)))
        else:
            out.append(rng.choice([-1, 1]) * 10 ** rng.uniform(-320, 308.2))
    return out


def float32_bits(rng, n):
    vals = [0.0, -0.0, 1.0, -1.0, 1e-6, 9.999999e-7, 1e21, 1e20, 3.4028235e38, 1.4e-45, 1e-7, 123456789.0, 0.1]
    out = [int(np.array(v, dtype=np.float32).view(np.uint32)) for v in vals]
    while len(out) < n:
        r = rng.random()
        if r < 0.5:
            v = np.float32(rng.gauss(0, 3))
        elif r < 0.8:
            v = np.float32(rng.choice([-1, 1]) * 10 ** rng.uniform(-45, 38))
        else:
            u = rng.getrandbits(32)
            if (u >> 23) & 0xFF == 0xFF:  # not NaN or Inf: JSON cannot hold them
                continue
            out.append(u)
            continue
        out.append(int(np.array(v, dtype=np.float32).view(np.uint32)))
    return out


def quotes(rng, n):
    alphabet = ["a", "Z", " ", '"', "\\", "\n", "\t", "\r", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\xa0", "\xad", "é",
                "\u2028", "\u200b", "\ufeff", "\ue000", "\U0001f600", "\U000e0001", "ß", "\u0301", "中", "\u3000", "\ufffd"]
    out = ["", "camera", 'say "hi"']
    while len(out) < n:
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package")
    ap.add_argument("encode")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("train_ddp_under_check", os.path.join(args.package, "train_ddp.py"))
    td = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(td)
    rng = random.Random(args.seed)
    n = args.n
    inputs = {
        "parse_float": number_strings(rng, n // 4), "atoi": number_strings(rng, n // 10),
        "sin": [f2s(x) for x in angles(rng, n)], "log1p": [f2s(x) for x in log1p_inputs(rng, n)],
        "time": times(rng, n // 4), "format_g": [f2s(x) for x in floats_g(rng, n // 2)],
        "float32": float32_bits(rng, n // 2), "quote": quotes(rng, n // 10),
    }
    with tempfile.TemporaryDirectory() as tmp:
        inp, outp = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(inp, "w", encoding="utf-8") as f:
            json.dump(inputs, f)
        subprocess.run([args.encode, "-primitives", inp, "-out", outp], check=True)
        with open(outp, encoding="utf-8") as f:
            go = json.load(f)
    diffs = {}

    def differ(kind, x, want, got):
        diffs.setdefault(kind, []).append("%s(%r): go %r, python %r" % (kind, x, want, got))

    for s, (bits, err) in zip(inputs["parse_float"], go["parse_float"]):
        f, e = td.go_parse_float(s)
        if e == "syntax":
            f = 0.0
        if (f2s(f), e or "") != (bits, err) and not (math.isnan(f) and math.isnan(s2f(bits))):
            differ("ParseFloat", s, (s2f(bits), err), (f, e))
    for s, want in zip(inputs["atoi"], go["atoi"]):
        if td.go_atoi(s) != want:
            differ("Atoi", s, want, td.go_atoi(s))
    for s, (sb, cb) in zip(inputs["sin"], go["sin"]):
        x = s2f(s)
        for name, fn, want in (("Sin", td.go_sin, sb), ("Cos", td.go_cos, cb)):
            got = fn(x)
            if f2s(got) != want and not (math.isnan(got) and math.isnan(s2f(want))):
                differ(name, x, s2f(want), got)
    for s, want in zip(inputs["log1p"], go["log1p"]):
        x = s2f(s)
        got = td.go_log1p(x)
        if f2s(got) != want and not (math.isnan(got) and math.isnan(s2f(want))):
            differ("Log1p", x, s2f(want), got)
    for s, want in zip(inputs["time"], go["time"]):
        t = td.parse_rfc3339(s)
        got = None
        if t is not None:
            got = list(t) + [int(td.time_feature(t, "weekday")), int(td.time_feature(t, "day_of_year")) + 1]
        if got != want:
            differ("time.Parse", s, want, got)
    for s, want in zip(inputs["format_g"], go["format_g"]):
        got = td.go_format_g(s2f(s))
        if got != want:
            differ("FormatFloat", s2f(s), want, got)
    for u, want in zip(inputs["float32"], go["float32"]):
        v = np.array(u, dtype=np.uint32).view(np.float32)
        got = td.go_json_float32(v)
        if got != want:
            differ("json float32", float(v), want, got)
    for s, want in zip(inputs["quote"], go["quote"]):
        got = td.go_quote(s)
        if got != want:
            differ("Quote", s, want, got)
    counts = {k: len(v) for k, v in inputs.items()}
    total = sum(counts.values()) + counts["sin"]  # sin and cos
    bad = sum(len(v) for v in diffs.values())
    print("primitives: %d values (%s), %d differ" % (total, ", ".join("%s %d" % kv for kv in counts.items()), bad))
    for kind, lines in diffs.items():
        print("  %s: %d differ" % (kind, len(lines)))
        for line in lines[:5]:
            print("    " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
