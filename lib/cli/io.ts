import type { ParseArgsConfig } from 'node:util';
import type { Env } from '../config.js';

/** What every `mikrolb` subcommand gets: its arguments, the environment and where to write. */

export type { Env };

export interface Writer {
  write(text: string): unknown;
}

export interface CliIo {
  stdout: Writer;
  stderr: Writer;
  /** Stops long-running subcommands (servers) when aborted; default: SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** The flags a subcommand accepts, as node:util's parseArgs takes them. */
export type CliOptions = NonNullable<ParseArgsConfig['options']>;

/** A subcommand: resolves to the process exit code. */
export type Command = (argv: string[], env: Env, io: CliIo) => Promise<number>;

/** 0 done, 1 the work failed, 2 the command line (or an input file) is wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/**
 * A usage error: one line on stderr that points at the help (`help`: the command whose
 * `--help` says more, when not `command` itself), exit 2. The usage text itself is not repeated:
 * it pushed the line that says what is wrong out of sight.
 */
export function usageError(io: Pick<CliIo, 'stderr'>, command: string, message: string, help: string = command): number {
  io.stderr.write(`mikrolb ${command}: ${message} (see mikrolb ${help} --help)\n`);
  return EXIT_USAGE;
}

/** `a, b or c` */
export const oneOf = (names: readonly string[]): string => (names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`);
