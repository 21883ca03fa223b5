import Yargs from 'yargs/yargs';
import type { Argv } from 'yargs';
import { NUMBER_OPTIONS, type CliArgs, type CliCommand } from './command.js';
import { PROGRAM_NAME, packageVersion } from './common.js';

/** What the command line asks for: a command to run, text yargs printed (--help, --version, completion), or a usage error. */
export type ParseOutcome =
  | { command: CliCommand; args: CliArgs }
  | { output: string }
  | { error: unknown; message: string; scriptName: string };

/** The widest --help gets, whatever the terminal. */
const MAX_WIDTH = 110;

/** `load-kern-object`, `load-kern-object dump`: how messages name the command. */
export function scriptNameOf(command: CliCommand | undefined): string {
  return command?.name === undefined ? PROGRAM_NAME : `${PROGRAM_NAME} ${command.name}`;
}

/**
 * yargs, set up with `commands` (the first is the default one), strict, in
 * English whatever the locale (the messages are matched by scripts and
 * tests), with a `completion` command for bash and zsh.
 */
function build(commands: readonly CliCommand[], selected: (command: CliCommand, args: CliArgs) => void): Argv {
  const yargs = Yargs()
    .scriptName(PROGRAM_NAME)
    .detectLocale(false)
    .strict()
    .exitProcess(false)
    .wrap(Math.min(MAX_WIDTH, process.stdout.columns || 100))
    .version(packageVersion())
    .describe('version', 'print the version of bpf-load and exit')
    // parse() has a callback: yargs calls fail() for a usage error, and what fail() throws reaches the callback
    .fail((message, error) => {
      throw error ?? new Error(unknownFirst(message, yargs));
    });
  // after a command's handler yargs renders that command's --help to keep it, whether or not it is
  // ever shown: for `dump` that cost more than the parse. It renders it when --help asks.
  const usage = (yargs as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } }).getInternalMethods().getUsageInstance();
  usage.cacheHelpMessage = () => undefined;
  for (const command of commands) {
    // the default command's usage is the program's: set on the top level, where --help without a command shows it
    if (command.name === undefined) yargs.usage(command.usage);
    const build = command.name === undefined ? command.builder : (y: Argv): Argv => command.builder(y.usage(command.usage));
    yargs.command(command.command, command.describe, build, (args) => selected(command, args as CliArgs));
  }
  yargs.command('completion', 'print a bash or zsh completion script (load-kern-object completion >> ~/.bashrc)', {}, () => {
    yargs.showCompletionScript();
  });
  // `--get-yargs-completions`, which the script calls; yargs lists the default command as "$0", which no shell can use
  // under a name of its own: the command named completion above is the one that prints the script
  return yargs.completion(
    'completion-script',
    false,
    (_current: string, _args: unknown, defaults: (then: (error: Error | null, names: string[] | undefined) => void) => void, done: (names: string[]) => void) => {
      defaults((_error, names) => done((names ?? []).filter((name) => name !== '$0')));
    },
  );
}

/**
 * yargs checks the count of positionals before unknown options, and an
 * unknown option takes the next word as its value: `--bogus FILE` would say
 * FILE is missing. Name the unknown option instead.
 */
function unknownFirst(message: string, yargs: Argv): string {
  if (!message.startsWith('Not enough non-option arguments')) return message;
  const internals = yargs as unknown as { getOptions(): { key: Record<string, unknown> }; parsed?: { argv?: Record<string, unknown> } };
  const known = new Set(Object.keys(internals.getOptions().key));
  const given = internals.parsed?.argv ?? {};
  const unknown = Object.keys(given).filter((name) => name !== '_' && name !== '$0' && !known.has(name) && !/[A-Z]/.test(name));
  return unknown.length ? `Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` : message;
}

/**
 * An empty value given inline to a number option (`--duration=`), which
 * yargs would read as 0.
 */
function emptyNumber(argv: readonly string[]): string | undefined {
  const end = argv.indexOf('--');
  for (const arg of end < 0 ? argv : argv.slice(0, end)) {
    const name = /^--([\w-]+)=$/.exec(arg)?.[1];
    if (name !== undefined && NUMBER_OPTIONS.has(name)) return `Invalid value for --${name}: '' is not a number`;
  }
  return undefined;
}

/**
 * Parse `argv` with yargs. Pure as far as the caller sees: yargs prints
 * nothing and exits nothing (the parse callback takes its output).
 */
export function parseCommandLine(commands: readonly CliCommand[], argv: readonly string[]): ParseOutcome {
  let chosen: { command: CliCommand; args: CliArgs } | undefined;
  let failure: unknown;
  let output = '';
  const named = commands.find((command) => command.name !== undefined && command.name === argv[0]);
  const empty = emptyNumber(argv);
  if (empty !== undefined) return { error: new Error(empty), message: empty, scriptName: scriptNameOf(named) };
  try {
    build(commands, (command, args) => {
      chosen = { command, args };
    }).parse([...argv], {}, (error, _args, text) => {
      failure = error ?? undefined;
      output = text;
    });
  } catch (error) {
    failure = error;
  }
  if (failure !== undefined) {
    const message = usageMessage(failure instanceof Error ? failure.message : String(failure), argv, named);
    return { error: failure, message, scriptName: scriptNameOf(named) };
  }
  if (chosen && output === '') return chosen;
  return { output };
}

/**
 * yargs' message, where it would mislead made to say what went wrong: an
 * unknown argument that is no option is a second FILE (or PIN), usually
 * from a list option that ended early (`--programs a b FILE`).
 */
function usageMessage(message: string, argv: readonly string[], command: CliCommand | undefined): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (!unknown) return message;
  const extra = unknown[1]!.split(', ').filter((name) => argv.includes(name));
  if (extra.length === 0) return message;
  const what = command === undefined ? 'one object FILE at a time' : 'one argument';
  const lists = argv.some((arg) => /^--(programs|tc)(=|$)/.test(arg))
    ? '; --programs takes a comma-separated list (--programs a,b) and --tc one IFNAME:DIRECTION per --tc'
    : '';
  return `${what}; also got ${extra.map((name) => `'${name}'`).join(', ')}${lists}`;
}
