"""Builds the data train_check.sh runs on, from a `metacnn datagen inspection`
dataset:

    python3 interop/torch/check/make_rows.py DATASET_DIR

writes into DATASET_DIR

    train_x.csv, val_x.csv  the dataset's train and val rows with extra
                            metadata columns of every type, encoding, option
                            and missing policy the meta package has (missing
                            values, rare and unseen categories, timestamps
                            with offsets and fractions, booleans, ordinals,
                            embeddings, index columns, log1p/clip/bins
                            numerics, huge cyclical values)
    check.csv               the test rows the same way, plus rows with images
                            of other modes and sizes (RGBA, LA, palette with
                            transparency, gray, 16-bit gray, GIF, BMP, TIFF,
                            tiny, large, tall) and bad rows of every kind
                            (missing, corrupt, truncated and unknown images,
                            invalid values, unknown levels, out-of-range ids,
                            missing values under policies error and drop-row,
                            a malformed row), a multi-line quoted field, a
                            blank line and a byte-order mark
    check.jsonl             the same rows as JSON Lines (numbers, booleans,
                            nulls and absent keys; a nested value, invalid
                            JSON, blank lines)
    jpeg.csv                JPEG rows (one with EXIF orientation 6), whose
                            pixels depend on the decoder
    mixed.csv, broken.csv   3 training rows and one whose image fails to
                            decode; 2 rows whose images fail to decode
    header.csv              a header without rows
    config-a.yaml ...       configs: a (the one trained and exported for the
                            prediction and DDP checks), b, c, d (other
                            image preprocessing, for the encoding check), r
                            (batch norms, for the round trip), e (no
                            random draws in training, for the loss
                            normalisation check) and s (a batch norm that
                            sees 1x1, for batches of one row)
    images_x/               the extra images

Needs Python 3 with PIL and numpy. Deterministic.
"""
import csv
import io
import json
import os
import random
import sys

import numpy as np
from PIL import Image

EXTRA = ["line", "lot", "grade", "station", "slot", "exposure", "gain", "humidity", "pressure", "vibration",
         "angle", "captured_at", "shift_start", "flagged", "reviewed", "note"]

METADATA = """metadata:
  columns:
    - {name: camera, type: categorical}
    - {name: hour, type: cyclical, period: 24}
    - {name: temperature, type: numeric}
    - {name: product, type: categorical, missing: indicator}
    - {name: operator, type: categorical, encoding: embedding, dim: 3}
    - {name: line, type: categorical, encoding: onehot, min_count: 3}
    - {name: lot, type: categorical, encoding: embedding, dim: 4, min_count: 2}
    - {name: grade, type: categorical, encoding: ordinal, order: [low, " mid", high]}
    - {name: station, type: categorical, encoding: index, cardinality: 6, dim: 2}
    - {name: slot, type: categorical, encoding: index, cardinality: 4, missing: indicator}
    - {name: exposure, type: numeric, log1p: true, clip: [0, 500]}
    - {name: gain, type: numeric, scale: raw}
    - {name: humidity, type: numeric, bins: 4}
    - {name: pressure, type: numeric, scale: raw, missing: indicator}
    - {name: vibration, type: numeric, scale: standard, missing: drop-row}
    - {name: angle, type: cyclical, period: 360}
    - {name: captured_at, type: timestamp, features: [hour, weekday, month, day_of_year]}
    - {name: shift_start, type: timestamp}
    - {name: flagged, type: boolean}
    - {name: reviewed, type: boolean, missing: error}
"""

IMAGES = {
    "a": "{size: 56, channels: 3, resize: stretch, filter: catmull-rom, normalize: dataset}",
    "b": "{width: 48, height: 40, channels: 1, resize: fit-pad, filter: bilinear, background: [255, 128, 0], normalize: none}",
    "c": "{size: 60, channels: 4, resize: center-crop, filter: nearest, mean: [0.5, 0.4, 0.3, 0.2], std: [0.25, 0.2, 0.3, 0.5]}",
    "d": "{width: 64, height: 48, channels: 3, resize: center-crop, filter: catmull-rom, normalize: imagenet}",
}


# The models: a seed network without batch norm (configs a to d), and for
# the round trip a ResNet-8 with batch norms, a conditional batch norm and a
# gate (config r), whose running statistics PyTorch's training moves.
SEED_MODEL = """  backbone: {kind: seed, widths: [8, 16]}
  fusion: [{kind: film}, {kind: concat}]
  modality_dropout: 0.2"""
RESNET_MODEL = """  backbone: {kind: resnet, depth: 8, width_multiplier: 0.125, stem: small}
  fusion: [{kind: cbn, stages: [2]}, {kind: gate, stages: [3]}, {kind: concat}]"""
