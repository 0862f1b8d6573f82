import type { Command } from '../command';
import { compareCommand } from './compare';
import { mlflowSyncCommand } from './mlflow';
import { ingestCommands } from './ingest';

/** Every `fcn` sub-command. Add new commands here. */
export function commands(): Command[] {
  return [...ingestCommands(), mlflowSyncCommand(), compareCommand()];
}
