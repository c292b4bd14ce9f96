#!/usr/bin/env bash
# Checks train_ddp.py, the fine-tuning script `metacnn export torch` writes,
# against metacnn itself:
#
#   1. data: builds metacnn, generates a small dataset (datagen inspection
#      --n 240), adds metadata columns of every type, encoding, option and
#      missing policy the meta package has, extra images and bad rows
#      (make_rows.py), trains seven models briefly (config a; b, c, d with
#      other image preprocessing; r with batch norms; e without random draws;
#      s with a 1x1 batch norm) and exports them with export torch;
#   2. encoding: train_ddp.py's encoding of check.csv (and check.jsonl) must
#      equal metacnn's bit for bit (the encode program, which uses the data
#      and meta packages as predict does): the same rows and bad rows, the
#      same image, metadata, ids and metadata_missing tensors and warnings.
#      JPEG rows, whose decoders differ, must agree within 8 levels; and
#      train_ddp.py's versions of the Go functions the encoders rest on
#      (ParseFloat, Atoi, Sin, Cos, Log1p, time.Parse, FormatFloat, JSON
#      float32, Quote) must give Go's results on about 94,000 values;
#   3. prediction: metacnn predict and train_ddp.py --predict on check.csv
#      and check.jsonl: the same rows and labels, logits within 1e-4
#      (relative to max(1, |logit|));
#   4. DDP: torchrun with 2 processes (gloo) trains 5 steps and writes the
#      weights; every rank's parameters, and those in the file, must be
#      identical and the losses finite; --resume continues to step 8 and
#      must give the parameters an uninterrupted 8-step run gives; one
#      process on check.csv skips its bad rows with --on-bad-row skip, stops
#      with a message naming row and column under error, and a usage error
#      exits 2; the loss is metacnn's over the global batch: one SGD step of
#      2 processes with batch 8 and class weights equals that of 1 process
#      with batch 16 (config e, nothing random); batches of one row that a
#      batch norm cannot normalise (config s, whose last stage is 1x1) and
#      batches whose images fail to decode are skipped and counted, the
#      other rank training (2 processes on mixed.csv), and a process with
#      nothing to train on changes no weight or statistic (broken.csv); a
#      bad image under --on-bad-row error in one rank stops both, reported
#      once and without a traceback; --out checks (a directory, a file as
#      directory) come before the work, and --predict on a header alone
#      gives 0 rows as metacnn predict does;
#   5. round trip: the DDP-trained weights of step 4 (config a), and those of
#      a ResNet-8 with batch norms, a conditional batch norm and a gate
#      (config r) trained with torchrun for 4 steps, are imported with
#      metacnn import torch --spec; metacnn predict with the imported model
#      and train_ddp.py --predict with the trained weights must give the same
#      rows and labels and logits within 1e-4, and the logits must have moved
#      from those of the exported (untrained) model by more than 1e-3.
#
# Prints a table; exit status 1 when a check fails.
#
#   interop/torch/check/train_check.sh [DIR]     (from anywhere; DIR defaults to a temp dir)
#
# Needs Go and Python 3 with PyTorch, numpy and PIL (PYTHON, default python3;
# a command line such as "env -u OPENBLAS_CORETYPE /usr/bin/python3" works).
# torchrun is run as "$PYTHON -m torch.distributed.run --redirects 1 --tee 1"
# unless TORCHRUN is set: the redirect flags work around PyTorch 1.13's
# torchrun on Python 3.11, which fails with "'NoneType' object has no
# attribute 'get'" when they are left at their default.
set -uo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$(mktemp -d -t metacnn-train-check.XXXXXX)}
py=${PYTHON:-python3}
here="$root/interop/torch/check"
mkdir -p "$out"
out=$(cd "$out" && pwd)
torchrun=${TORCHRUN:-$py -m torch.distributed.run --redirects 1 --tee 1 --log_dir $out/torchrun-logs}
data="$out/data"
failed=0
rows=()

# record STEP RESULT DETAIL
record() {
  rows+=("$1"$'\t'"$2"$'\t'"$3")
  if [ "$2" != ok ]; then failed=1; fi
}

# run NAME CMD...: runs CMD with its output in $out/NAME.log, which is shown
# when it fails.
run() {
  local name=$1
  shift
  if "$@" >"$out/$name.log" 2>&1; then
    return 0
  fi
  echo "--- $name failed: $*" >&2
  tail -n 30 "$out/$name.log" >&2
  return 1
}

