// Command-line handling shared by the CLIs (relay, volunteer, bench, sim):
// node:util parseArgs in strict mode (an unknown flag, a missing value or a
// stray argument is an error), readers that turn flag strings into numbers
// with a message naming the flag, --help (the usage on stdout, exit 0), and
// one way to fail: the message, then the usage, on stderr, exit code 2.
//
// Leaves out: what each CLI's flags mean (each main.ts lists its own).
import { parseArgs } from 'node:util';

/** A command line the CLI cannot run: the message is printed above the usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** --help: runCli prints the usage on stdout and exits 0. */
class HelpRequested extends Error {}

type FlagSpec = { type: 'string' | 'boolean'; short?: string; default?: string | boolean };

/** parseArgs, strict, with its refusals as UsageErrors; every CLI also takes --help. */
export function parseCommandLine<const Flags extends Record<string, FlagSpec>>(argv: string[], flags: Flags, options: { positionals?: boolean } = {}) {
  if (argv.includes('--help')) throw new HelpRequested();
  try {
    return parseArgs({ args: argv, options: flags, strict: true, allowPositionals: options.positionals ?? false });
  } catch (error) {
    // node:util reports bad command lines as TypeErrors with an ERR_PARSE_ARGS_* code.
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) throw new UsageError(error.message);
    throw error;
  }
}

/** A number flag (undefined when absent); anything but a finite number is a UsageError. */
export function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} needs a number, got ${JSON.stringify(value)}`);
  return n;
}

/** An integer flag ≥ min (undefined when absent). */
export function integerFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  const n = numberFlag(value, flag);
  if (n !== undefined && (!Number.isSafeInteger(n) || n < min)) throw new UsageError(`--${flag} must be an integer ≥ ${min}, got ${value}`);
  return n;
}

/** One of a fixed set of words. */
export function choiceFlag<const T extends string>(value: string | undefined, flag: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return found;
}

/**
 * A failure at start the user fixes outside the command line's syntax (a port
 * in use, a file that cannot be read): runCli prints its message alone, one
 * line, no usage and no stack, and exits 1.
 */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

/**
 * Runs a CLI's main: a UsageError prints its message and the usage and exits
 * 2; a StartError prints its message and exits 1; any other failure prints the
 * error and exits 1; success exits 0 unless main asks to keep running (a server).
 */
export function runCli(usage: string, main: () => Promise<'keep-running' | void>): void {
  main().then(
    (outcome) => {
      if (outcome !== 'keep-running') process.exit(0);
    },
    (error: unknown) => {
      if (error instanceof HelpRequested) {
        console.log(usage);
        process.exit(0);
      }
      if (error instanceof UsageError) {
        console.error(`${error.message}\n\n${usage}`);
        process.exit(2);
      }
      if (error instanceof StartError) {
        console.error(error.message);
        process.exit(1);
      }
      console.error(error);
      process.exit(1);
    },
  );
}

/** Ends a long-running CLI once its shutdown settles: `stopped` (logged by the caller) and exit 0, or the error and exit 1. */
export function exitWhenStopped(shutdown: Promise<void>, stopped: () => void): Promise<void> {
  return shutdown.then(
    () => {
      stopped();
      process.exit(0);
    },
    (error: Error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
