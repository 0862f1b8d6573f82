/**
 * Which records of a RecordIO set are images. Insightface-style sets (MS1M, Glint, WebFace) put a
 * header at key 0 whose labels are [N, M]: image records are keys 1..N-1 and keys N..M-1 are
 * identity records whose labels are each identity's image-key range [start, end). Neither header
 * nor identity records carry image bytes. Any other set is "plain": every record is an image.
 */
import { InputError } from '@facecoreset/common';
import { unpackRecord } from './framing';
import type { RecordIOReader } from './reader';

export interface IdentityRange {
  /** Key of the identity record. */
  key: number;
  /** First image key of the identity. */
  start: number;
  /** One past the last image key. */
  end: number;
}

export type RecordIOLayout =
  | { kind: 'plain' }
  | {
      kind: 'insightface';
      /** Image keys are [1, imageEnd). */
      imageEnd: number;
      /** Identity record keys are [imageEnd, identityEnd). */
      identityEnd: number;
      /** One per identity record, in key order (empty when the set has no index to seek them). */
      identities: IdentityRange[];
    };

function isWholeNumber(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

/** Reads record 0 (and the identity records when the set is indexed) to tell the layout. */
export function detectLayout(reader: RecordIOReader): RecordIOLayout {
  if (reader.size === 0) return { kind: 'plain' };
  const firstOffset = reader.index ? (reader.has(0) ? reader.offsetOf(0) : undefined) : 0;
  if (firstOffset === undefined) return { kind: 'plain' };
  const where = `record 0 @ offset ${firstOffset}`;
  const first = unpackRecord(reader.readAt(firstOffset).payload, reader.recPath, where);
  const [imageEnd, identityEnd] = first.header.labels;
  const isHeader = first.header.flag >= 2 && first.image.length === 0 && isWholeNumber(imageEnd) && isWholeNumber(identityEnd) && imageEnd >= 1 && identityEnd >= imageEnd;
  if (!isHeader) return { kind: 'plain' };

  const identities: IdentityRange[] = [];
  if (reader.index) {
    for (let key = imageEnd; key < identityEnd; key++) {
      if (!reader.has(key)) throw new InputError(`the header (record 0) announces identity records ${imageEnd}..${identityEnd - 1} but key ${key} is not in the index`, reader.idxPath);
      const rec = reader.read(key);
      const [start, end] = rec.header.labels;
      if (rec.header.flag < 2 || !isWholeNumber(start) || !isWholeNumber(end) || start < 1 || end > imageEnd || start > end) {
        throw new InputError(`identity record: expected labels [start, end) within image keys 1..${imageEnd - 1}, got flag ${rec.header.flag} labels [${Array.from(rec.header.labels).join(', ')}]`, reader.recPath, `record ${key}`);
      }
      identities.push({ key, start, end });
    }
  }
  return { kind: 'insightface', imageEnd, identityEnd, identities };
}

/** Whether `key` names an image record under `layout`. */
export function isImageKey(layout: RecordIOLayout, key: number): boolean {
  return layout.kind === 'plain' || (key >= 1 && key < layout.imageEnd);
}
