/**
 * `fcn`: the workspace CLI. Each sub-command lives in src/commands and is listed here once.
 * Exported `main` so tests can call it in-process; one top-level catch turns errors into exit codes.
 */
import { describeFailure } from '@facecoreset/common';
import type { Command } from './command';
import { commands } from './commands';
import { stageCommand } from './commands/stage';
import { pipelineCommand } from './commands/pipeline';

function help(list: Command[]): string {
  const width = Math.max(...list.map((c) => c.name.length));
  return [
    'fcn — FaceCoresetNet pipeline',
    '',
    'Usage: fcn <command> [options]   (fcn <command> --help for details)',
    '',
    ...list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Environment: FCN_BACKEND=node-gpu|node|wasm|cpu forces the compute backend.',
  ].join('\n');
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  // The commands every Nx stage task starts with are loaded alone: loading every command would
  // pull in every package, which a fully cached pipeline run must not wait for.
  const list = argv[0] === 'stage' ? [stageCommand] : argv[0] === 'pipeline' ? [pipelineCommand] : commands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help(list));
    return name ? 0 : 2;
  }
  // Multi-word commands ("ingest recordio", "train aggregator") are matched longest first.
  const match = [...list].sort((a, b) => b.name.length - a.name.length).find((c) => {
    const words = c.name.split(' ');
    return words.every((w, i) => argv[i] === w);
  });
  if (!match) {
    err(`fcn: unknown command '${name}'. Run 'fcn --help' for the list.`);
    return 2;
  }
  const args = argv.slice(match.name.split(' ').length);
  if (args.includes('--help') || args.includes('-h')) {
    out(match.usage);
    return 0;
  }
  try {
    return await match.run(args);
  } catch (e) {
    const { exitCode, line } = describeFailure(e);
    err(`fcn ${match.name}: ${line}`);
    if (exitCode !== 2 && process.env.FCN_DEBUG) err(String((e as Error).stack));
    return exitCode;
  }
  void rest;
}
