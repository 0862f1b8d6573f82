import type { Command } from '../command';
import { compareCommand } from './compare';
import { mlflowSyncCommand } from './mlflow';

/** Every `fcn` sub-command. Add new commands here. */
export function commands(): Command[] {
  return [mlflowSyncCommand(), compareCommand()];
}