summary() {
  echo
  printf '%-34s %-6s %s\n' "check" "result" "detail"
  for r in "${rows[@]}"; do
    IFS=$'\t' read -r step result detail <<<"$r"
    printf '%-34s %-6s %s\n' "$step" "$result" "$detail"
  done
  if [ "$failed" = 0 ]; then
    echo "all checks pass (files in $out)"
  else
    echo "some checks FAIL (files in $out)"
  fi
}

cd "$root"
echo "metacnn: $root; files: $out"
if ! $py -c 'import torch, numpy, PIL; print("python", __import__("sys").version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__, "PIL", PIL.__version__)'; then
  echo "train_check.sh: $py cannot import torch, numpy and PIL; set PYTHON to an interpreter that can" >&2
  exit 1
fi

# --- 1. data, models, packages -------------------------------------------------
t0=$SECONDS
step1=ok
detail1=""
if ! run build go build -o "$out/metacnn" ./cmd/metacnn || ! run build-encode go build -o "$out/encode" ./interop/torch/check/encode; then
  record "1 build, data, train, export" FAIL "go build"
  summary
  exit 1
fi
rm -rf "$data"
if run datagen "$out/metacnn" datagen inspection --out "$data" --n 240 --seed 1 && run make_rows $py "$here/make_rows.py" "$data"; then
  for v in a b c d r e s; do
    if ! run "train-$v" "$out/metacnn" train --config "$data/config-$v.yaml" --out "$data/$v.mcnn" --steps 2 --workers 2 ||
      ! run "export-$v" "$out/metacnn" export torch --model "$data/$v.mcnn" --out "$out/$v.torch"; then
      step1=FAIL
      detail1="$detail1 model $v;"
    fi
  done
else
  step1=FAIL
  detail1="datagen or make_rows;"
fi
if [ "$step1" = ok ]; then
  detail1="$(tail -n 1 "$out/make_rows.log" | sed 's/^wrote [^:]*: //'); 7 models exported ($((SECONDS - t0))s)"
  record "1 build, data, train, export" ok "$detail1"
else
  record "1 build, data, train, export" FAIL "$detail1"
  summary
  exit 1
fi

# --- 2. encoding: train_ddp.py vs metacnn, bit for bit ---------------------------
# compare NAME MODEL MANIFEST [compare_encoding.py flags]
compare() {
  local name=$1 model=$2 manifest=$3
  shift 3
  if ! run "encode-$name" "$out/encode" -model "$data/$model.mcnn" -data "$data/$manifest" -out "$out/go-$name.json"; then
    record "2 encoding $name" FAIL "the encode program failed"
    return
  fi
  if $py "$here/compare_encoding.py" "$out/$model.torch" "$out/go-$name.json" "$data/$manifest" --name "$name" "$@" >"$out/compare-$name.log" 2>&1; then
    record "2 encoding $name" ok "$(head -n 1 "$out/compare-$name.log" | sed 's/^[^:]*: //')"
  else
    cat "$out/compare-$name.log" >&2
    record "2 encoding $name" FAIL "$(head -n 1 "$out/compare-$name.log")"
  fi
}
compare a-csv a check.csv
compare a-jsonl a check.jsonl
compare b-csv b check.csv
compare c-csv c check.csv
compare d-csv d check.csv
compare a-jpeg a jpeg.csv --tolerance-levels 8
if $py "$here/compare_primitives.py" "$out/a.torch" "$out/encode" >"$out/compare-primitives.log" 2>&1; then
  record "2 encoding primitives" ok "$(head -n 1 "$out/compare-primitives.log" | sed 's/^[^:]*: //')"
else
  cat "$out/compare-primitives.log" >&2
  record "2 encoding primitives" FAIL "$(head -n 1 "$out/compare-primitives.log")"
fi

# --- 3. prediction: metacnn predict vs train_ddp.py --predict -------------------
# predict NAME MANIFEST
predict() {
  local name=$1 manifest=$2
  if ! run "predict-go-$name" "$out/metacnn" predict --model "$data/a.mcnn" --data "$data/$manifest" --on-bad-row skip --out "$out/pred-go-$name.jsonl" ||
    ! run "predict-py-$name" $py "$out/a.torch/train_ddp.py" --predict "$data/$manifest" --on-bad-row skip --out "$out/pred-py-$name.jsonl"; then
    record "3 predict $name" FAIL "a predict run failed"
    return
  fi
  if $py "$here/compare_predictions.py" "$out/pred-go-$name.jsonl" "$out/pred-py-$name.jsonl" --name "$name" --package "$out/a.torch" \
    >"$out/compare-pred-$name.log" 2>&1; then
    record "3 predict $name" ok "$(head -n 1 "$out/compare-pred-$name.log" | sed 's/^[^:]*: //')"
  else
    cat "$out/compare-pred-$name.log" >&2
    record "3 predict $name" FAIL "$(head -n 1 "$out/compare-pred-$name.log")"
  fi
}
predict csv check.csv
predict jsonl check.jsonl

