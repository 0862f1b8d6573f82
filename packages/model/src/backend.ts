/**
 * Chooses the tfjs compute backend once per process.
 *
 * Order of preference: tfjs-node-gpu (CUDA), tfjs-node (native TensorFlow), wasm (SIMD), cpu.
 * The native packages are optional dependencies: they download libtensorflow when installed, which
 * fails without internet, so loading them may throw anything (not only MODULE_NOT_FOUND) and every
 * error just moves on to the next candidate. `FCN_BACKEND` or an explicit request forces one.
 */
import * as tf from '@tensorflow/tfjs-core';

export const BACKEND_NAMES = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendChoice {
  name: BackendName;
  /** The name tfjs registered the backend under ('tensorflow', 'wasm', 'cpu'). */
  tfjsName: string;
  /** Why earlier candidates were skipped, for the start-up log. */
  skipped: string[];
}

let chosen: BackendChoice | undefined;
let pending: Promise<BackendChoice> | undefined;

export function isBackendName(s: string): s is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(s);
}

async function tryLoad(name: BackendName): Promise<string> {
  switch (name) {
    case 'node-gpu':
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-node-gpu');
      return 'tensorflow';
    case 'node':
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-node');
      return 'tensorflow';
    case 'wasm':
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    case 'cpu':
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

export interface InitBackendOptions {
  /** Force a backend; defaults to FCN_BACKEND, then automatic choice. */
  backend?: string;
  /** Where the one start-up line goes; defaults to stderr. Pass null to stay silent. */
  log?: ((line: string) => void) | null;
}

/**
 * Initialises tfjs on the best available backend (or the forced one) and logs the choice once.
 * Calling it again returns the same choice; asking for a different backend later switches to it.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const forced = opts.backend ?? process.env.FCN_BACKEND ?? undefined;
  if (forced !== undefined && forced !== '' && !isBackendName(forced)) {
    throw new Error(`unknown backend '${forced}' (FCN_BACKEND or --backend): expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  if (chosen && (!forced || forced === chosen.name)) return chosen;
  if (pending && !forced) return pending;
  const run = async (): Promise<BackendChoice> => {
    const candidates: BackendName[] = forced ? [forced as BackendName] : [...BACKEND_NAMES];
    const skipped: string[] = [];
    for (const name of candidates) {
      try {
        const tfjsName = await tryLoad(name);
        const ok = await tf.setBackend(tfjsName);
        if (!ok) throw new Error(`tf.setBackend('${tfjsName}') returned false`);
        await tf.ready();
        const choice: BackendChoice = { name, tfjsName, skipped };
        chosen = choice;
        const log = opts.log === undefined ? (l: string) => process.stderr.write(l + '\n') : opts.log;
        if (log) log(`[fcn] compute backend: ${name}${skipped.length ? ` (skipped: ${skipped.join('; ')})` : ''}`);
        return choice;
      } catch (e) {
        if (forced) throw new Error(`backend '${name}' was requested but cannot load: ${firstLine(e)}`);
        skipped.push(`${name}: ${firstLine(e)}`);
      }
    }
    throw new Error(`no tfjs backend could load: ${skipped.join('; ')}`);
  };
  pending = run();
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

/** The backend chosen so far, if any. */
export function currentBackend(): BackendChoice | undefined {
  return chosen;
}
