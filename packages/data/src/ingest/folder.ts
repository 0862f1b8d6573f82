/**
 * An image folder `<root>/<identity>/<file>.{jpg,jpeg,png}` -> images + identities tables.
 * Identities are the sub-folders in sorted order (labels 0..C-1), files sorted within each;
 * image_id is the row number. Anything else (top-level files, other extensions, hidden entries)
 * is listed in the manifest as ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, writeDirAtomic } from '@facecoreset/common';
import { checkImageBytes } from '../image-check';
import { buildManifest, SourceHasher, writeManifest, type DataManifest } from '../manifest';
import { silentProgress, writeIdentitiesTable, writeImagesTable, type IngestCommonOptions } from './common';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

/** Code-unit order, the same on every machine and locale. */
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface ImageFolderListing {
  root: string;
  identities: string[];
  /** Root-relative paths (posix separators) per identity, sorted. */
  files: string[][];
  ignored: string[];
}

export function listImageFolder(root: string): ImageFolderListing {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new InputError('not a folder; expected <root>/<identity>/<image>.{jpg,jpeg,png}', root);
  const ignored: string[] = [];
  const identities: string[] = [];
  const files: string[][] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true }).sort((a, b) => byName(a.name, b.name))) {
    if (entry.name.startsWith('.') || !entry.isDirectory()) {
      ignored.push(entry.name);
      continue;
    }
    const dir = path.join(root, entry.name);
    const images: string[] = [];
    for (const f of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => byName(a.name, b.name))) {
      const rel = `${entry.name}/${f.name}`;
      if (!f.name.startsWith('.') && f.isFile() && IMAGE_EXTENSIONS.includes(path.extname(f.name).toLowerCase())) images.push(rel);
      else ignored.push(rel);
    }
    if (images.length === 0) throw new InputError(`identity folder "${entry.name}" has no .jpg/.jpeg/.png images`, dir);
    identities.push(entry.name);
    files.push(images);
  }
  if (identities.length === 0) throw new InputError('no identity sub-folders; expected <root>/<identity>/<image>.{jpg,jpeg,png}', root);
  return { root, identities, files, ignored };
}

export interface IngestFolderOptions extends IngestCommonOptions {
  input: string;
}

export async function ingestImageFolder(opts: IngestFolderOptions): Promise<DataManifest> {
  const listing = listImageFolder(opts.input);
  const total = listing.files.reduce((s, f) => s + f.length, 0);
  const counts = new Int32Array(listing.identities.length);
  const skipped: DataManifest['skipped'] = [];
  const progress = (opts.progress ?? silentProgress)('ingest folder', total);
  return writeDirAtomic(opts.out, async (tmp) => {
    const hasher = new SourceHasher(listing.root);
    let imageId = 0;
    const imagesSummary = await writeImagesTable(tmp, opts, ({ append }) =>
      listing.files.forEach((list, label) => {
        for (const rel of list) {
          const file = path.join(listing.root, rel);
          const bytes = fs.readFileSync(file);
          progress.tick(1, bytes.length);
          hasher.addBytes(rel, bytes);
          const check = checkImageBytes(bytes);
          if (!check.ok) {
            if (!opts.skipBad) throw new InputError(`corrupt image: ${check.reason} (use --skip-bad to skip and record it)`, file);
            skipped.push({ where: rel, reason: check.reason });
            continue;
          }
          counts[label]++;
          append(imageId++, label, listing.identities[label], bytes, rel);
        }
      }),
    );
    const identitiesSummary = writeIdentitiesTable(tmp, listing.identities, counts);
    progress.finish();
    const manifest = buildManifest({
      kind: 'ingest-folder',
      source: hasher.finish(),
      tables: { images: imagesSummary, identities: identitiesSummary },
      counts: { files: total, images: imagesSummary.rows, identities: listing.identities.length, skipped: skipped.length, ignored: listing.ignored.length },
      skipped,
      options: { skipBad: !!opts.skipBad, compression: 'none', ignored: listing.ignored.slice(0, 100) },
    });
    writeManifest(tmp, manifest);
    return manifest;
  });
}
