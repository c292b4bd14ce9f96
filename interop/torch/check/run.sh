#!/usr/bin/env bash
# Checks `metacnn export torch` against PyTorch: builds every model of
# interop/onnx/check (one per backbone, seed and resnet, and fusion kind and
# option, a few combinations, the seed presets, and the presets with the
# document's PyTorch weights), exports each with `metacnn export torch`,
# loads the packages in PyTorch, compares the logits with metacnn's own to
# 1e-4 and checks each module in training mode (see check.py). Prints a
# table; exit status 1 when a case fails.
#
#   interop/torch/check/run.sh [DIR]     (from anywhere; DIR defaults to a temp dir)
#
# Needs Go and Python 3 with PyTorch (PYTHON, default python3; a command
# line such as "env -u OPENBLAS_CORETYPE /usr/bin/python3" works).
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$(mktemp -d -t metacnn-torch-check.XXXXXX)}
py=${PYTHON:-python3}
mkdir -p "$out"

cd "$root"
go build -o "$out/metacnn" ./cmd/metacnn
go run ./interop/onnx/check -out "$out"
# cases.json is a JSON list of names without spaces or quotes.
for name in $(tr -d '[]"' <"$out/cases.json" | tr ',' ' '); do
  "$out/metacnn" export torch --model "$out/$name.mcnn" --out "$out/$name.torch" >/dev/null
done
echo "models, packages, inputs and expected logits in $out"
$py "$root/interop/torch/check/check.py" "$out"
