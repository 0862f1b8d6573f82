/**
 * Aggregator checkpoints as bytes (no filesystem here): our own format, and import of the
 * official PyTorch Lightning .ckpt.
 *
 * Our format is safetensors: every aggregator tensor under `aggregate_model.<official name>` (the
 * unused official parameters included, values unchanged), the AdaFace head under `head.*`, any
 * caller tensors (e.g. optimiser moments) under their own names, and JSON metadata:
 * `format` = "facecoreset.aggregator", `version`, `aggregatorConfig`, `headConfig`, plus the
 * caller's `metadata` entries.
 */
import { InputError, SafeTensorInput, decodeSafetensors, encodeSafetensors, metadataFromStrings, metadataToStrings, readTorchCheckpoint, safeTensorValues } from '@facecoreset/common';
import { AggregatorConfig, AggregatorConfigInput, aggregatorConfig, aggregatorConfigFromHyperParameters } from '../aggregator/config';
import { FaceCoresetNet } from '../aggregator/facecoresetnet';
import { AGGREGATOR_STATE_PREFIX, ParamTensor, StateDictTensor } from '../aggregator/params';
import { ADAFACE_STATE_PREFIX, AdaFaceConfigInput, AdaFaceHead } from '../head/adaface';

export const AGGREGATOR_CHECKPOINT_FORMAT = 'facecoreset.aggregator';
export const AGGREGATOR_CHECKPOINT_VERSION = 1;

export interface AggregatorCheckpoint {
  aggregator: FaceCoresetNet;
  /** The training head, when saved / present. */
  head?: AdaFaceHead;
  /** Extra tensors stored beside the model (e.g. optimiser state), by name. */
  extraTensors?: Map<string, ParamTensor>;
  /** Caller metadata (JSON values), e.g. step, epoch, experiment config. */
  metadata?: Record<string, unknown>;
}

const RESERVED_METADATA = ['format', 'version', 'aggregatorConfig', 'headConfig'];

/** Serialises an aggregator (and head, extra tensors, metadata) as safetensors bytes. */
export function encodeAggregatorCheckpoint(ckpt: AggregatorCheckpoint): Uint8Array {
  const tensors = new Map<string, SafeTensorInput>();
  const add = (name: string, t: ParamTensor) => {
    if (tensors.has(name)) throw new Error(`encodeAggregatorCheckpoint: tensor name '${name}' is used twice`);
    tensors.set(name, { dtype: 'F32', shape: [...t.shape], values: t.data });
  };
  for (const [name, t] of ckpt.aggregator.toStateDict(AGGREGATOR_STATE_PREFIX)) add(name, t);
  if (ckpt.head) for (const [name, t] of ckpt.head.toStateDict(ADAFACE_STATE_PREFIX)) add(name, t);
  for (const [name, t] of ckpt.extraTensors ?? []) {
    if (name.startsWith(AGGREGATOR_STATE_PREFIX) || name.startsWith(ADAFACE_STATE_PREFIX)) throw new Error(`encodeAggregatorCheckpoint: extra tensor '${name}' uses a model prefix`);
    add(name, t);
  }
  const meta = ckpt.metadata ?? {};
  for (const k of RESERVED_METADATA) if (k in meta) throw new Error(`encodeAggregatorCheckpoint: metadata key '${k}' is reserved`);
  return encodeSafetensors(
    tensors,
    metadataToStrings({
      ...meta,
      format: AGGREGATOR_CHECKPOINT_FORMAT,
      version: AGGREGATOR_CHECKPOINT_VERSION,
      aggregatorConfig: ckpt.aggregator.config,
      headConfig: ckpt.head ? ckpt.head.config : null,
    }),
  );
}

