/** Small filesystem helpers for the file store: atomic create-if-absent, atomic copy, safe appends, walks. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

function tempName(target: string): string {
  return path.join(path.dirname(target), `.fcn-tmp-${path.basename(target)}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}

/**
 * Writes `data` to `target` only if `target` does not exist yet, atomically: the content is
 * complete before the name appears (hard link of a finished temp file fails if the name exists).
 * Returns false when another writer got there first.
 */
export function createFileExclusive(target: string, data: string | Uint8Array): boolean {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempName(target);
  fs.writeFileSync(tmp, data);
  try {
    fs.linkSync(tmp, target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Copies a file under a temporary name and renames it into place. */
export function copyFileAtomic(source: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempName(target);
  try {
    fs.copyFileSync(source, tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Appends whole lines to a file in one write (O_APPEND, so concurrent appenders do not overwrite
 * each other). A last line left without its newline by a crash is cut off first, so every line
 * in the file stays parseable.
 */
export function appendLines(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+');
  try {
    const size = fs.fstatSync(fd).size;
    if (size > 0) {
      const tailLength = Math.min(size, 4096);
      const tail = Buffer.alloc(tailLength);
      fs.readSync(fd, tail, 0, tailLength, size - tailLength);
      if (tail[tailLength - 1] !== 0x0a) {
        const lastNewline = tail.lastIndexOf(0x0a);
        const keep = lastNewline >= 0 ? size - tailLength + lastNewline + 1 : size > tailLength ? -1 : 0;
        if (keep < 0) throw new Error(`${file}: last line has no newline and is longer than 4 KiB; not appending`);
        fs.ftruncateSync(fd, keep);
      }
    }
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/** Complete lines of a text file (a torn last line without newline is left out). */
export function readCompleteLines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  return text.slice(0, end).split('\n');
}

/** Files under `dir`, as '/'-separated paths relative to it, skipping our temp files. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string): void => {
    const abs = rel ? path.join(dir, rel) : dir;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      if (entry.name.startsWith('.fcn-tmp-')) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) visit(childRel);
      else if (entry.isFile()) out.push(childRel);
    }
  };
  if (fs.existsSync(dir)) visit('');
  return out.sort();
}
