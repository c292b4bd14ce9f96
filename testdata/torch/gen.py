#!/usr/bin/python3
"""Generates the PyTorch reference values ("goldens") that the Go tests read.

Run from the repository root with PyTorch 1.13 (Debian python3-torch):

    OPENBLAS_CORETYPE= /usr/bin/python3 testdata/torch/gen.py

It writes testdata/torch/seed_*.safetensors and testdata/torch/ops.safetensors,
testdata/torch/import/ (import_golden: state_dicts, PNGs and logits for the
`metacnn import torch` parity test) and testdata/torch/resnet18.safetensors
(torchvision_golden; needs Debian python3-torchvision). `go test` only reads
the committed outputs and never needs Python.

Inputs and initial weights are not stored: both sides build them from the
integer hash `hashu` below, which Go reproduces bit for bit (see
model/golden_test.go and autograd/golden_test.go). Tensors with more than
SAMPLE_LIMIT elements are stored sampled: elements 0, S, 2S, ... of the
flattened tensor, with S recorded in the file's metadata as "stride:<name>".
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
SAMPLE_LIMIT = 20000
MASK = 0xFFFFFFFF


def hashu(i, salt):
    """Uniform [0, 1) from index i and salt: a murmur3-style 32-bit mixer."""
    h = (i * 0x9E3779B9 + salt) & MASK
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    h ^= h >> 16
    return h / 4294967296.0


def hashed(shape, salt, lo, hi):
    """A float32 tensor whose element i (row-major) is lo + (hi-lo)*hashu(i, salt)."""
    n = math.prod(shape)
    vals = [lo + (hi - lo) * hashu(i, salt) for i in range(n)]
    return torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(shape)


def salt_of(name):
    """A per-name salt: FNV-1a 32-bit of the UTF-8 name."""
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & MASK
    return h


def init_params(model):
    """Sets every parameter to hashed values in PyTorch's default bound
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); embeddings use U(-1, 1)."""
    for name, p in model.named_parameters():
        if "embedding.weight" == name:
            bound = 1.0
        else:
            fan_in = p.shape[1] * math.prod(p.shape[2:]) if p.dim() > 1 else None
            if fan_in is None:
                # a bias: the bound of its weight
                wname = name[: -len("bias")] + "weight"
                w = dict(model.named_parameters())[wname]
                fan_in = w.shape[1] * math.prod(w.shape[2:])
            bound = 1.0 / math.sqrt(fan_in)
        with torch.no_grad():
            p.copy_(hashed(tuple(p.shape), salt_of(name), -bound, bound))


class Writer:
    """Collects tensors and writes a safetensors file (reference layout)."""

    def __init__(self):
        self.tensors = {}
        self.meta = {}

    def add(self, name, t, sample=True):
        t = t.detach().clone().contiguous()  # a snapshot: some tensors change in place later
        if t.dtype == torch.float32 and sample and t.numel() > SAMPLE_LIMIT:
            stride = -(-t.numel() // 8192)
            t = t.reshape(-1)[::stride].contiguous()
            self.meta["stride:" + name] = str(stride)
        self.tensors[name] = t

    def write(self, path):
        header = {}
        blobs = []
        off = 0
        for name in sorted(self.tensors):
            t = self.tensors[name]
            if t.dtype == torch.float32:
                dt, fmt = "F32", "<%df" % t.numel()
            elif t.dtype == torch.int64:
                dt, fmt = "I64", "<%dq" % t.numel()
            elif t.dtype == torch.float16:
                dt, fmt = "F16", "<%de" % t.numel()
            else:
                raise ValueError(t.dtype)
            data = struct.pack(fmt, *t.reshape(-1).tolist())
            header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
            blobs.append(data)
            off += len(data)
        if self.meta:
            header["__metadata__"] = self.meta
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
        print("wrote", path, os.path.getsize(path), "bytes")


# --- The reference document's three models, verbatim module names. ---


def cnn_layers():
    return nn.Sequential(
        nn.Conv2d(3, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),
    )


class CNNWithMetadataConcatenation(nn.Module):
    def __init__(self, num_operators=10, embedding_dim=16):
        super().__init__()
        self.cnn_layers = cnn_layers()
        self.embedding = nn.Embedding(num_operators, embedding_dim)
        self.fc = nn.Linear(64 * 14 * 14 + embedding_dim, 128)
        self.classifier = nn.Linear(128, 2)

    def forward(self, images, operator_ids):
        f = self.cnn_layers(images)
        f = f.view(f.size(0), -1)
        e = self.embedding(operator_ids)
        out = torch.relu(self.fc(torch.cat((f, e), dim=1)))
        return self.classifier(out)


class CNNWithMetadataConditioning(nn.Module):
    def __init__(self, embedding_dim=8):
        super().__init__()
        self.cnn_layers = cnn_layers()
        self.temperature_embedding = nn.Linear(1, embedding_dim)
        self.scale_layer = nn.Linear(embedding_dim, 64)
        self.bias_layer = nn.Linear(embedding_dim, 64)
        self.fc = nn.Linear(64 * 14 * 14, 128)
        self.classifier = nn.Linear(128, 2)

    def forward(self, images, temperatures):
        f = self.cnn_layers(images)
        e = self.temperature_embedding(temperatures)
        s = self.scale_layer(e).unsqueeze(-1).unsqueeze(-1)
        b = self.bias_layer(e).unsqueeze(-1).unsqueeze(-1)
        c = s * f + b
        c = c.view(c.size(0), -1)
        return self.classifier(torch.relu(self.fc(c)))


class FiLM(nn.Module):
    def __init__(self, num_channels, embedding_dim):
        super().__init__()
        self.gamma_layer = nn.Linear(embedding_dim, num_channels)
        self.beta_layer = nn.Linear(embedding_dim, num_channels)

    def forward(self, x, m):
        g = self.gamma_layer(m).unsqueeze(-1).unsqueeze(-1)
        b = self.beta_layer(m).unsqueeze(-1).unsqueeze(-1)
        return g * x + b


class CNNWithFiLM(nn.Module):
    def __init__(self, embedding_dim=8, num_metadata_features=2):
        super().__init__()
        self.cnn_layers = cnn_layers()
        self.metadata_embedding = nn.Linear(num_metadata_features, embedding_dim)
        self.film_layer = FiLM(64, embedding_dim)
        self.fc = nn.Linear(64 * 14 * 14, 128)
        self.classifier = nn.Linear(128, 2)

    def forward(self, images, metadata):
        f = self.cnn_layers(images)
        e = self.metadata_embedding(metadata)
        c = self.film_layer(f, e)
        c = c.view(c.size(0), -1)
        return self.classifier(torch.relu(self.fc(c)))


BATCH = 4
TARGETS = [0, 1, 1, 0]
OPERATOR_IDS = [3, 7, 3, 0]  # a repeated id exercises the embedding's scatter-add


def seed_inputs(arch):
    images = hashed((BATCH, 3, 56, 56), salt_of("input.images"), 0.0, 1.0)
    if arch == "concat":
        meta = torch.tensor(OPERATOR_IDS, dtype=torch.int64)
    elif arch == "scalebias":
        meta = hashed((BATCH, 1), salt_of("input.meta"), -1.0, 1.0)
    else:
        meta = hashed((BATCH, 2), salt_of("input.meta"), -1.0, 1.0)
    return images, meta


def seed_golden(arch, cls):
    """Forward logits, mean cross-entropy, every gradient, and parameters
    after one Adam step and one AdamW step.

    Longer optimiser runs are not compared: Adam turns gradient elements at
    float32 noise level into lr-sized steps, and with these weights a hidden
    unit sits 1e-4 from its ReLU kink after one step, so two correct
    implementations part by more than 1e-4 from the second step on."""
    w = Writer()
    images, meta = seed_inputs(arch)
    targets = torch.tensor(TARGETS, dtype=torch.int64)

    def fresh():
        m = cls()
        init_params(m)
        return m

    model = fresh()
    logits = model(images, meta)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    w.add("logits", logits)
    w.add("loss", loss.reshape(1))
    for name, p in model.named_parameters():
        w.add("grad." + name, p.grad)

    for tag, make_opt, steps in [
        ("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3), 1),
        ("adamw", lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01), 1),
    ]:
        model = fresh()
        opt = make_opt(model.parameters())
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(images, meta), targets).backward()
            opt.step()
        for name, p in model.named_parameters():
            w.add(tag + "." + name, p)
    w.write(os.path.join(OUT, "seed_%s.safetensors" % arch))


def ops_golden():
    """Per-op references for the tricky ops. Each case stores its inputs,
    the upstream gradient gy, the output and the input gradients; options
    are in the metadata as JSON under "case:<name>"."""
    w = Writer()

    def rnd(name, shape, lo=-1.0, hi=1.0):
        return hashed(shape, salt_of(name), lo, hi)

    # Convolutions: (name, x shape, w shape, options).
    convs = [
        ("conv_basic", (2, 3, 7, 6), (4, 3, 3, 3), dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=1)),
        ("conv_stride", (2, 3, 9, 8), (5, 3, 3, 2), dict(stride=[2, 3], padding=[1, 0], dilation=[1, 1], groups=1)),
        ("conv_dilation", (1, 2, 10, 9), (3, 2, 3, 3), dict(stride=[1, 2], padding=[2, 1], dilation=[2, 3], groups=1)),
        ("conv_groups", (2, 4, 6, 6), (6, 2, 3, 3), dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=2)),
        ("conv_depthwise", (2, 3, 5, 7), (6, 1, 3, 3), dict(stride=[2, 2], padding=[1, 1], dilation=[1, 1], groups=3)),
    ]
    for name, xs, ws, o in convs:
        x = rnd(name + ".x", xs).requires_grad_()
        wt = rnd(name + ".w", ws).requires_grad_()
        b = rnd(name + ".b", (ws[0],)).requires_grad_()
        y = F.conv2d(x, wt, b, stride=o["stride"], padding=o["padding"], dilation=o["dilation"], groups=o["groups"])
        gy = rnd(name + ".gy", tuple(y.shape))
        y.backward(gy)
        for k, v in [("x", x), ("w", wt), ("b", b), ("gy", gy), ("y", y), ("gx", x.grad), ("gw", wt.grad), ("gb", b.grad)]:
            w.add(name + "." + k, v)
        w.meta["case:" + name] = json.dumps(o)

    # Max-pool with ties: small integers make many equal values per window.
    pools = [
        ("maxpool_ties", (2, 2, 7, 7), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=False)),
        ("maxpool_overlap", (1, 3, 6, 5), dict(kernel=[2, 2], stride=[1, 1], padding=[0, 0], ceil_mode=False)),
        ("maxpool_ceil", (2, 1, 7, 6), dict(kernel=[3, 2], stride=[2, 2], padding=[1, 1], ceil_mode=True)),
    ]
    for name, xs, o in pools:
        x = torch.floor(rnd(name + ".x", xs, 0.0, 3.0)).requires_grad_()
        y = F.max_pool2d(x, o["kernel"], o["stride"], o["padding"], ceil_mode=o["ceil_mode"])
        gy = rnd(name + ".gy", tuple(y.shape))
        y.backward(gy)
        for k, v in [("x", x), ("gy", gy), ("y", y), ("gx", x.grad)]:
            w.add(name + "." + k, v)
        w.meta["case:" + name] = json.dumps(o)

    avgs = [
        ("avgpool_pad", (2, 2, 7, 6), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=False, count_include_pad=True)),
        ("avgpool_exclude", (2, 2, 7, 6), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=False, count_include_pad=False)),
        ("avgpool_ceil", (1, 2, 7, 7), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=True, count_include_pad=True)),
    ]
    for name, xs, o in avgs:
        x = rnd(name + ".x", xs).requires_grad_()
        y = F.avg_pool2d(x, o["kernel"], o["stride"], o["padding"], ceil_mode=o["ceil_mode"], count_include_pad=o["count_include_pad"])
        gy = rnd(name + ".gy", tuple(y.shape))
        y.backward(gy)
        for k, v in [("x", x), ("gy", gy), ("y", y), ("gx", x.grad)]:
            w.add(name + "." + k, v)
        w.meta["case:" + name] = json.dumps(o)

    x = rnd("adaptive.x", (2, 3, 7, 5)).requires_grad_()
    y = F.adaptive_avg_pool2d(x, (3, 2))
    gy = rnd("adaptive.gy", tuple(y.shape))
    y.backward(gy)
    for k, v in [("x", x), ("gy", gy), ("y", y), ("gx", x.grad)]:
        w.add("adaptive." + k, v)
    w.meta["case:adaptive"] = json.dumps(dict(out=[3, 2]))

    # Batch norm: three training steps on different batches (running stats
    # after each), gradients on the third, then evaluation.
    bn = nn.BatchNorm2d(3, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(rnd("bn.weight", (3,), 0.5, 1.5))
        bn.bias.copy_(rnd("bn.bias", (3,)))
    bn.train()
    for step in range(3):
        x = rnd("bn.x%d" % step, (4, 3, 5, 4), -2.0, 3.0).requires_grad_()
        bn.zero_grad()
        y = bn(x)
        gy = rnd("bn.gy%d" % step, tuple(y.shape))
        y.backward(gy)
        w.add("bn.x%d" % step, x)
        w.add("bn.gy%d" % step, gy)
        w.add("bn.y%d" % step, y)
        w.add("bn.gx%d" % step, x.grad)
        w.add("bn.gweight%d" % step, bn.weight.grad)
        w.add("bn.gbias%d" % step, bn.bias.grad)
        w.add("bn.running_mean%d" % step, bn.running_mean)
        w.add("bn.running_var%d" % step, bn.running_var)
    w.add("bn.num_batches_tracked", bn.num_batches_tracked.reshape(1))
    bn.eval()
    xe = rnd("bn.xeval", (2, 3, 5, 4), -2.0, 3.0).requires_grad_()
    ye = bn(xe)
    gye = rnd("bn.gyeval", tuple(ye.shape))
    ye.backward(gye)
    for k, v in [("xeval", xe), ("gyeval", gye), ("yeval", ye), ("gxeval", xe.grad)]:
        w.add("bn." + k, v)
    w.add("bn.weight", rnd("bn.weight", (3,), 0.5, 1.5))
    w.add("bn.bias", rnd("bn.bias", (3,)))

    # Embedding with repeated indices.
    ids = torch.tensor([2, 0, 2, 5, 2, 0], dtype=torch.int64)
    ew = rnd("embedding.w", (6, 4)).requires_grad_()
    ey = F.embedding(ids, ew)
    egy = rnd("embedding.gy", tuple(ey.shape))
    ey.backward(egy)
    for k, v in [("ids", ids), ("w", ew), ("gy", egy), ("y", ey), ("gw", ew.grad)]:
        w.add("embedding." + k, v)

    # Cross-entropy with class weights, label smoothing and ignore index.
    logits0 = rnd("ce.logits", (6, 4), -3.0, 3.0)
    targets = torch.tensor([0, 3, 1, 1, 2, 3], dtype=torch.int64)
    weight = torch.tensor([0.5, 1.0, 2.0, 1.5])
    w.add("ce.logits", logits0)
    w.add("ce.targets", targets)
    w.add("ce.weight", weight)
    ce_cases = {
        "ce_plain": dict(weight=False, label_smoothing=0.0, ignore_index=-100, reduction="mean"),
        "ce_weight": dict(weight=True, label_smoothing=0.0, ignore_index=-100, reduction="mean"),
        "ce_smooth": dict(weight=False, label_smoothing=0.1, ignore_index=-100, reduction="mean"),
        "ce_weight_smooth": dict(weight=True, label_smoothing=0.2, ignore_index=-100, reduction="mean"),
        "ce_ignore": dict(weight=True, label_smoothing=0.1, ignore_index=1, reduction="mean"),
        "ce_sum": dict(weight=True, label_smoothing=0.1, ignore_index=-100, reduction="sum"),
    }
    for name, o in ce_cases.items():
        logits = logits0.clone().requires_grad_()
        loss = F.cross_entropy(logits, targets, weight=weight if o["weight"] else None,
                               ignore_index=o["ignore_index"], reduction=o["reduction"],
                               label_smoothing=o["label_smoothing"])
        loss.backward()
        w.add(name + ".loss", loss.reshape(1))
        w.add(name + ".glogits", logits.grad)
        w.meta["case:" + name] = json.dumps(o)

    w.write(os.path.join(OUT, "ops.safetensors"))


# --- `metacnn import torch` parity: real state_dicts, PNG files, logits. ---

IMPORT_DIR = os.path.join(OUT, "import")
IMPORT_IMAGES = 4

# Metadata rows per preset, as manifest strings (DESIGN.md: fed raw).
IMPORT_ROWS = {
    "seed-concat": [{"operator_id": v} for v in ["3", "7", "0", "9"]],
    "seed-scalebias": [{"temperature": v} for v in ["23.5", "-4.25", "41", "0.125"]],
    "seed-film": [{"m1": a, "m2": b} for a, b in [("0.5", "-1.25"), ("2", "0.75"), ("-0.3", "0.1"), ("1e-3", "3.5")]],
}


def png_bytes(width, height, rgb):
    """A minimal 8-bit RGB PNG (no filters) of rgb, a bytes of width*height*3."""
    import zlib

    def chunk(kind, body):
        c = struct.pack(">I", len(body)) + kind + body
        return c + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def import_image(k):
    """Image k: a colour gradient, a bright square whose place depends on k,
    and hashed noise, 56x56 RGB."""
    n = 56
    px = bytearray()
    for y in range(n):
        for x in range(n):
            for c in range(3):
                v = (x * (3 + c) + y * (5 - c) + 40 * k) % 200
                if 8 + 9 * k <= x < 24 + 9 * k and 20 <= y < 36:
                    v = 230 - 20 * c
                v += int(50 * hashu(((k * n + y) * n + x) * 3 + c, salt_of("import.image")))
                px.append(min(255, v))
    return bytes(px)


def read_png(path):
    """The float32 [3, 56, 56] input of a PNG: pixels / 255, no other
    normalisation. Decoded with PIL when available (a check on the writer),
    else taken from the pixels written."""
    try:
        from PIL import Image
    except ImportError:
        return None
    img = Image.open(path).convert("RGB")
    t = torch.tensor(list(img.tobytes()), dtype=torch.uint8).reshape(56, 56, 3)
    return t.permute(2, 0, 1).to(torch.float32) / 255


def import_golden():
    """For each seed preset: a torch-initialised model (torch.manual_seed),
    its state_dict() saved in the safetensors layout, and the logits of
    IMPORT_IMAGES PNGs with the preset's metadata rows. The state_dicts are
    stored in float16 (model.half().state_dict()) to keep the files small;
    the logits come from the same weights in float32, so the import (which
    converts F16 to F32 exactly) must reproduce them to 1e-4."""
    os.makedirs(IMPORT_DIR, exist_ok=True)
    names, images = [], []
    for k in range(IMPORT_IMAGES):
        name = "img%d.png" % k
        rgb = import_image(k)
        path = os.path.join(IMPORT_DIR, name)
        with open(path, "wb") as f:
            f.write(png_bytes(56, 56, rgb))
        x = torch.tensor(list(rgb), dtype=torch.uint8).reshape(56, 56, 3).permute(2, 0, 1).to(torch.float32) / 255
        pil = read_png(path)
        if pil is not None and not torch.equal(pil, x):
            raise SystemExit("PIL decodes %s differently from the pixels written" % path)
        names.append(name)
        images.append(x)
    images = torch.stack(images)

    cases = {}
    for i, (arch, cls) in enumerate([("seed-concat", CNNWithMetadataConcatenation),
                                      ("seed-scalebias", CNNWithMetadataConditioning),
                                      ("seed-film", CNNWithFiLM)]):
        torch.manual_seed(1000 + i)
        model = cls()
        w = Writer()
        for name, t in model.half().state_dict().items():
            w.add(name, t, sample=False)
        weights = arch.replace("-", "_") + ".safetensors"
        w.write(os.path.join(IMPORT_DIR, weights))
        model.float().eval()
        rows = IMPORT_ROWS[arch]
        if arch == "seed-concat":
            m = torch.tensor([int(r["operator_id"]) for r in rows], dtype=torch.int64)
        else:
            m = torch.tensor([[float(v) for v in r.values()] for r in rows], dtype=torch.float32)
        with torch.no_grad():
            logits = model(images, m)
        cases[arch] = {"weights": weights, "rows": rows, "logits": [[float(v) for v in r] for r in logits]}
    doc = {
        "source": "testdata/torch/gen.py import_golden, PyTorch " + torch.__version__,
        "images": names,
        "presets": cases,
    }
    path = os.path.join(IMPORT_DIR, "cases.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", path)


# --- torchvision resnet18 parity: a state_dict with hashed values. ---


def hashed_np(shape, salt, lo, hi):
    """hashed() vectorised with numpy, for the large tensors of resnet18;
    element for element the same values."""
    import numpy as np

    n = math.prod(shape)
    h = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B9) + np.uint64(salt)) & np.uint64(MASK)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(MASK)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(MASK)
    h ^= h >> np.uint64(16)
    u = h.astype(np.float64) / 4294967296.0
    return torch.from_numpy(lo + (hi - lo) * u).to(torch.float32).reshape(shape)


def resnet_value(name, shape):
    """The hashed value of a torchvision resnet state_dict entry (Go:
    model/torchvision_test.go): convolutions and fc U(±√(6/fan_in)), batch
    norm weight U(0.5, 1.5), bias and running_mean U(-0.2, 0.2),
    running_var U(0.5, 1.5), num_batches_tracked 7."""
    salt = salt_of(name)
    if name.endswith("num_batches_tracked"):
        return torch.tensor(7, dtype=torch.int64)
    if name.endswith("running_var") or (len(shape) == 1 and name.endswith("weight")):
        return hashed_np(shape, salt, 0.5, 1.5)
    if len(shape) == 1:
        return hashed_np(shape, salt, -0.2, 0.2)
    bound = math.sqrt(6.0 / math.prod(shape[1:]))
    return hashed_np(shape, salt, -bound, bound)


def torchvision_golden():
    """torchvision's resnet18 (random init, nothing downloaded) with every
    state_dict entry set to resnet_value: the state_dict's names, shapes and
    dtypes in order (metadata "state_dict", JSON), and in evaluation mode the
    pooled features (the input of fc) and layer1's output (sampled) for two
    hashed 3x112x112 images."""
    try:
        import torchvision
    except ImportError:
        print("torchvision is not installed (Debian python3-torchvision): skipping resnet18")
        return
    model = torchvision.models.resnet18()
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            t.copy_(resnet_value(name, tuple(t.shape)))
    model.eval()
    x = hashed((2, 3, 112, 112), salt_of("resnet.images"), 0.0, 1.0)
    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        l1 = model.layer1(h)
        f = model.avgpool(model.layer4(model.layer3(model.layer2(l1)))).flatten(1)
    w = Writer()
    w.add("features", f)
    w.add("layer1", l1)
    w.meta["state_dict"] = json.dumps([[n, list(t.shape), "I64" if t.dtype == torch.int64 else "F32"] for n, t in sd.items()])
    w.meta["torchvision"] = torchvision.__version__
    w.write(os.path.join(OUT, "resnet18.safetensors"))


if __name__ == "__main__":
    # Set here, not at import, so that bench/compare.py can import the models
    # without changing torch's global state.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    print("torch", torch.__version__)
    seed_golden("concat", CNNWithMetadataConcatenation)
    seed_golden("scalebias", CNNWithMetadataConditioning)
    seed_golden("film", CNNWithFiLM)
    ops_golden()
    import_golden()
    torchvision_golden()
