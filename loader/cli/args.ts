/**
 * The command line of load-kern-object: a small declarative parser with the
 * yargs conventions the CLI had (and its messages), without yargs' start-up
 * cost (~150 ms of imports, as much as Node's own start). Options are
 * `--name value`, `--name=value`, `--flag`, `--no-flag`; `--` ends them.
 */

export interface OptionSpec {
  type: 'boolean' | 'string' | 'number';
  describe: string;
  default?: boolean | string | number;
  /** takes one or more values: `--name a b` or `--name a --name b` */
  array?: boolean;
  /** a value must follow (`--pin` alone is an error) */
  requiresArg?: boolean;
  choices?: readonly string[];
  /** this option needs that one too */
  implies?: string;
  /** the command cannot run without it */
  demandOption?: boolean;
  /** checks or converts the value; what it throws is a usage error */
  coerce?: (value: never) => unknown;
}

export interface CommandSpec {
  /** `load-kern-object`, `load-kern-object dump`: replaces $0 in the texts */
  scriptName: string;
  /** the first lines of --help ($0 FILE [options], then what the command does) */
  usage: string;
  /** the one positional argument the command takes */
  positional: { name: string; describe: string };
  options: Readonly<Record<string, OptionSpec>>;
  examples?: readonly (readonly [string, string])[];
  epilog?: string;
}

export type ParsedArgs = Record<string, unknown>;

/** The arguments, or the help text (--help), or that --version was asked for, or a usage error. */
export type ParseOutcome = { args: ParsedArgs } | { help: string } | { version: true } | { error: string };

/** What every command answers before anything else, listed last in --help. */
const BUILT_IN: Readonly<Record<string, OptionSpec>> = {
  help: { type: 'boolean', describe: 'Show help' },
  version: { type: 'boolean', describe: 'print the version of bpf-load and exit' },
};

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

class UsageError extends Error {}

/** `--n 5`, `--n=0.5`; not `--n=` or `--n 5x`, which Number() would read as 0 and NaN. */
function numberOf(name: string, text: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (Number.isNaN(value)) throw new UsageError(`Invalid value for --${name}: '${text}' is not a number`);
  return value;
}

/** Parse `argv` as `spec` says. Pure: prints nothing, exits nothing. */
export function parseArgv(spec: CommandSpec, argv: readonly string[]): ParseOutcome {
  if (argv.includes('--help')) return { help: renderHelp(spec) };
  if (argv.includes('--version')) return { version: true };
  try {
    return { args: parse(spec, argv) };
  } catch (error) {
    if (error instanceof UsageError) return { error: error.message };
    throw error;
  }
}

