import type { Command } from '../command';

/** Every `fcn` sub-command. Add new commands here. */
export function commands(): Command[] {
  return [];
}
