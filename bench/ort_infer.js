// Times ONNX Runtime (npm onnxruntime-node) inference of an exported seed
// model; bench/compare.py runs it. Usage:
//   node bench/ort_infer.js MODEL.onnx BATCH STEPS WARMUP THREADS META_WIDTH
// Prints one JSON object: {"img_per_s": ..., "batch1_ms": ...}.
// The module is looked up in $ORT_DIR/node_modules (default bench/ort).
"use strict";
const path = require("path");
const ortDir = process.env.ORT_DIR || path.join(__dirname, "ort");
const ort = require(path.join(ortDir, "node_modules", "onnxruntime-node"));

async function main() {
  const [modelPath, batchS, stepsS, warmupS, threadsS, metaS] = process.argv.slice(2);
  const batch = +batchS, steps = +stepsS, warmup = +warmupS, threads = +threadsS, metaWidth = +metaS;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const feeds = (n) => {
    const img = new Float32Array(n * 3 * 56 * 56);
    for (let i = 0; i < img.length; i++) img[i] = Math.random();
    const meta = new Float32Array(n * metaWidth);
    for (let i = 0; i < meta.length; i++) meta[i] = Math.random() * 2 - 1;
    return {
      images: new ort.Tensor("float32", img, [n, 3, 56, 56]),
      metadata: new ort.Tensor("float32", meta, [n, metaWidth]),
    };
  };
  const big = feeds(batch);
  for (let i = 0; i < warmup; i++) await session.run(big);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) await session.run(big);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const one = feeds(1);
  for (let i = 0; i < warmup; i++) await session.run(one);
  const lat = [];
  for (let i = 0; i < steps; i++) {
    t0 = process.hrtime.bigint();
    await session.run(one);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ img_per_s: (batch * steps) / secs, batch1_ms: lat[lat.length >> 1] }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
