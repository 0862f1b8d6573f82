// The pipeline's stages: one table read by the Nx plugin (targets, inputs, outputs), by the
// runtime-input script (what each stage's cache key covers) and by the TypeScript stage runner.
// Plain CommonJS so Nx and the hashing script load it without a compiler.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const WORKSPACE = path.resolve(__dirname, '../../..');

/** Replaces ${VAR} and ${VAR:-default} from the environment; an unset variable without default stays as is. */
function substituteEnv(value) {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (m, name, dflt) => process.env[name] ?? (dflt !== undefined ? dflt : m));
  }
  if (Array.isArray(value)) return value.map(substituteEnv);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v);
    return out;
  }
  return value;
}

function experimentName() {
  return process.env.FCN_EXPERIMENT || 'demo';
}

/** Where experiment configs live: configs/ of the workspace, or FCN_CONFIG_DIR (used by tests). */
function configDir() {
  return process.env.FCN_CONFIG_DIR ? path.resolve(WORKSPACE, process.env.FCN_CONFIG_DIR) : path.join(WORKSPACE, 'configs');
}

function configPath(experiment) {
  return path.join(configDir(), `${experiment}.json`);
}

/** The raw config (env substituted, not validated: validation happens in the stage runner). */
function readRawConfig(experiment) {
  const file = configPath(experiment);
  if (!fs.existsSync(file)) {
    const known = fs.existsSync(configDir())
      ? fs.readdirSync(configDir()).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).map((f) => f.replace(/\.json$/, ''))
      : [];
    throw new Error(`FCN_EXPERIMENT=${experiment}: no config ${path.relative(WORKSPACE, file)} (known: ${known.join(', ')})`);
  }
  return substituteEnv(JSON.parse(fs.readFileSync(file, 'utf8')));
}

function resolvePath(p) {
  return path.isAbsolute(p) ? p : path.join(WORKSPACE, p);
}

function get(obj, dotted) {
  return dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function shardCount(config) {
  return Math.max(1, Number(get(config, 'extract.shards') || 1));
}

/**
 * Stage definitions. `sections`: config keys in the stage's cache key. `raw`: raw inputs outside
 * the repo (fingerprinted, since git-ignored files are invisible to Nx). `packages`: code it runs.
 */
function stages(config) {
  const shards = shardCount(config);
  const shardNames = Array.from({ length: shards }, (_, i) => `extract-train-shard-${i}`);
  const ijbRaw = () => {
    const ijb = get(config, 'data.ijb') || {};
    const out = [];
    for (const ds of ijb.datasets || []) {
      out.push({ path: path.join(ijb.root, ds, 'meta'), hashContent: true });
      out.push({ path: path.join(ijb.root, ds, 'loose_crop'), hashContent: false });
      const pickle = (ijb.featuresPickle || {})[ds];
      if (pickle) out.push({ path: pickle, hashContent: false });
    }
    return out;
  };
  const list = [
    // Always runs (never cached): validates the config, opens the MLflow parent run of this
    // invocation, and generates the demo data when `data.synth` is set (skipped when present).
    { name: 'prepare', sections: ['data.synth'], deps: [], packages: ['data', 'tracking'], cache: false, raw: () => [] },
    {
      name: 'ingest-train',
      sections: ['data.train'],
      deps: ['prepare'],
      packages: ['data'],
      raw: () => {
        const t = get(config, 'data.train') || {};
        if (!t.path) return [];
        return t.format === 'recordio'
          ? [
              { path: path.join(t.path, 'train.idx'), hashContent: true },
              { path: path.join(t.path, 'train.rec'), hashContent: false },
              { path: path.join(t.path, 'train.lst'), hashContent: true, optional: true },
            ]
          : [{ path: t.path, hashContent: false }];
      },
    },
    { name: 'ingest-ijb', sections: ['data.ijb'], deps: ['prepare'], packages: ['data'], raw: ijbRaw },
    {
      name: 'backbone',
      sections: ['backbone'],
      deps: ['ingest-train'],
      packages: ['data', 'model', 'train'],
      raw: () => (get(config, 'backbone.mode') === 'import' ? [{ path: get(config, 'backbone.checkpoint'), hashContent: false }] : []),
    },
    ...shardNames.map((name) => ({
      name,
      sections: ['extract.trainViews', 'extract.shards', 'extract.batchSize', 'extract.seed'],
      deps: ['ingest-train', 'backbone'],
      packages: ['data', 'model', 'extract'],
      raw: () => [],
    })),
    { name: 'extract-train', sections: ['extract.shards'], deps: shardNames, packages: ['data', 'extract'], raw: () => [] },
    {
      name: 'extract-ijb',
      sections: ['extract.ijbViews', 'extract.batchSize', 'extract.seed'],
      deps: ['ingest-ijb', 'backbone'],
      packages: ['data', 'model', 'extract'],
      raw: () => [],
    },
    { name: 'train', sections: ['train'], deps: ['extract-train'], packages: ['data', 'model', 'train', 'tracking'], raw: () => [] },
    {
      name: 'eval',
      sections: ['eval'],
      deps: ['train', 'extract-ijb', 'ingest-ijb'],
      packages: ['data', 'model', 'eval', 'train'],
      raw: () => [
        ...(get(config, 'eval.officialCheckpoint') ? [{ path: get(config, 'eval.officialCheckpoint'), hashContent: false }] : []),
        // Generated data: the benchmark's ground truth, for the norm-quality figure.
        ...(get(config, 'data.synth.out') ? [{ path: path.join(get(config, 'data.synth.out'), 'ground_truth', 'ijb_images.csv'), hashContent: true, optional: true }] : []),
      ],
    },
    { name: 'report', sections: ['report', 'eval.methods'], deps: ['eval'], packages: ['eval'], raw: () => [] },
  ];
  return list;
}

module.exports = { WORKSPACE, substituteEnv, experimentName, configPath, readRawConfig, resolvePath, get, stages, shardCount };
