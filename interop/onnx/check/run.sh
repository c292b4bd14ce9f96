#!/usr/bin/env bash
# Checks metacnn's ONNX export against ONNX Runtime: builds a random model per
# backbone and fusion kind (and the seed presets), exports each with
# `metacnn export onnx`, runs them in onnxruntime-node and compares the logits
# with metacnn's own to 1e-4. Prints a table; exit status 1 when a case fails.
#
#   interop/onnx/check/run.sh [DIR]      (from the repository root; DIR defaults to a temp dir)
#
# Needs Go and Node.js; installs onnxruntime-node 1.30.0 (npm, --ignore-scripts)
# into interop/onnx/check/node_modules on first use.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
here="$root/interop/onnx/check"
out=${1:-$(mktemp -d -t metacnn-onnx-check.XXXXXX)}
mkdir -p "$out"

if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  (cd "$here" && npm install --ignore-scripts --no-package-lock --no-audit --no-fund >/dev/null)
fi

cd "$root"
go build -o "$out/metacnn" ./cmd/metacnn
go run ./interop/onnx/check -out "$out"
for name in $(node -e 'for (const n of JSON.parse(require("fs").readFileSync(process.argv[1]))) console.log(n)' "$out/cases.json"); do
  "$out/metacnn" export onnx --model "$out/$name.mcnn" --out "$out/$name.onnx" >/dev/null
done
echo "models, inputs and expected logits in $out"
node "$here/check.js" "$out"
