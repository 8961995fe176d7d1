// face-api 1.7.15 in Node on the six demo photos: the same work as bench_faceid
// (detectAllFaces(SsdMobilenetv1, minConfidence 0.5).withFaceLandmarks().withFaceDescriptors()
// on the int32 image tensor, as in ../shared/reference/faceid/README.md), after model load.
//
//   node faceapi_bench.js --models DIR --backend wasm|cpu [--rounds N]
//
// Run by run.sh with NODE_PATH pointing at its npm install (pinned versions). Per round
// and photo: decode (jpeg-js, the reference's decoder), then the full chain (timed: the
// "pipeline" figure). The detector alone is timed in a separate, extra call on the same
// tensor, so that "landmarks + descriptor" = pipeline - detector. One untimed warm-up
// pass comes first. The last lines are key=value pairs for run.sh.
'use strict';

const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = { models: '', backend: 'wasm', rounds: 2 };
  for (let i = 2; i + 1 < argv.length; i += 2) {
    const value = argv[i + 1];
    if (argv[i] === '--models') args.models = value;
    else if (argv[i] === '--backend') args.backend = value;
    else if (argv[i] === '--rounds') args.rounds = Number(value);
    else throw new Error(`unknown flag ${argv[i]}`);
  }
  if (!args.models || !['wasm', 'cpu'].includes(args.backend) || !(args.rounds >= 1)) {
    throw new Error('usage: faceapi_bench.js --models DIR --backend wasm|cpu [--rounds N>=1]');
  }
  return args;
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

async function main() {
  const args = parseArgs(process.argv);
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const jpeg = require('jpeg-js');
  const tf = faceapi.tf;
  // The .wasm files ship in the backend's dist/ folder.
  wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  if (!(await tf.setBackend(args.backend))) throw new Error(`tfjs backend ${args.backend} unavailable`);
  await tf.ready();

  const modelDir = path.join(args.models, 'face-api', 'model');
  const demoDir = path.join(args.models, 'face-api', 'demo');
  let start = process.hrtime.bigint();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const loadS = seconds(start);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const jpegs = [1, 2, 3, 4, 5, 6].map((i) => fs.readFileSync(path.join(demoDir, `sample${i}.jpg`)));

  const decode = (bytes) => {
    const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
    return tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
  };
  const analyse = (tensor) => faceapi.detectAllFaces(tensor, options).withFaceLandmarks().withFaceDescriptors();

  const flags = tf.env().features;
  console.log(`face-api ${faceapi.version} tfjs ${tf.version_core} backend ${tf.getBackend()}` +
              (args.backend === 'wasm' ? ` (simd ${flags.WASM_HAS_SIMD_SUPPORT}, threads ${flags.WASM_HAS_MULTITHREAD_SUPPORT})` : '') +
              `, model load ${loadS.toFixed(3)} s, node ${process.version}`);
  for (const bytes of jpegs) {  // warm-up
    const tensor = decode(bytes);
    await analyse(tensor);
    tensor.dispose();
  }

  let decodeS = 0, pipelineS = 0, detectorS = 0, faces = 0;
  for (let round = 0; round < args.rounds; ++round) {
    for (const bytes of jpegs) {
      start = process.hrtime.bigint();
      const tensor = decode(bytes);
      decodeS += seconds(start);
      start = process.hrtime.bigint();
      const results = await analyse(tensor);
      pipelineS += seconds(start);
      faces += results.length;
      start = process.hrtime.bigint();
      await faceapi.detectAllFaces(tensor, options);
      detectorS += seconds(start);
      tensor.dispose();
    }
  }
  const photos = args.rounds * jpegs.length;
  console.log(`${photos} photos (six demo photos x ${args.rounds} rounds), ${faces} faces: ` +
              `decode ${(1000 * decodeS / photos).toFixed(1)} ms/photo, ` +
              `pipeline ${(1000 * pipelineS / photos).toFixed(1)} ms/photo ` +
              `(detector alone ${(1000 * detectorS / photos).toFixed(1)} ms/photo)`);
  console.log(`backend=${args.backend}\nphotos=${photos}\nfaces=${faces}\ndecode_s=${decodeS.toFixed(4)}\n` +
              `detector_s=${detectorS.toFixed(4)}\npipeline_s=${pipelineS.toFixed(4)}\n` +
              `total_s=${(decodeS + pipelineS).toFixed(4)}`);
}

main().catch((error) => {
  console.error(`faceapi_bench.js: ${error.stack || error}`);
  process.exit(1);
});