# Config s, a ResNet-8 on 16x16 images whose last stage (with a conditional
# batch norm) is 1x1, cannot normalise a batch of one row in training.
RESNET16_MODEL = """  backbone: {kind: resnet, depth: 8, width_multiplier: 0.125}
  fusion: [{kind: cbn, stages: [3]}, {kind: concat}]"""
# Config e, the seed network without modality dropout (nothing random in
# training), is for the loss normalisation check: 2 processes with batch B
# must take the step 1 process with batch 2B takes.
SEED_PLAIN = """  backbone: {kind: seed, widths: [8, 16]}
  fusion: [{kind: film}, {kind: concat}]"""
MODELS = {"a": SEED_MODEL, "b": SEED_MODEL, "c": SEED_MODEL, "d": SEED_MODEL, "r": RESNET_MODEL, "e": SEED_PLAIN,
          "s": RESNET16_MODEL}
IMAGES["r"] = "{size: 32, channels: 3, resize: stretch, normalize: dataset}"
IMAGES["e"] = "{size: 24, channels: 3, resize: stretch, normalize: dataset}"
IMAGES["s"] = "{size: 16, channels: 3, resize: stretch, normalize: dataset}"


def config(image, model):
    return """data:
  train: train_x.csv
  val: val_x.csv
  image_column: path
  label_column: label
  classes: [crack, ok, scratch, spot]
  image: %s
  on_bad_row: error
%s
model:
%s
train:
  steps: 2
  batch_size: 16
  optimizer: {kind: adamw, lr: 0.001}
  schedule: {kind: none}
  seed: 1
""" % (image, METADATA, model)


def maybe(rng, p, value):
    return "" if rng.random() < p else value


def timestamp(rng):
    y, mo = rng.choice([2023, 2024, 2025]), rng.randint(1, 12)
    d = rng.randint(1, 28)
    if rng.random() < 0.05:
        y, mo, d = 2024, 2, 29
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    hs = "%02d" % h
    if h < 10 and rng.random() < 0.2:
        hs = "%d" % h  # a one-digit hour, which Go's time.Parse accepts
    frac = ""
    r = rng.random()
    if r < 0.2:
        frac = ".%d" % rng.randint(0, 999999999)
    elif r < 0.3:
        frac = ",%03d" % rng.randint(0, 999)
    zone = rng.choice(["Z", "Z", "+05:30", "-08:00", "+14:00", "-00:00"])
    return "%04d-%02d-%02dT%s:%02d:%02d%s%s" % (y, mo, d, hs, mi, s, frac, zone)


def extra_values(rng, split, i):
    v = {}
    v["line"] = maybe(rng, 0.05, rng.choice(["L1", "L2", "L3", "L4", "L5", "L6"]))
    if split == "train" and i in (3, 7):
        v["line"] = "L7"  # seen twice: folded into <oov> by min_count 3
    lot = "LOT-%02d" % rng.randint(1, 8)
    if split == "check" and rng.random() < 0.15:
        lot = "LOT-NEW"
    if split == "train" and i == 5:
        lot = "LOT-RARE"  # seen once: folded by min_count 2
    v["lot"] = maybe(rng, 0.05, lot)
    v["grade"] = maybe(rng, 0.05, rng.choice(["low", "mid", " mid ", "high"]))
    v["station"] = rng.choice(["0", "1", "2", "3", "4", "5", "3.0", "+2", "05", "1e0"])
    v["slot"] = maybe(rng, 0.1, str(rng.randint(0, 3)))
    x = rng.uniform(0.5, 800)
    v["exposure"] = maybe(rng, 0.05, rng.choice(["%.3f" % x, "%g" % x, "-5", "1e2", "700"]))
    v["gain"] = rng.choice(["1.5", "2", " 3.25 ", "1e0", "0x1.8p1", "1_000", ".5", "7.", "-0", "2.000000000000000000001"])
    v["humidity"] = maybe(rng, 0.05, "%.1f" % rng.uniform(20, 90))
    v["pressure"] = maybe(rng, 0.1, "%.2f" % rng.uniform(990, 1030))
    v["vibration"] = "%.3f" % rng.uniform(0, 3)
    if split in ("train", "check") and i in (4, 9):
        v["vibration"] = ""  # policy drop-row: the row is dropped and reported
    a = rng.uniform(-720, 720)
    v["angle"] = maybe(rng, 0.05, rng.choice(["%.4f" % a, "%.4f" % a, "1e12", "-3.5e11", "0", "-0", "360"]))
    v["captured_at"] = maybe(rng, 0.05, timestamp(rng))
    v["shift_start"] = maybe(rng, 0.05, "2024-06-%02dT%02d:00:00Z" % (rng.randint(1, 30), rng.choice([6, 14, 22])))
    v["flagged"] = maybe(rng, 0.08, rng.choice(["true", "false", "yes", "no", "1", "0", "T", "n", "Y", "FALSE"]))
    v["reviewed"] = rng.choice(["true", "false"])
    v["note"] = rng.choice(["", "ok", "see, also", 'quoted "word"'])
    return v


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        return header, [row for row in r if row]