# --- 4. DDP --------------------------------------------------------------------
script="$out/a.torch/train_ddp.py"
common=(--train "$data/train_x.csv" --val "$data/val_x.csv" --backend gloo --batch-size 16 --workers 1 --log-every 1
  --out "$out/ddp.safetensors" --checkpoint "$out/ddp.ckpt")
rm -f "$out/ddp.safetensors" "$out/ddp.ckpt"
t0=$SECONDS
if run ddp $torchrun --standalone --nproc_per_node=2 "$script" "${common[@]}" --steps 5 &&
  $py "$here/check_ddp.py" "$out/a.torch" "$out/ddp.log" "$out/ddp.safetensors" --ranks 2 --steps 5 --name "5 steps" >"$out/check-ddp.log" 2>&1; then
  record "4 ddp 2 processes, 5 steps" ok "$(sed 's/^[^:]*: //' "$out/check-ddp.log" | head -n 1) ($((SECONDS - t0))s)"
else
  cat "$out/check-ddp.log" >&2 2>/dev/null
  record "4 ddp 2 processes, 5 steps" FAIL "$(head -n 1 "$out/check-ddp.log" 2>/dev/null)"
fi
t0=$SECONDS
sha() { grep -o "rank 0/2: parameters sha256 [0-9a-f]*" "$1" | awk '{print $NF}'; }
if run ddp-resume $torchrun --standalone --nproc_per_node=2 "$script" "${common[@]}" --steps 8 --resume &&
  grep -q "resuming from .*step 5" "$out/ddp-resume.log" &&
  $py "$here/check_ddp.py" "$out/a.torch" "$out/ddp-resume.log" "$out/ddp.safetensors" --ranks 2 --steps 8 --name "resume to 8" >"$out/check-ddp-resume.log" 2>&1 &&
  run ddp-straight $torchrun --standalone --nproc_per_node=2 "$script" "${common[@]}" --steps 8 --out "$out/ddp8.safetensors" --checkpoint "$out/ddp8.ckpt" &&
  [ -n "$(sha "$out/ddp-resume.log")" ] && [ "$(sha "$out/ddp-resume.log")" = "$(sha "$out/ddp-straight.log")" ]; then
  record "4 ddp --resume, steps 6-8" ok "$(sed 's/^[^:]*: //' "$out/check-ddp-resume.log" | head -n 1); equal to an uninterrupted 8-step run ($((SECONDS - t0))s)"
else
  cat "$out/check-ddp-resume.log" >&2 2>/dev/null
  record "4 ddp --resume, steps 6-8" FAIL "$(head -n 1 "$out/check-ddp-resume.log" 2>/dev/null); resumed $(sha "$out/ddp-resume.log"), uninterrupted $(sha "$out/ddp-straight.log" 2>/dev/null)"
fi

# Bad rows: skipped and counted, or a stop naming row and column; usage errors exit 2.
one=(--train "$data/check.csv" --steps 1 --workers 0 --out "$out/bad.safetensors")
if run bad-skip $py "$script" "${one[@]}" --on-bad-row skip && grep -q "train $data/check.csv: .* skipped (" "$out/bad-skip.log"; then
  record "4 bad rows, skip" ok "$(grep "train $data/check.csv:" "$out/bad-skip.log" | sed "s|^train $data/||")"
else
  record "4 bad rows, skip" FAIL "see $out/bad-skip.log"
fi
$py "$script" "${one[@]}" --on-bad-row error >"$out/bad-error.log" 2>&1
code=$?
if [ "$code" = 1 ] && grep -q "bad rows.*(use --on-bad-row=skip" "$out/bad-error.log" && grep -q ': row [0-9]*: column "' "$out/bad-error.log" &&
  ! grep -q Traceback "$out/bad-error.log"; then
  record "4 bad rows, error" ok "exit 1: $(grep -m 1 ': row [0-9]*: column "' "$out/bad-error.log" | sed "s|$data/||; s/^ *//")"
else
  record "4 bad rows, error" FAIL "exit $code; see $out/bad-error.log"
fi
$py "$script" --train "$data/train_x.csv" --steps 0 >"$out/usage.log" 2>&1
code=$?
if [ "$code" = 2 ] && ! grep -q Traceback "$out/usage.log"; then
  record "4 usage error" ok "exit 2: $(tail -n 1 "$out/usage.log")"