function parse(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const values = new Map<string, unknown>();
  const positionals: string[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) unknown.push(arg.replace(/^-+/, ''));
      else positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    let name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    let inline = equals < 0 ? undefined : arg.slice(equals + 1);
    let option = spec.options[name];
    if (!option && name.startsWith('no-') && spec.options[name.slice(3)]?.type === 'boolean' && inline === undefined) {
      name = name.slice(3);
      option = spec.options[name];
      inline = 'false';
    }
    if (!option) {
      unknown.push(name);
      continue;
    }
    if (option.type === 'boolean') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') {
        throw new UsageError(`Invalid value for --${name}: '${inline}' (true or false)`);
      }
      values.set(name, inline !== 'false');
      continue;
    }
    const given: string[] = [];
    if (inline !== undefined) given.push(inline);
    else if (option.array) {
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) given.push(argv[++i]!);
    } else if (i + 1 < argv.length && (!argv[i + 1]!.startsWith('-') || /^-\d/.test(argv[i + 1]!))) {
      given.push(argv[++i]!);
    }
    if (given.length === 0) {
      if (option.requiresArg || option.array) throw new UsageError(`Not enough arguments following: ${name}`);
      given.push('');
    }
    const converted = given.map((text) => (option.type === 'number' ? numberOf(name, text) : text));
    const previous = values.get(name);
    values.set(name, option.array ? [...((previous as unknown[] | undefined) ?? []), ...converted] : converted[0]);
  }

  if (unknown.length > 0) {
    throw new UsageError(`Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  }
  if (positionals.length === 0) throw new UsageError('Not enough non-option arguments: got 0, need at least 1');
  if (positionals.length > 1) {
    const extra = positionals.slice(1);
    throw new UsageError(`Unknown argument${extra.length > 1 ? 's' : ''}: ${extra.join(', ')}`);
  }

  const missing = Object.entries(spec.options).filter(([name, option]) => option.demandOption && !values.has(name)).map(([name]) => name);
  if (missing.length > 0) throw new UsageError(`Missing required argument${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);

  for (const [name, option] of Object.entries(spec.options)) {
    const value = values.get(name);
    if (value === undefined) continue;
    if (option.choices) {
      const bad = (Array.isArray(value) ? value : [value]).find((v) => !option.choices!.includes(String(v)));
      if (bad !== undefined) {
        throw new UsageError(
          `Invalid values: Argument: ${name}, Given: ${JSON.stringify(bad)}, Choices: ${option.choices.map((c) => JSON.stringify(c)).join(', ')}`,
        );
      }
    }
    if (option.implies !== undefined && values.get(option.implies) === undefined) {
      throw new UsageError(`Missing dependent arguments: ${name} -> ${option.implies}`);
    }
    if (option.coerce) {
      try {
        values.set(name, option.coerce(value as never));
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    }
  }

  const args: ParsedArgs = { [spec.positional.name]: positionals[0] };
  for (const [name, option] of Object.entries(spec.options)) {
    const value = values.has(name) ? values.get(name) : option.default;
    if (value === undefined) continue;
    args[name] = value;
    args[camelCase(name)] = value;
  }
  return args;
}

/** --help: usage, the positional, the options with their type and default, examples, epilog. */
function renderHelp(spec: CommandSpec): string {
  const width = Math.min(110, process.stdout.columns || 100);
  const script = (text: string): string => text.replaceAll('$0', spec.scriptName);
  const options: [string, OptionSpec][] = [...Object.entries(spec.options), ...Object.entries(BUILT_IN)];
  const nameWidth = Math.max(spec.positional.name.length, ...options.map(([name]) => name.length + 2));
  const row = (name: string, text: string, tags: string): string => {
    const indent = 2 + nameWidth + 2;
    const lines = wrap(text, width - indent);
    const last = lines.at(-1) ?? '';
    if (indent + last.length + 2 + tags.length <= width) {
      lines[lines.length - 1] = `${last}${' '.repeat(width - indent - last.length - tags.length)}${tags}`;
    } else {
      lines.push(tags.padStart(width - indent));
    }
    return lines.map((line, i) => `${i === 0 ? `  ${name.padEnd(nameWidth)}  ` : ' '.repeat(indent)}${line}`.trimEnd()).join('\n');
  };
  const sections = [
    script(spec.usage),
    `Positionals:\n${row(spec.positional.name, spec.positional.describe, '[string]')}`,
    `Options:\n${options.map(([name, option]) => row(`--${name}`, option.describe, tagsOf(option))).join('\n')}`,
  ];
  if (spec.examples?.length) {
    const examples = spec.examples.map(([command, what]) => [script(command), what] as const);
    const commandWidth = Math.max(...examples.map(([command]) => command.length));
    sections.push(`Examples:\n${examples.map(([command, what]) => `  ${command.padEnd(commandWidth)}  ${what}`).join('\n')}`);
  }
  if (spec.epilog) sections.push(spec.epilog);
  return sections.join('\n\n');
}

function tagsOf(option: OptionSpec): string {
  const tags = [`[${option.array ? 'array' : option.type}]`];
  if (option.choices) tags.push(`[choices: ${option.choices.map((c) => JSON.stringify(c)).join(', ')}]`);
  if (option.demandOption) tags.push('[required]');
  if (option.default !== undefined) tags.push(`[default: ${JSON.stringify(option.default)}]`);
  return tags.join(' ');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
