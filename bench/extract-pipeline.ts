/**
 * End-to-end extraction throughput: images/s of `runExtraction` (read Parquet parts, decode JPEG,
 * render views, preprocess, backbone forward, write feature parts) on a generated images table of
 * 112x112 JPEGs, next to the share of the time spent in the backbone forward alone. Random weights
 * (speed does not depend on them), saved as a safetensors checkpoint in a temporary folder.
 *
 *   npx tsx bench/extract-pipeline.ts [--archs ir_18] [--images 64] [--views original,flip] [--batch 16] [--backend wasm] [--json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeSafetensors, type SafeTensorInput } from '@facecoreset/common';
import { binaryColumn, columnType, imagesTable, int32Column, int64Column, makeBatch, PartedTableWriter, utf8Column } from '@facecoreset/data';
import { parseViews, runExtraction, tfjsBackboneRunner, type BackboneRunner } from '@facecoreset/extract';
import { exportIResNetStateDict, IResNetInference, initBackend, initIResNetWeights, iresnetConfig, isIResNetArch, type IResNetArch } from '@facecoreset/model';
import * as jpeg from 'jpeg-js';

interface Row {
  arch: string;
  views: number;
  images: number;
  batch: number;
  images_per_s: number;
  views_per_s: number;
  forward_share: number;
  /** Load the checkpoint, fingerprint inputs, build the network: before the first image. */
  setup_s: number;
}

function faceLikeJpeg(seed: number): Uint8Array {
  const size = 112;
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 4;
      const r = Math.hypot(x - 56, (y - 60) * 0.8);
      const skin = r < 44 ? 1 : 0;
      rgba[o] = 60 + skin * 140 + 30 * Math.sin(x / 7 + seed);
      rgba[o + 1] = 50 + skin * 100 + 30 * Math.cos(y / 9 - seed);
      rgba[o + 2] = 40 + skin * 80 + ((x * y + seed * 13) & 31);
      rgba[o + 3] = 255;
    }
  }
  return new Uint8Array(jpeg.encode({ width: size, height: size, data: rgba }, 90).data);
}

function writeImages(dir: string, n: number): void {
  const writer = new PartedTableWriter(dir, imagesTable, { rawColumns: ['image'] });
  const ids = Array.from({ length: n }, (_, i) => i);
  writer.add(
    makeBatch(imagesTable, {
      image_id: int64Column(columnType(imagesTable, 'image_id'), ids),
      label: int32Column(columnType(imagesTable, 'label'), Int32Array.from(ids, (i) => i % 10)),
      identity: utf8Column(columnType(imagesTable, 'identity'), ids.map((i) => String(i % 10))),
      image: binaryColumn(columnType(imagesTable, 'image'), ids.map(faceLikeJpeg)),
      source: utf8Column(columnType(imagesTable, 'source'), ids.map((i) => `${i}.jpg`)),
    }),
  );
  writer.finish();
}

function writeCheckpoint(file: string, arch: IResNetArch): void {
  const tensors: Record<string, SafeTensorInput> = {};
  for (const [name, e] of exportIResNetStateDict(initIResNetWeights(iresnetConfig(arch), 1))) {
    tensors[name] = { dtype: e.dtype === 'int64' ? 'I64' : 'F32', shape: [...e.shape], values: e.data as ArrayLike<number> };
  }
  fs.writeFileSync(file, encodeSafetensors(tensors));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      archs: { type: 'string', default: 'ir_18' },
      images: { type: 'string', default: '64' },
      views: { type: 'string', default: 'original,flip' },
      batch: { type: 'string', default: '16' },
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const archs = values.archs.split(',');
  for (const a of archs) if (!isIResNetArch(a)) throw new Error(`unknown arch '${a}'`);
  const n = Number(values.images);
  const batch = Number(values.batch);
  const nViews = parseViews(values.views).length;
  const choice = await initBackend({ backend: values.backend, log: null });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcn-bench-extract-'));
  const rows: Row[] = [];
  try {
    writeImages(path.join(root, 'ingest'), n);
    for (const arch of archs as IResNetArch[]) {
      const ckpt = path.join(root, `${arch}.safetensors`);
      writeCheckpoint(ckpt, arch);
      let forwardMs = 0;
      let firstEmbed: number | undefined;
      const makeBackbone = (weights: Parameters<typeof IResNetInference.fromWeights>[0]) => {
        const model = IResNetInference.fromWeights(weights);
        const inner = tfjsBackboneRunner(model);
        const runner: BackboneRunner = {
          ...inner,
          embed: async (x, b) => {
            const t0 = performance.now();
            firstEmbed ??= t0;
            const r = await inner.embed(x, b);
            forwardMs += performance.now() - t0;
            return r;
          },
        };
        return { runner, dispose: () => model.dispose() };
      };
      // warm-up: one image through the same network shape (tfjs compiles kernels on first use)
      const warm = makeBackbone(initIResNetWeights(iresnetConfig(arch), 2));
      await warm.runner.embed(new Float32Array(112 * 112 * 3), 1);
      warm.dispose();
      forwardMs = 0;
      firstEmbed = undefined;
      const t0 = performance.now();
      await runExtraction({ images: path.join(root, 'ingest'), checkpoint: ckpt, out: path.join(root, `out-${arch}`), views: values.views, batchSize: batch, makeBackbone });
      const end = performance.now();
      // Steady state: from the first backbone call (the first chunk is already read and decoded
      // by then, a small bias in our disfavour) to the manifest.
      const seconds = (end - (firstEmbed ?? t0)) / 1000;
      rows.push({
        arch,
        views: nViews,
        images: n,
        batch,
        images_per_s: n / seconds,
        views_per_s: (n * nViews) / seconds,
        forward_share: forwardMs / 1000 / seconds,
        setup_s: ((firstEmbed ?? t0) - t0) / 1000,
      });
      fs.rmSync(ckpt);
      if (!values.json) process.stderr.write(`done ${arch}\n`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ backend: choice.name, rows }) + '\n');
    return;
  }
  const header = ['arch', 'views', 'images', 'batch', `images/s (${choice.name})`, 'views/s', 'forward share', 'setup s'];
  const lines = rows.map((r) => [
    r.arch,
    String(r.views),
    String(r.images),
    String(r.batch),
    r.images_per_s.toFixed(2),
    r.views_per_s.toFixed(2),
    `${(r.forward_share * 100).toFixed(1)}%`,
    r.setup_s.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i])).join(' | ') + ' |';
  console.log(fmt(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
  console.log('Steady state from the first backbone call: read parts, decode JPEG, render views, preprocess, forward, write parts.');
  console.log('Forward share = time inside the backbone; setup = checkpoint load, fingerprints, network build (once per run).');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
