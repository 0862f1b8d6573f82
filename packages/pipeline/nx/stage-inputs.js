#!/usr/bin/env node
// Nx runtime input for one stage: prints the hash of the stage's own config sections and the
// fingerprints of its raw inputs outside the repo (size + mtime of every file, plus a content hash
// of small index files). Nx hashes whatever this prints. Kept dependency-free and fast: it runs
// once per stage on every `nx run`, cached or not.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { readRawConfig, experimentName, stages, get, resolvePath } = require('./stages');

const CONTENT_HASH_LIMIT = 64 * 1024 * 1024;

function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(',')}}`;
  return JSON.stringify(value === undefined ? null : value);
}

function fingerprint(entry, out) {
  const p = resolvePath(entry.path);
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    out.push(`${entry.path} absent`);
    return;
  }
  if (st.isDirectory()) {
    const names = fs.readdirSync(p).sort();
    out.push(`${entry.path}/ ${names.length} entries`);
    for (const n of names) fingerprint({ path: path.join(entry.path, n), hashContent: entry.hashContent }, out);
    return;
  }
  let line = `${entry.path} ${st.size} ${st.mtimeMs}`;
  if (entry.hashContent && st.size <= CONTENT_HASH_LIMIT) line += ' ' + crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  out.push(line);
}

function stageInputs(experiment, stageName) {
  const config = readRawConfig(experiment);
  const stage = stages(config).find((s) => s.name === stageName);
  if (!stage) throw new Error(`unknown stage '${stageName}'`);
  const lines = [`experiment ${experiment}`];
  for (const key of stage.sections) lines.push(`config ${key} ${crypto.createHash('sha256').update(stable(get(config, key))).digest('hex')}`);
  for (const entry of stage.raw()) fingerprint(entry, lines);
  return lines;
}

if (require.main === module) {
  const [stageName] = process.argv.slice(2);
  try {
    process.stdout.write(stageInputs(experimentName(), stageName).join('\n') + '\n');
  } catch (e) {
    process.stderr.write(`stage-inputs: ${e.message}\n`);
    process.exit(2);
  }
}

module.exports = { stageInputs, stable };