/** Reads our checkpoint format; errors name `file` and the problem (missing key, wrong shape, ...). */
export function decodeAggregatorCheckpoint(bytes: Uint8Array, file = '<checkpoint>'): AggregatorCheckpoint {
  const st = decodeSafetensors(bytes, file);
  const meta = metadataFromStrings(st.metadata, file);
  if (meta.format !== AGGREGATOR_CHECKPOINT_FORMAT) throw new InputError(`not an aggregator checkpoint (metadata format is ${JSON.stringify(meta.format)}, expected "${AGGREGATOR_CHECKPOINT_FORMAT}")`, file);
  if (meta.version !== AGGREGATOR_CHECKPOINT_VERSION) throw new InputError(`unsupported aggregator checkpoint version ${JSON.stringify(meta.version)} (this build reads ${AGGREGATOR_CHECKPOINT_VERSION})`, file);
  const sd = new Map<string, StateDictTensor>();
  const extraTensors = new Map<string, ParamTensor>();
  for (const [name, t] of st.tensors) {
    const data = safeTensorValues(t);
    const value = { shape: [...t.shape], data: data instanceof Float32Array ? data : Float32Array.from(data) };
    if (name.startsWith(AGGREGATOR_STATE_PREFIX) || name.startsWith(ADAFACE_STATE_PREFIX)) sd.set(name, value);
    else extraTensors.set(name, value);
  }
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${what}: ${(e as Error).message}`, file);
    }
  };
  const config = wrap('aggregatorConfig metadata', () => aggregatorConfig(meta.aggregatorConfig as AggregatorConfigInput));
  const aggregator = wrap('aggregator tensors', () => FaceCoresetNet.fromStateDict(sd, AGGREGATOR_STATE_PREFIX, config, 'checkpoint'));
  const head = meta.headConfig ? wrap('head tensors', () => AdaFaceHead.fromStateDict(sd, ADAFACE_STATE_PREFIX, meta.headConfig as AdaFaceConfigInput, 'checkpoint')) : undefined;
  const { format: _f, version: _v, aggregatorConfig: _a, headConfig: _h, ...rest } = meta;
  return { aggregator, head, extraTensors, metadata: rest };
}

export interface LightningImportOptions {
  /** Overrides of the config read from `hyper_parameters` (coreset_size, gamma). */
  aggregatorConfig?: AggregatorConfigInput;
  /** Overrides of the head config read from `hyper_parameters` (m, h, s, t_alpha). */
  headConfig?: AdaFaceConfigInput;
}

/**
 * Imports the aggregator (`aggregate_model.*`) and the AdaFace head (`head.*`, when present) of an
 * official FaceCoresetNet Lightning checkpoint. The unpickler is the restricted one of
 * @facecoreset/common; keys outside these prefixes (the backbone) are ignored here.
 */
export function importLightningAggregator(bytes: Uint8Array, file = '<checkpoint>', opts: LightningImportOptions = {}): AggregatorCheckpoint & { hyperParameters: Record<string, unknown> } {
  const ckpt = readTorchCheckpoint(bytes, file);
  const hp = ckpt.hyperParameters;
  const sd = ckpt.stateDict as ReadonlyMap<string, StateDictTensor>;
  if (![...sd.keys()].some((k) => k.startsWith(AGGREGATOR_STATE_PREFIX))) throw new InputError(`no '${AGGREGATOR_STATE_PREFIX}*' tensors: not a FaceCoresetNet checkpoint`, file);
  let config: AggregatorConfig;
  let aggregator: FaceCoresetNet;
  try {
    config = aggregatorConfigFromHyperParameters(hp, opts.aggregatorConfig);
    aggregator = FaceCoresetNet.fromStateDict(sd, AGGREGATOR_STATE_PREFIX, config, 'checkpoint');
  } catch (e) {
    throw new InputError((e as Error).message, file);
  }
  let head: AdaFaceHead | undefined;
  if (sd.has(ADAFACE_STATE_PREFIX + 'kernel')) {
    const num = (k: string) => (typeof hp[k] === 'number' ? (hp[k] as number) : undefined);
    const fromHp: AdaFaceConfigInput = { m: num('m'), h: num('h'), s: num('s'), tAlpha: num('t_alpha') };
    for (const k of Object.keys(fromHp) as (keyof AdaFaceConfigInput)[]) if (fromHp[k] === undefined) delete fromHp[k];
    try {
      head = AdaFaceHead.fromStateDict(sd, ADAFACE_STATE_PREFIX, { ...fromHp, ...opts.headConfig }, 'checkpoint');
    } catch (e) {
      throw new InputError((e as Error).message, file);
    }
  }
  return { aggregator, head, hyperParameters: hp };
}

/** Our checkpoint or a Lightning .ckpt (a zip), told apart by the first bytes. */
export function loadAggregatorCheckpoint(bytes: Uint8Array, file = '<checkpoint>', opts: LightningImportOptions = {}): AggregatorCheckpoint {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  return isZip ? importLightningAggregator(bytes, file, opts) : decodeAggregatorCheckpoint(bytes, file);
}
