#!/usr/bin/env node
// Runs every exported model listed in DIR/cases.json in ONNX Runtime and
// compares its logits with metacnn's (DIR/<name>.json, written by
// `go run ./interop/onnx/check`). For each case it runs the whole batch and
// then row 0 alone (the batch dimension is dynamic), checks that the
// session's inputs are the ones the sidecar (<name>.onnx.json) lists, and
// prints one table row. It also runs the batch with the metadata inputs'
// rows rotated by one (row i gets row i+1's metadata) and reports how much
// the logits move ("meta Δ"): a model with metadata inputs must react by
// more than EFFECT, so a graph that dropped its metadata path cannot pass
// on the strength of small fusion weights. A case passes when every logit
// is within TOL of metacnn's, |ort - metacnn| <= TOL * max(1, |metacnn|),
// and meta Δ > EFFECT where there are metadata inputs. Exit status 1 when
// any case fails.
//
//   node interop/onnx/check/check.js DIR
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const TOL = 1e-4;
const EFFECT = 1e-3;

function tensorOf(a, rows) {
  const shape = a.shape.slice();
  let data = a.data;
  if (rows !== undefined) {
    const per = data.length / shape[0];
    data = data.slice(0, rows * per);
    shape[0] = rows;
  }
  if (a.dtype === 'int64') {
    return new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), shape);
  }
  return new ort.Tensor('float32', Float32Array.from(data), shape);
}

function rotated(a) {
  const per = a.data.length / a.shape[0];
  const d = a.data.slice(per).concat(a.data.slice(0, per));
  return { dtype: a.dtype, shape: a.shape, data: d };
}

function compare(got, want) {
  let maxAbs = 0, maxErr = 0, maxLogit = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    maxAbs = Math.max(maxAbs, d);
    maxErr = Math.max(maxErr, d / Math.max(1, Math.abs(want[i])));
    maxLogit = Math.max(maxLogit, Math.abs(want[i]));
  }
  return { maxAbs, maxErr, maxLogit };
}

async function runCase(dir, name) {
  const c = JSON.parse(fs.readFileSync(path.join(dir, name + '.json'), 'utf8'));
  const onnxPath = path.join(dir, name + '.onnx');
  const sidecar = JSON.parse(fs.readFileSync(onnxPath + '.json', 'utf8'));
  const sess = await ort.InferenceSession.create(onnxPath, { graphOptimizationLevel: 'all' });
  const problems = [];
  const want = sidecar.inputs.map((i) => i.name);
  if (JSON.stringify(sess.inputNames) !== JSON.stringify(want)) {
    problems.push(`session inputs ${sess.inputNames} != sidecar ${want}`);
  }
  for (const n of sess.inputNames) {
    if (!c.inputs[n]) problems.push(`no data for input ${n}`);
  }
  const feeds = {}, one = {};
  for (const n of sess.inputNames) {
    if (!c.inputs[n]) continue;
    feeds[n] = tensorOf(c.inputs[n]);
    one[n] = tensorOf(c.inputs[n], 1);
  }
  let res = { maxAbs: NaN, maxErr: NaN, maxLogit: NaN };
  let resOne = { maxErr: NaN };
  let effect = NaN;
  const hasMeta = sess.inputNames.some((n) => n !== 'image');
  if (problems.length === 0) {
    const out = (await sess.run(feeds)).logits;
    if (JSON.stringify(out.dims) !== JSON.stringify(c.expected.shape)) {
      problems.push(`logits shape ${out.dims} != ${c.expected.shape}`);
    } else {
      res = compare(out.data, c.expected.data);
      const k = c.expected.shape[1];
      const out1 = (await sess.run(one)).logits;
      resOne = compare(out1.data, c.expected.data.slice(0, k));
      if (hasMeta) {
        const rot = {};
        for (const n of sess.inputNames) rot[n] = n === 'image' ? feeds[n] : tensorOf(rotated(c.inputs[n]));
        effect = compare((await sess.run(rot)).logits.data, Array.from(out.data)).maxAbs;
        if (!(effect > EFFECT)) problems.push(`metadata barely moves the logits (${effect})`);
      }
    }
  }
  const ok = problems.length === 0 && res.maxErr <= TOL && resOne.maxErr <= TOL;
  return {
    name, backbone: c.backbone, fusion: c.fusion,
    inputs: sess.inputNames.map((n) => `${n}[${c.inputs[n] ? c.inputs[n].shape.slice(1).join('x') : '?'}]`).join(' '),
    batch: c.expected.shape[0], ...res, errOne: resOne.maxErr, effect, ok, problems,
  };
}

function pad(s, n) { s = String(s); return s.length >= n ? s : s + ' '.repeat(n - s.length); }

async function main() {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node check.js DIR');
    process.exit(2);
  }
  const names = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  console.log(`ONNX Runtime ${require('onnxruntime-node/package.json').version}; pass: |ort - metacnn| <= ${TOL}·max(1, |logit|) for the batch and for row 0 alone, and meta Δ > ${EFFECT} where metadata is read`);
  const cols = [['case', 32], ['inputs', 58], ['max|Δ|', 10], ['max err', 10], ['row0 err', 10], ['max|logit|', 11], ['meta Δ', 9], ['', 4]];
  console.log(cols.map(([h, w]) => pad(h, w)).join(' '));
  let failed = 0;
  for (const name of names) {
    let r;
    try {
      r = await runCase(dir, name);
    } catch (e) {
      r = { name, inputs: '', ok: false, problems: [String(e.message || e).split('\n')[0]] };
    }
    if (!r.ok) failed++;
    const f = (v) => (typeof v === 'number' && !Number.isNaN(v) ? v.toExponential(2) : '-');
    console.log([pad(r.name, 32), pad(r.inputs, 58), pad(f(r.maxAbs), 10), pad(f(r.maxErr), 10), pad(f(r.errOne), 10),
      pad(typeof r.maxLogit === 'number' ? r.maxLogit.toFixed(3) : '-', 11),
      pad(typeof r.effect === 'number' && !Number.isNaN(r.effect) ? r.effect.toFixed(3) : '-', 9), r.ok ? 'ok' : 'FAIL'].join(' '));
    for (const p of r.problems || []) console.log('    ' + p);
  }
  console.log(`${names.length - failed}/${names.length} cases pass`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
