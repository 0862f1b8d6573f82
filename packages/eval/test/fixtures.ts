/** Paths into the official reference fixtures and small helpers to read them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy } from '@facecoreset/common';

export const REFERENCE = path.resolve(__dirname, '../../../../shared/fixtures/reference');
export const IJB_MINI = path.join(REFERENCE, 'ijb_mini');
export const EXPECTED = path.join(IJB_MINI, 'expected');

/** The official 1:1 variants of ijb_mini and the method that reproduces each. */
export const VARIANTS = ['facecoresetnet_random_zero_noise', 'facecoresetnet_random_seed42', 'norm_weighted_mean', 'plain_mean'] as const;
export type Variant = (typeof VARIANTS)[number];

export function expectedFloat64(name: string): Float64Array {
  const arr = readNpy(path.join(EXPECTED, name));
  if (arr.dtype !== 'float64' && arr.dtype !== 'int64') throw new Error(`${name}: unexpected dtype ${arr.dtype}`);
  return arr.data as Float64Array;
}

export function expectedSummary(): any {
  return JSON.parse(fs.readFileSync(path.join(EXPECTED, 'summary.json'), 'utf8'));
}

/** The TAR row of the CSV the official code wrote (`<tag>_verification_result_no_media.csv.txt`). */
export function officialCsvRow(variant: Variant): { fars: number[]; tars: number[] } {
  const lines = fs.readFileSync(path.join(EXPECTED, `${variant}_verification_result_no_media.csv.txt`), 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',').slice(1).map(Number);
  const row = lines[1].split(',').slice(1).map(Number);
  return { fars: header, tars: row };
}