else
  record "4 usage error" FAIL "exit $code; see $out/usage.log"
fi

# The loss over the global batch: 2 processes x 8 rows = 1 process x 16 rows (the
# same rows: DistributedSampler deals the same permutation), with class weights.
t0=$SECONDS
lossnorm=(--train "$data/train_x.csv" --steps 1 --workers 0 --optimizer sgd --momentum 0 --weight-decay 0 --lr 0.5
  --class-weights inverse-frequency --log-every 1)
if run ddp-loss2 $torchrun --standalone --nproc_per_node=2 "$out/e.torch/train_ddp.py" "${lossnorm[@]}" --backend gloo --batch-size 8 --out "$out/loss2.safetensors" &&
  run ddp-loss1 $py "$out/e.torch/train_ddp.py" "${lossnorm[@]}" --batch-size 16 --out "$out/loss1.safetensors" &&
  $py "$here/compare_weights.py" "$out/e.torch" "$out/loss2.safetensors" "$out/loss1.safetensors" --name "2x8 vs 1x16" >"$out/compare-loss.log" 2>&1; then
  record "4 ddp loss over the global batch" ok "$(head -n 1 "$out/compare-loss.log" | sed 's/^[^:]*: //') ($((SECONDS - t0))s)"
else
  cat "$out/compare-loss.log" >&2 2>/dev/null
  record "4 ddp loss over the global batch" FAIL "$(head -n 1 "$out/compare-loss.log" 2>/dev/null)"
fi

