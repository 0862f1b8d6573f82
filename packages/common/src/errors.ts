/**
 * Errors about the user's input: a file, a line or record in it, and what was expected.
 * CLIs catch these at the top and exit with code 2 after printing the one-line message.
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly file?: string,
    readonly where?: string,
  ) {
    super(InputError.format(message, file, where));
    this.name = 'InputError';
  }

  static format(message: string, file?: string, where?: string): string {
    const loc = [file, where].filter((s) => s !== undefined && s !== '').join(':');
    return loc ? `${loc}: ${message}` : message;
  }
}

/** Thrown for bad command-line usage (unknown flag, missing argument). Exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit code and one-line message for an error caught at a CLI's top level. */
export function describeFailure(e: unknown): { exitCode: number; line: string } {
  if (e instanceof InputError || e instanceof UsageError) return { exitCode: 2, line: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  return { exitCode: 1, line: `${err.name}: ${err.message}` };
}
