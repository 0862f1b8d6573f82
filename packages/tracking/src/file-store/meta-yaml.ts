/**
 * meta.yaml as MLflow's file store writes it (PyYAML `safe_dump`, keys sorted, block style) and
 * reads it (`safe_load`). We write flat mappings of strings, integers, null and `[]`; strings are
 * double-quoted, which YAML reads with JSON's escapes, so any run name or path round-trips.
 */
import { parse } from 'yaml';

export type MetaValue = string | number | null | [];

function quote(s: string): string {
  // JSON leaves U+2028/U+2029 raw; YAML would treat them as line breaks inside the quotes.
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function scalar(v: MetaValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`meta.yaml: only integers are written, got ${v}`);
    return String(v);
  }
  return quote(v);
}

export function formatMetaYaml(fields: Record<string, MetaValue>): string {
  return (
    Object.keys(fields)
      .sort()
      .map((k) => `${k}: ${scalar(fields[k])}`)
      .join('\n') + '\n'
  );
}

/** Parses a meta.yaml (ours or one written by MLflow itself) into a flat record. */
export function parseMetaYaml(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    // YAML 1.1 is what PyYAML speaks (e.g. `yes` is a boolean there).
    doc = parse(text, { version: '1.1' });
  } catch (e) {
    throw new Error(`${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected a YAML mapping of run or experiment fields`);
  return doc as Record<string, unknown>;
}
