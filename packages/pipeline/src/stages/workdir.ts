/**
 * Resumable work outside the atomically-renamed stage output: training checkpoints and extraction
 * part files go to artifacts/<experiment>/.work/<stage>-<config hash>, so a stage killed mid-way
 * and started again (by Nx or by hand) continues instead of starting over. The finished files are
 * then hard-linked (copied across filesystems) into the stage output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WORKSPACE } from '../config';

export function workDir(experiment: string, stage: string, key: string): string {
  const dir = path.join(WORKSPACE, 'artifacts', experiment, '.work', `${stage}-${key}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Hard-links (or copies) a file or folder tree from `src` to `dest`. */
export function linkTree(src: string, dest: string): void {
  const st = fs.statSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dest, { recursive: true });
    for (const name of fs.readdirSync(src)) {
      if (name.startsWith('.fcn-tmp-')) continue;
      linkTree(path.join(src, name), path.join(dest, name));
    }
    return;
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  try {
    fs.linkSync(src, dest);
  } catch {
    fs.copyFileSync(src, dest);
  }
}
