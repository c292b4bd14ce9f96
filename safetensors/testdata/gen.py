"""Write the reference safetensors files that safetensors_test.go decodes.

Run from anywhere with the system Python that has PyTorch 1.13:

    /usr/bin/python3 safetensors/testdata/gen.py

The `safetensors` Python package is not installed on the machine these files
were made on, so this script writes the files itself with `struct` + `json`,
reproducing the layout of the reference Rust implementation
(safetensors 0.4, `serialize` / `prepare`):

  * tensors are ordered by dtype, largest enum value first, then by name
    (Rust sorts with `right.dtype().cmp(&left.dtype()).then(lname.cmp(rname))`
    over `enum Dtype { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16,
    I32, U32, F32, F64, I64, U64 }`), and the data buffer follows that order;
  * the header is compact JSON (serde_json: no spaces, non-ASCII unescaped),
    "__metadata__" first, each tensor as {"dtype", "shape", "data_offsets"};
  * the header is padded with spaces to a multiple of 8 bytes and preceded by
    its length as a little-endian uint64.

Tensor bytes come from PyTorch tensors (`.numpy().tobytes()`, little-endian),
as torch's own `save_file` would store them.
"""

import json
import os
import struct

import torch

RUST_DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16",
                    "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16; same bits as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def serialize(tensors, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: kv[0])
    items.sort(key=lambda kv: RUST_DTYPE_ORDER.index(DTYPES[kv[1].dtype]), reverse=True)
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    buf = b""
    for name, t in items:
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [len(buf), len(buf) + len(data)]}
        buf += data
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + buf


def main():
    here = os.path.dirname(os.path.abspath(__file__))

    mixed = {
        "conv.weight": torch.arange(8, dtype=torch.float32).reshape(2, 1, 2, 2) * 0.25 - 1,
        "fc.bias": torch.tensor([0.1, -2.5, 1e10], dtype=torch.float64),
        "half": torch.tensor([[1.5, -2.0 ** -10], [65504.0, 2.0 ** -24]], dtype=torch.float16),
        "bf": torch.tensor([1.0, -3.140625, 2.0 ** 100], dtype=torch.bfloat16),
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "ids": torch.tensor([-2 ** 31, -1, 0, 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "mask": torch.tensor([[True, False], [False, True]]),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    with open(os.path.join(here, "reference.safetensors"), "wb") as f:
        f.write(serialize(mixed, {"format": "pt"}))

    # Only F32 tensors: the reference order is then plain name order, which
    # is what Encode writes, so Encode must reproduce this file byte for byte.
    f32 = {
        "b": torch.tensor([0.5, -1.0], dtype=torch.float32),
        "a.weight": torch.tensor([[1.0, 2.0, 3.0], [-4.0, 5.5, 1e-3]], dtype=torch.float32),
        "scalar": torch.tensor(3.25, dtype=torch.float32),
    }
    with open(os.path.join(here, "reference_f32.safetensors"), "wb") as f:
        f.write(serialize(f32, {"format": "pt"}))


if __name__ == "__main__":
    main()
