import type { Command } from '../command';
import { compareCommand } from './compare';
import { mlflowSyncCommand } from './mlflow';
import { ingestCommands } from './ingest';
import { extractCommands } from './extract';

/** Every `fcn` sub-command. Add new commands here. */
export function commands(): Command[] {
  return [...ingestCommands(), ...extractCommands(), mlflowSyncCommand(), compareCommand()];
}
