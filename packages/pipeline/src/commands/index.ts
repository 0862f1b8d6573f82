import type { Command } from '../command';
import { aggregateCommand } from './aggregate';
import { stageCommand } from './stage';
import { pipelineCommand } from './pipeline';
import { compareCommand } from './compare';
import { mlflowSyncCommand } from './mlflow';
import { ingestCommands } from './ingest';
import { extractCommands } from './extract';
import { evalCommands } from './eval';
import { trainCommands } from './train';
import { synthCommand } from './synth';

/** Every `fcn` sub-command. Add new commands here. */
export function commands(): Command[] {
  return [aggregateCommand, stageCommand, pipelineCommand, ...ingestCommands(), ...extractCommands(), ...evalCommands(), ...trainCommands(), synthCommand, mlflowSyncCommand(), compareCommand()];
}
