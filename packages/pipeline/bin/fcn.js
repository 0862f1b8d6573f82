#!/usr/bin/env node
// Entry point of the `fcn` CLI. The workspace ships TypeScript sources; tsx compiles them on load.
require('tsx/cjs');
const { main } = require('../src/cli.ts');
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