def write_csv(path, header, rows, bom=False, blank_after=None):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for k, row in enumerate(rows):
        if isinstance(row, str):
            buf.write(row)  # a raw line, written as is
        else:
            w.writerow(row)
        if blank_after is not None and k == blank_after:
            buf.write("\n")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(("\ufeff" if bom else "") + buf.getvalue())


def make_images(d, rng):
    """The extra images: name -> relative path."""
    os.makedirs(os.path.join(d, "images_x"), exist_ok=True)
    nrng = np.random.default_rng(7)
    out = {}

    def save(name, im, **kw):
        p = os.path.join("images_x", name)
        im.save(os.path.join(d, p), **kw)
        out[name] = p

    def noise(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 7) % 256, (x * y) % 256], axis=-1)
        arr = (base[..., :c] + nrng.integers(0, 40, (h, w, c))) % 256
        return arr.astype(np.uint8)

    rgba = noise(50, 80, 4)
    rgba[..., 3] = np.linspace(0, 255, 80).astype(np.uint8)[None, :]
    rgba[:5, :, 3] = 0
    rgba[5:10, :, 3] = 255
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    la = noise(70, 30, 2)
    save("la.png", Image.fromarray(la, "LA"))
    p = Image.fromarray(noise(64, 64, 3), "RGB").convert("P", palette=Image.ADAPTIVE, colors=32)
    save("p_trns.png", p, transparency=3)
    save("gray.png", Image.fromarray(noise(56, 56, 1)[..., 0], "L"))
    save("rgb56.png", Image.fromarray(noise(56, 56, 3), "RGB"))
    g16 = (nrng.integers(0, 65536, (40, 40))).astype(np.uint16)
    save("gray16.png", Image.fromarray(g16, "I;16"))
    gif = Image.fromarray(noise(50, 50, 3), "RGB").convert("P", palette=Image.ADAPTIVE, colors=16)
    save("anim.gif", gif, transparency=2)
    save("img.bmp", Image.fromarray(noise(33, 45, 3), "RGB"))
    save("img.tif", Image.fromarray(noise(30, 30, 3), "RGB"))
    save("tall.png", Image.fromarray(noise(100, 20, 3), "RGB"))
    save("tiny.png", Image.fromarray(noise(2, 3, 3), "RGB"))
    save("big.png", Image.fromarray(noise(200, 300, 3), "RGB"))
    save("wide_rgba.png", Image.fromarray(noise(17, 131, 4), "RGBA"))
    # Bad images.
    with open(os.path.join(d, "images_x", "corrupt.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(nrng.integers(0, 256, 300, dtype=np.uint8)))
    out["corrupt.png"] = "images_x/corrupt.png"
    buf = io.BytesIO()
    Image.fromarray(noise(64, 64, 3), "RGB").save(buf, "PNG")
    with open(os.path.join(d, "images_x", "truncated.png"), "wb") as f:
        f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
    out["truncated.png"] = "images_x/truncated.png"
    with open(os.path.join(d, "images_x", "text.png"), "wb") as f:
        f.write(b"this is not an image\n")
    out["text.png"] = "images_x/text.png"
    # JPEG (4:2:0 chroma, smooth content): one upright, one stored sideways
    # with EXIF orientation 6.
    def smooth(h, w):
        y, x = np.mgrid[0:h, 0:w]
        arr = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + 2 * y) * 255 // (w + 2 * h - 3)], axis=-1)
        return np.clip(arr + nrng.integers(-8, 9, (h, w, 3)), 0, 255).astype(np.uint8)
    save("plain.jpg", Image.fromarray(smooth(48, 64), "RGB"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", Image.fromarray(smooth(64, 48), "RGB"), quality=90, exif=exif.tobytes())
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    d = sys.argv[1]
    rng = random.Random(20240501)
    header, train = read_csv(os.path.join(d, "train.csv"))
    _, val = read_csv(os.path.join(d, "val.csv"))
    _, test = read_csv(os.path.join(d, "test.csv"))
    full = header + EXTRA

    def extend(rows, split):
        out = []
        for i, r in enumerate(rows):
            v = extra_values(rng, split, i)
            out.append(r + [v[c] for c in EXTRA])
        return out

    train_x = extend(train, "train")
    write_csv(os.path.join(d, "train_x.csv"), full, train_x)
    write_csv(os.path.join(d, "val_x.csv"), full, extend(val, "val"))
    check = extend(test, "check")
    col = {c: i for i, c in enumerate(full)}
    images = make_images(d, rng)

    def variant(base, **kv):
        r = list(base)
        for k, v in kv.items():
            r[col[k]] = v
        return r
    good = check[0]
    if good[col["vibration"]] == "":
        good = variant(good, vibration="1.0")
    good = variant(good, reviewed="true")
    for name in ("rgba.png", "la.png", "p_trns.png", "gray.png", "rgb56.png", "gray16.png", "anim.gif", "img.bmp",
                 "img.tif", "tall.png", "tiny.png", "big.png", "wide_rgba.png"):
        check.append(variant(good, path=images[name]))
    check.append(variant(good, note="a note\nover two lines"))  # shifts the line numbers after it
    bad = [
        variant(good, path="images_x/nope.png"),
        variant(good, path=images["corrupt.png"]),
        variant(good, path=images["truncated.png"]),
        variant(good, path=images["text.png"]),
        variant(good, path=""),
        variant(good, gain="abc"),
        variant(good, gain="1e400"),
        variant(good, temperature="NaN"),
        variant(good, station="9"),
        variant(good, station="2.5"),
        variant(good, grade="ultra"),
        variant(good, captured_at="yesterday"),
        variant(good, captured_at="2023-02-29T10:00:00Z"),
        variant(good, captured_at="2024-05-01T24:00:00Z"),
        variant(good, reviewed=""),
        variant(good, vibration=" "),
        variant(good, flagged="maybe"),
        variant(good, camera="cam9", line="L99", lot="LOT-XYZ", operator="op42"),  # unseen: <oov>, not an error
        variant(good, exposure="", humidity="", pressure="", angle="", captured_at="", shift_start="", flagged="",
                grade="", line="", lot="", slot="", product=""),  # every indicator column missing
    ]
    check += bad
    malformed = ",".join(good[:3]) + "\n"  # too few fields
    rows = check[:20] + [malformed] + check[20:]
    write_csv(os.path.join(d, "check.csv"), full, rows, bom=True, blank_after=10)

    # The same rows as JSON Lines, with typed values.
    lines = []
    for k, r in enumerate(check):
        obj = {}
        for c, v in zip(full, r):
            if v == "" and k % 3 == 0:
                obj[c] = None  # null: missing
            elif v == "" and k % 3 == 1:
                continue  # absent: missing
            elif c in ("gain", "station", "humidity") and is_json_number(v.strip()):
                obj[c] = _Raw(v.strip())  # a JSON number, written exactly as in the CSV
            elif c in ("flagged", "reviewed") and v in ("true", "false"):
                obj[c] = v == "true"
            else:
                obj[c] = v
        lines.append(dumps(obj))
        if k == 5:
            lines.append("")
        if k == 12:
            lines.append('{"path": "x.png", "label": "ok", "camera": {"nested": 1}}')
            lines.append('{"path": "x.png", "label": ')
            lines.append('["not", "an", "object"]')
    with open(os.path.join(d, "check.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    # For the DDP checks: 3 good training rows and one whose image fails to
    # decode (with 2 processes and batch 2, one process has a batch of 2 rows
    # and the other a batch of 1 row); 2 rows whose images fail to decode; a
    # header alone.
    broken = variant(train_x[0], path=images["truncated.png"])
    write_csv(os.path.join(d, "mixed.csv"), full, train_x[:3] + [broken])
    write_csv(os.path.join(d, "broken.csv"), full, [broken, variant(train_x[1], path=images["truncated.png"])])
    write_csv(os.path.join(d, "header.csv"), full, [])

    write_csv(os.path.join(d, "jpeg.csv"), full, [variant(good, path=images["plain.jpg"]), variant(good, path=images["rotated.jpg"])])
    for name, image in IMAGES.items():
        with open(os.path.join(d, "config-%s.yaml" % name), "w") as f:
            f.write(config(image, MODELS[name]))
    print("wrote %s: train_x.csv (%d rows), val_x.csv (%d), check.csv (%d), check.jsonl, jpeg.csv, mixed.csv, broken.csv, "
          "header.csv, config-{%s}.yaml"
          % (d, len(train), len(val), len(check) + 1, ",".join(IMAGES)))
    return 0


def is_json_number(s):
    try:
        return isinstance(json.loads(s), (int, float)) and s.lower() not in ("nan", "infinity", "-infinity")
    except ValueError:
        return False


class _Raw(str):
    """A JSON number written exactly as in the CSV."""


def dumps(obj):
    parts = []
    for k, v in obj.items():
        parts.append(json.dumps(k) + ": " + (str(v) if isinstance(v, _Raw) else json.dumps(v)))
    return "{" + ", ".join(parts) + "}"


if __name__ == "__main__":
    sys.exit(main())
