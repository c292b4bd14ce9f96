#!/usr/bin/env bash
# Checks `metacnn export torch` against PyTorch: builds the supported models of
# interop/onnx/check (seed backbone with fusion none/concat/scalebias/film, the
# seed presets, and the presets with the document's PyTorch weights), exports
# each with `metacnn export torch`, loads the packages in PyTorch and compares
# the logits with metacnn's own to 1e-4. Prints a table; exit status 1 when a
# case fails.
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
cases=seed-none,seed-concat,seed-scalebias,seed-scalebias-raw,seed-film,seed-film-raw,seed-film-hidden,seed-bn-film12-concat-md
cases=$cases,preset-seed-concat,preset-seed-scalebias,preset-seed-film,pytorch-seed-concat,pytorch-seed-scalebias,pytorch-seed-film

cd "$root"
go build -o "$out/metacnn" ./cmd/metacnn
go run ./interop/onnx/check -out "$out" -only "$cases"
for name in ${cases//,/ }; do
  "$out/metacnn" export torch --model "$out/$name.mcnn" --out "$out/$name.torch" >/dev/null
done
echo "models, packages, inputs and expected logits in $out"
$py "$root/interop/torch/check/check.py" "$out"
