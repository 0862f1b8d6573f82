/** Test helpers: temporary folders removed after the file's tests, and InputError expectations. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '@facecoreset/common';

/** Returns a maker of temporary folders (prefix `fcn-data-<name>-`) that are removed after all tests of the file. */
export function tempDirs(name: string): () => string {
  const made: string[] = [];
  afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `fcn-data-${name}-`));
    made.push(d);
    return d;
  };
}

/** Expects `fn` to throw an InputError whose message matches `pattern`. */
export function expectInputError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as Error).message).toMatch(pattern);
}

/** Expects `p` to reject with an InputError whose message matches `pattern`. */
export async function expectInputErrorAsync(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as Error).message).toMatch(pattern);
}