# Batches of one row with a 1x1 batch norm, and batches without a decoded image.
t0=$SECONDS
if run ddp-onerow $torchrun --standalone --nproc_per_node=2 "$out/s.torch/train_ddp.py" --train "$data/mixed.csv" --on-bad-row skip \
  --backend gloo --batch-size 2 --workers 0 --steps 2 --log-every 1 --out "$out/onerow.safetensors" &&
  $py "$here/check_ddp.py" "$out/s.torch" "$out/ddp-onerow.log" "$out/onerow.safetensors" --ranks 2 --steps 2 --name "one-row batches" >"$out/check-onerow.log" 2>&1 &&
  grep -q "^\(\[default0\]:\)\?2 batches of a single row skipped: batch norm needs 2 or more values per channel" "$out/ddp-onerow.log"; then
  record "4 ddp one-row batches skipped" ok "$(grep -o "2 batches of a single row skipped: [^(]*[^ (]" "$out/ddp-onerow.log" | head -n 1); the other rank trains: $(sed 's/^[^:]*: //; s/, parameters sha256.*(/ (/' "$out/check-onerow.log" | head -n 1) ($((SECONDS - t0))s)"
else
  cat "$out/check-onerow.log" >&2 2>/dev/null
  record "4 ddp one-row batches skipped" FAIL "$(head -n 1 "$out/check-onerow.log" 2>/dev/null); see $out/ddp-onerow.log"
fi
if run undecodable $py "$out/s.torch/train_ddp.py" --train "$data/broken.csv" --on-bad-row skip --batch-size 2 --workers 0 --steps 2 \
  --out "$out/undecodable.safetensors" && grep -q "^2 batches skipped: none of their images decoded" "$out/undecodable.log" &&
  $py "$here/compare_weights.py" "$out/s.torch" "$out/undecodable.safetensors" --unchanged --name "no image decoded" >"$out/compare-undecodable.log" 2>&1; then
  record "4 no image decoded, one process" ok "2 batches skipped; $(sed 's/^[^:]*: //' "$out/compare-undecodable.log")"
else
  cat "$out/compare-undecodable.log" >&2 2>/dev/null
  record "4 no image decoded, one process" FAIL "$(head -n 1 "$out/compare-undecodable.log" 2>/dev/null); see $out/undecodable.log"
fi

# A bad image in one rank under --on-bad-row error stops both, reported once.
$torchrun --standalone --nproc_per_node=2 "$out/s.torch/train_ddp.py" --train "$data/mixed.csv" --backend gloo --batch-size 2 \
  --workers 0 --steps 2 --out "$out/ddp-stop.safetensors" >"$out/ddp-stop.log" 2>&1
code=$?
reports=$(grep -c "train_ddp.py: 1 bad row (use --on-bad-row=skip" "$out/ddp-stop.log")
if [ "$code" != 0 ] && [ "$reports" = 1 ] && grep -q 'mixed.csv: row 5: column "path": .*truncated.png: image cannot be decoded' "$out/ddp-stop.log" &&
  ! grep -q 'train_ddp.py", line\|Connection closed' "$out/ddp-stop.log"; then
  record "4 ddp bad row, error" ok "exit $code, reported once, no traceback from a rank: mixed.csv: row 5: $(grep -o 'truncated.png: .*' "$out/ddp-stop.log" | head -n 1)"
else
  record "4 ddp bad row, error" FAIL "exit $code, $reports reports; see $out/ddp-stop.log"
fi

# Output paths are checked before the work; --predict on a header alone.
probs=""
mkdir -p "$out/outdir"
: >"$out/afile"
$py "$script" --predict "$data/check.csv" --out "$out/outdir" >"$out/out-dir.log" 2>&1
code=$?
{ [ "$code" = 2 ] && grep -q "is a directory" "$out/out-dir.log"; } || probs="$probs --predict --out DIR exit $code;"
$py "$script" --train "$data/train_x.csv" --steps 1 --workers 0 --out "$out/afile/w.safetensors" >"$out/out-file.log" 2>&1
code=$?
{ [ "$code" = 1 ] && grep -q "afile is not a directory" "$out/out-file.log" && ! grep -q "^training:" "$out/out-file.log"; } ||
  probs="$probs --out FILE/x exit $code;"
$py "$script" --predict "$data/header.csv" --out "$out/empty.jsonl" >"$out/out-empty.log" 2>&1
code=$?
{ [ "$code" = 0 ] && grep -q "header.csv: 0 rows, 0 predicted, 0 bad" "$out/out-empty.log" && [ -f "$out/empty.jsonl" ] && [ ! -s "$out/empty.jsonl" ]; } ||
  probs="$probs --predict header.csv exit $code;"
if [ -z "$probs" ] && ! grep -q Traceback "$out"/out-*.log; then
  record "4 output paths, empty input" ok "--out DIR exit 2; --out FILE/x exit 1 before training; header.csv: 0 rows, 0 predicted"
else
  record "4 output paths, empty input" FAIL "$probs see $out/out-*.log"
fi

# --- 5. round trip: export -> train in PyTorch -> import -> metacnn predict ---------
# roundtrip NAME MODEL WEIGHTS: imports WEIGHTS into MODEL's package and
# compares metacnn's predictions on check.csv with PyTorch's.
roundtrip() {
  local name=$1 model=$2 weights=$3
  if ! run "rt-import-$name" "$out/metacnn" import torch --spec "$out/$model.torch" --weights "$weights" --out "$out/rt-$name.mcnn" ||
    ! run "rt-before-$name" "$out/metacnn" predict --model "$data/$model.mcnn" --data "$data/check.csv" --on-bad-row skip --out "$out/rt-before-$name.jsonl" ||
    ! run "rt-go-$name" "$out/metacnn" predict --model "$out/rt-$name.mcnn" --data "$data/check.csv" --on-bad-row skip --out "$out/rt-go-$name.jsonl" ||
    ! run "rt-py-$name" $py "$out/$model.torch/train_ddp.py" --predict "$data/check.csv" --weights "$weights" --on-bad-row skip --out "$out/rt-py-$name.jsonl"; then
    record "5 round trip $name" FAIL "import or a predict run failed"
    return
  fi
  if $py "$here/compare_predictions.py" "$out/rt-go-$name.jsonl" "$out/rt-py-$name.jsonl" --name "$name" \
    --moved-from "$out/rt-before-$name.jsonl" >"$out/compare-rt-$name.log" 2>&1; then
    record "5 round trip $name" ok "$(head -n 1 "$out/compare-rt-$name.log" | sed 's/^[^:]*: //')"
  else
    cat "$out/compare-rt-$name.log" >&2
    record "5 round trip $name" FAIL "$(head -n 1 "$out/compare-rt-$name.log")"
  fi
}
if [ -f "$out/ddp.safetensors" ]; then
  roundtrip "seed film+concat (a)" a "$out/ddp.safetensors"
else
  record "5 round trip seed film+concat (a)" FAIL "step 4 wrote no weights"
fi
t0=$SECONDS
if run ddp-r $torchrun --standalone --nproc_per_node=2 "$out/r.torch/train_ddp.py" --train "$data/train_x.csv" --backend gloo \
  --batch-size 16 --workers 1 --steps 4 --lr 1e-3 --out "$out/ddp-r.safetensors"; then
  roundtrip "resnet8 cbn+gate (r)" r "$out/ddp-r.safetensors"
else
  record "5 round trip resnet8 cbn+gate (r)" FAIL "torchrun failed; see $out/ddp-r.log"
fi

summary
exit "$failed"
