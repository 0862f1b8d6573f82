/**
 * Writes that never leave a half-written file or folder behind: write under a temporary name in the
 * same directory, then rename into place (rename is atomic within one filesystem).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function tempSibling(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.fcn-tmp-${path.basename(target)}-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`);
}

/** Writes a file atomically, creating its parent directories. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Builds a directory under a temporary name and renames it to `target` only when `build` finishes.
 * An existing `target` is replaced only after the new one is complete. On failure the temporary
 * folder is removed and `target` is left as it was.
 */
export async function writeDirAtomic<T>(target: string, build: (tmpDir: string) => Promise<T> | T): Promise<T> {
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = tempSibling(path.resolve(target));
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const result = await build(tmp);
    const old = fs.existsSync(target) ? tempSibling(path.resolve(target)) + '-old' : undefined;
    if (old) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    if (old) fs.rmSync(old, { recursive: true, force: true });
    return result;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
