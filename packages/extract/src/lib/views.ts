/**
 * Views of an image that extraction produces: 0 = original, 1 = horizontal flip, 2.. = augmented
 * copies. Spec strings look like "original,flip,aug:4".
 */
import { InputError } from '@facecoreset/common';

export const VIEW_ORIGINAL = 0;
export const VIEW_FLIP = 1;
export const FIRST_AUGMENTED_VIEW = 2;

/** Parses a view spec into the sorted list of view ids it names. */
export function parseViews(spec: string): number[] {
  const ids = new Set<number>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part === 'original') ids.add(VIEW_ORIGINAL);
    else if (part === 'flip') ids.add(VIEW_FLIP);
    else {
      const m = /^aug:(\d+)$/.exec(part);
      const n = m ? Number(m[1]) : NaN;
      if (!m || n < 1 || n > 125) throw new InputError(`bad view '${part}' in --views '${spec}': expected original, flip or aug:N with 1 <= N <= 125`);
      for (let i = 0; i < n; i++) ids.add(FIRST_AUGMENTED_VIEW + i);
    }
  }
  if (ids.size === 0) throw new InputError(`--views '${spec}' names no view: expected e.g. original,flip,aug:4`);
  return [...ids].sort((a, b) => a - b);
}
