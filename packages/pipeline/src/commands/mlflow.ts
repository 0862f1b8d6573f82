import { parseArgs } from 'node:util';
import { UsageError } from '@facecoreset/common';
import { FileStore, openRestClient, parseTrackingUri, syncStore, type SyncReport } from '@facecoreset/tracking';
import type { Command } from '../command';

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: CommandIo = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n'), env: process.env };

function summarise(report: SyncReport): string {
  const count = (o: string): number => report.runs.filter((r) => r.outcome === o).length;
  return `${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged, ${count('busy')} busy elsewhere, ${report.failed.length} failed, ${report.skipped.length} not tried`;
}

/** `fcn mlflow sync --to <uri>`: pushes the local mlruns/ store to a server, idempotently. */
export function mlflowSyncCommand(io: CommandIo = defaultIo): Command {
  return {
    name: 'mlflow sync',
    summary: 'send the runs of the local mlruns/ store to an MLflow server (idempotent)',
    usage: [
      'Usage: fcn mlflow sync [--to <http(s)://server>] [--mlruns <dir>] [--experiment <name>]... [--runs <id,...>]',
      '                       [--timeout <seconds per request, 30>] [--retries <n, 5>]',
      '',
      'Sends every run of the local store (default ./mlruns) that the server does not have yet, and',
      'whatever was added to a run since its last sync (metrics, tags, artifacts, end status). A run',
      'synced twice is not duplicated. --to defaults to MLFLOW_TRACKING_URI. Credentials come from',
      'MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD.',
    ].join('\n'),
    async run(argv) {
      const { values } = parseArgs({
        args: argv,
        options: {
          to: { type: 'string' },
          mlruns: { type: 'string', default: 'mlruns' },
          experiment: { type: 'string', multiple: true },
          runs: { type: 'string' },
          timeout: { type: 'string', default: '30' },
          retries: { type: 'string', default: '5' },
        },
      });
      const timeoutSeconds = Number(values.timeout);
      const retries = Number(values.retries);
      if (!(timeoutSeconds > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
      if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`--retries must be a whole number >= 0, got ${JSON.stringify(values.retries)}`);
      const uri = values.to ?? io.env.MLFLOW_TRACKING_URI;
      if (!uri) throw new UsageError('give the server with --to <http(s)://host:port> (or set MLFLOW_TRACKING_URI)');
      const target = parseTrackingUri(uri);
      if (target.kind !== 'http') throw new UsageError(`--to must be an http(s):// MLflow server, got ${JSON.stringify(uri)}`);
      const store = new FileStore(values.mlruns!);
      const client = openRestClient(target.url, io.env, { log: io.err, timeoutMs: timeoutSeconds * 1000, retries });
      const report = await syncStore(store, client, {
        experiments: values.experiment,
        runIds: values.runs?.split(',').map((s) => s.trim()).filter(Boolean),
        log: io.err,
      });
      io.out(`mlflow sync ${store.root} -> ${client.location}: ${summarise(report)}`);
      for (const f of report.failed) io.err(`  run ${f.localRunId}: ${f.error}`);
      if (report.skipped.length) io.err(`  the server stopped answering; ${report.skipped.length} run(s) wait in ${store.root} for the next sync`);
      return report.failed.length ? 1 : 0;
    },
  };
}
