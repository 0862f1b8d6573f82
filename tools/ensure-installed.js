#!/usr/bin/env node
// Runs `npm ci` when node_modules is missing or was installed from another package-lock.json, so
// that `npm run demo` sets everything up on a fresh clone and costs nothing on later runs.
'use strict';
const { execSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const stamp = path.join(root, 'node_modules', '.fcn-installed-lock-sha256');
const lockHash = crypto.createHash('sha256').update(fs.readFileSync(path.join(root, 'package-lock.json'))).digest('hex');
let installed = '';
try {
  installed = fs.readFileSync(stamp, 'utf8').trim();
} catch {
  // not installed by this script yet
}
if (installed !== lockHash) {
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
  fs.writeFileSync(stamp, lockHash + '\n');
}
