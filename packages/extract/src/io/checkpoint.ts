/**
 * Backbone weights from a checkpoint file: an AdaFace / PyTorch Lightning `.ckpt` (zip + restricted
 * unpickling; the backbone under `model.`), or one of ours in safetensors (tensors under their
 * PyTorch names, possibly prefixed, the architecture in the metadata when it cannot be read from
 * the shapes). The architecture is taken from the checkpoint; `arch` only checks it.
 */
import * as fs from 'node:fs';
import { decodeSafetensors, InputError, metadataFromStrings, readTorchCheckpointFile, safeTensorValues } from '@facecoreset/common';
import { iresnetConfig, importIResNetStateDict, isIResNetArch, type IResNetArch, type IResNetConfig, type IResNetWeights, type StateDictEntry } from '@facecoreset/model';

export interface LoadBackboneOptions {
  /** Expected architecture: an error when the checkpoint holds another one. */
  arch?: IResNetArch | IResNetConfig;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

const CONFIG_KEYS = new Set(['widths', 'units', 'embeddingSize', 'inputSize', 'bnEps']);

/**
 * An IResNet config stored in safetensors metadata: any metadata value (or one level inside it)
 * that is an object with `widths` and `units` arrays, or an `arch` naming an official architecture.
 */
function configFromMetadata(meta: Record<string, unknown>): IResNetConfig | undefined {
  const candidates: unknown[] = [];
  for (const v of Object.values(meta)) {
    candidates.push(v);
    if (v && typeof v === 'object' && !Array.isArray(v)) candidates.push(...Object.values(v));
  }
  for (const c of candidates) {
    if (!c || typeof c !== 'object' || Array.isArray(c)) continue;
    const o = c as Record<string, unknown>;
    if (Array.isArray(o.widths) && Array.isArray(o.units)) {
      return iresnetConfig(Object.fromEntries(Object.entries(o).filter(([k]) => CONFIG_KEYS.has(k))) as Partial<IResNetConfig>);
    }
  }
  for (const c of candidates) {
    const arch = c && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>).arch : undefined;
    if (typeof arch === 'string' && isIResNetArch(arch)) return iresnetConfig(arch);
  }
  return undefined;
}

function safetensorsStateDict(bytes: Uint8Array, file: string): { stateDict: Map<string, StateDictEntry>; config?: IResNetConfig } {
  const st = decodeSafetensors(bytes, file);
  const stateDict = new Map<string, StateDictEntry>();
  for (const [name, t] of st.tensors) stateDict.set(name, { dtype: t.dtype, shape: t.shape, data: safeTensorValues(t) });
  let config: IResNetConfig | undefined;
  try {
    config = configFromMetadata(metadataFromStrings(st.metadata, file));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`backbone config in the metadata is invalid (${e instanceof Error ? e.message : String(e)})`, file);
  }
  return { stateDict, config };
}

/**
 * Reads backbone weights from `.ckpt` (PyTorch zip) or `.safetensors` bytes, by content.
 * @throws InputError naming the file when it is neither, holds no IResNet, or holds another architecture.
 */
export function loadBackboneCheckpoint(file: string, opts: LoadBackboneOptions = {}): IResNetWeights {
  if (!fs.existsSync(file)) throw new InputError('backbone checkpoint not found', file);
  const bytes = new Uint8Array(fs.readFileSync(file));
  const isZip = ZIP_MAGIC.every((b, i) => bytes[i] === b);
  if (isZip) {
    const ckpt = readTorchCheckpointFile(file);
    if (ckpt.stateDict.size === 0) throw new InputError('checkpoint holds no state_dict of tensors', file);
    return importIResNetStateDict(ckpt.stateDict, { file, config: opts.arch });
  }
  if (bytes.length < 9 || bytes[8] !== 0x7b) {
    throw new InputError('not a backbone checkpoint: expected a PyTorch/Lightning .ckpt (zip archive) or a .safetensors file', file);
  }
  const { stateDict, config } = safetensorsStateDict(bytes, file);
  const expected = opts.arch === undefined ? undefined : typeof opts.arch === 'string' ? iresnetConfig(opts.arch) : opts.arch;
  const weights = importIResNetStateDict(stateDict, { file, config: config ?? expected });
  if (expected && config) importIResNetStateDict(stateDict, { file, config: expected }); // checks the stored architecture is the expected one
  return weights;
}
