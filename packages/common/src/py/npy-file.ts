import * as fs from 'node:fs';
import { InputError } from '../errors';
import { encodeNpy, parseNpy, type NpyArray } from './npy';
import { writeFileAtomic } from '../atomic';

/** Reads a .npy file; a missing file is an InputError naming it. */
export function readNpy(file: string): NpyArray {
  if (!fs.existsSync(file)) throw new InputError('file not found', file);
  return parseNpy(fs.readFileSync(file), file);
}

export function writeNpy(file: string, arr: NpyArray): void {
  writeFileAtomic(file, encodeNpy(arr));
}
