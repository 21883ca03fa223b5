import type { Argv, Options } from 'yargs';
import type { CliIo } from './common.js';
import type { SignalWatch } from './signals.js';

/** What a command runs with: where it writes, and the signals it watches. */
export interface CliContext {
  io: CliIo;
  signals: SignalWatch;
}

/** The arguments yargs parsed: option names in both spellings (`dry-run`, `dryRun`). */
export type CliArgs = Record<string, unknown> & { verbose?: boolean };

/**
 * One command of load-kern-object, as yargs runs it. A command module keeps
 * its definition (options, checks) light and imports what it does only in
 * run(): yargs reads every definition to parse and print --help, while one
 * command runs.
 */
export interface CliCommand {
  /** the name in messages (`load-kern-object dump`); undefined for the default command */
  name: string | undefined;
  /** the yargs command: `$0 <file>`, `dump <pin>` */
  command: string;
  describe: string;
  /** the first lines of its --help: `$0 dump PIN [options]`, then what it does */
  usage: string;
  /** options, positionals, examples; yargs' own checks (`.check()`) for combinations */
  builder(yargs: Argv): Argv;
  /** resolves to the exit status; an error it throws is reported by the caller */
  run(args: CliArgs, context: CliContext): Promise<number>;
}

/** --json (what it prints says `jsonHelp`) and --verbose, which every command has. */
export function baseOptions(jsonHelp: string): Record<string, Options> {
  return {
    json: { type: 'boolean', default: false, describe: jsonHelp },
    verbose: { type: 'boolean', default: false, describe: 'print the full stack of an error' },
  };
}

/**
 * A check for yargs' `.check()`: a message is a usage error, reported with
 * the command's hint like every other one.
 */
export function checkWith(check: (args: CliArgs) => string | undefined): (args: CliArgs) => true {
  return (args) => {
    const message = check(args);
    if (message !== undefined) throw new Error(message);
    return true;
  };
}

/** The options numberOption() reads: `--name=` with nothing after it is refused for them before yargs reads it as 0. */
export const NUMBER_OPTIONS = new Set<string>();

/**
 * A number option's value as yargs gives it (NaN for `5x`): refused with the
 * option's name instead of read as NaN.
 */
export function numberOption(name: string, check: (value: number) => string | undefined): (value: unknown) => number {
  NUMBER_OPTIONS.add(name);
  return (value) => {
    const number = Array.isArray(value) ? value.at(-1) : value;
    if (typeof number !== 'number' || Number.isNaN(number)) throw new Error(`Invalid value for --${name}: not a number`);
    const message = check(number);
    if (message !== undefined) throw new Error(message);
    return number;
  };
}

/** A codec name option (`--key u32`): an unknown name is a usage error that lists the known ones. */
export function codecOption(names: readonly string[]): (value: unknown) => string {
  return (value) => {
    const name = String(Array.isArray(value) ? value.at(-1) : value);
    if (!names.includes(name)) throw new Error(`unknown codec '${name}' (one of: ${names.join(', ')})`);
    return name;
  };
}

/**
 * A string option that may be given more than once, each a comma-separated
 * list (`--programs a,b --programs c`): the names, in order.
 */
export function listOption(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).flatMap((item) => String(item).split(',')).map((name) => name.trim()).filter((name) => name !== '');
}
