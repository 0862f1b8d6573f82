/** The shape every `fcn` sub-command has: a name, a one-line summary, help text and a runner. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the exit code. Throws InputError/UsageError for bad input (exit 2). */
  run(argv: string[]): Promise<number>;
}
