import { statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { mapTypeName } from '../../syscall/index.js';
import { isBpffs, pathExists, unpinDirectory } from '../bpffs/bpffs.js';
import { LineWriter } from './output.js';
import type { TypedMap } from '../maps/typedMap.js';
import { EXIT_KERNEL, EXIT_OK, PROGRAM_NAME, baseOptions, parseCommandLine, reportCliError, type CliIo } from './common.js';
import type { CommandSpec, OptionSpec } from './args.js';
import { CODEC_NAMES, bytes, codecByName, type Codec } from '../maps/codecs.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { MapError } from '../errors.js';
import { openPinnedMap } from '../maps/openMap.js';
import { exitStatusForSignal, type SignalWatch } from './signals.js';
import subcommand from './subcommand.cjs';

/**
 * The pinning side of load-kern-object: `--pin DIR`, `--force`,
 * `--reuse-pinned`, `--bpffs` on the load command, and the `dump PIN` and
 * `unpin DIR` subcommands.
 */

/** Options the load command takes for pinning. */
export const PIN_LOAD_OPTIONS = {
  pin: {
    type: 'string',
    describe:
      'pin every map at DIR/maps/<name> and every program at DIR/progs/<name> on bpffs (mounted at /sys/fs/bpf if ' +
      'needed); pins outlive this command: remove them with `unpin DIR`',
    requiresArg: true,
  },
  force: { type: 'boolean', default: false, describe: 'replace pins that exist already instead of refusing' },
  'reuse-pinned': {
    type: 'boolean',
    describe: 'use a map already pinned under --pin DIR when its type, sizes, max_entries and flags match, instead of creating it',
    implies: 'pin',
  },
  bpffs: {
    type: 'string',
    describe: 'bpffs directory for --convention tc pins (<bpffs>/tc/globals, <bpffs>/tc/<sha1>); default /sys/fs/bpf',
    requiresArg: true,
  },
} as const satisfies Record<string, OptionSpec>;

export interface PinLoadArgs {
  pin?: string | undefined;
  force?: boolean | undefined;
  reusePinned?: boolean | undefined;
  bpffs?: string | undefined;
}

/** The LoadOptions the pinning flags ask for. */
export function pinLoadOptions(args: PinLoadArgs): Pick<LoadOptions, 'pinDir' | 'force' | 'reusePinned' | 'bpffs'> {
  return {
    ...(args.pin !== undefined ? { pinDir: args.pin } : {}),
    ...(args.force ? { force: true } : {}),
    ...(args.reusePinned ? { reusePinned: true } : {}),
    ...(args.bpffs !== undefined ? { bpffs: args.bpffs } : {}),
  };
}

/** What the load command adds to its output when it pinned: where, and that the pins stay. */
export function pinNote(args: PinLoadArgs): string | undefined {
  if (args.pin === undefined) return undefined;
  const dir = resolve(args.pin);
  return `pinned in ${dir} (maps/, progs/): they stay after this command exits; remove them with: load-kern-object unpin ${dir}`;
}

export const PIN_SUBCOMMANDS_HELP = `Pinned objects:
  load-kern-object dump PIN [--json] [--key CODEC] [--value CODEC]
      print the entries of a pinned map (hex by default; per-CPU maps one value per CPU;
      queue and stack maps the next value, without popping it)
  load-kern-object unpin DIR
      remove what --pin DIR pinned (DIR/maps/*, DIR/progs/*, then the empty directories)`;

export const isPinSubcommand = subcommand.isPinSubcommand;

interface DumpArgs {
  pin: string;
  json: boolean;
  key?: string;
  value?: string;
  verbose: boolean;
}

interface UnpinArgs {
  dir: string;
  json: boolean;
  verbose: boolean;
}

/**
 * `dump PIN` / `unpin DIR`; resolves to the exit status. `signals` stops a
 * dump at Ctrl-C or SIGTERM (exit 130 / 143); an unpin, which is over in
 * milliseconds, runs to its end.
 */
export async function runPinSubcommand(argv: readonly string[], io: CliIo, signals?: SignalWatch): Promise<number> {
  const command = argv[0]!;
  const scriptName = `${PROGRAM_NAME} ${command}`;
  const spec: CommandSpec =
    command === 'dump'
      ? {
          scriptName,
          usage:
            '$0 PIN [options]\n\nPrint the entries of the map pinned at PIN (BPF_OBJ_GET, read-only). Keys and values are ' +
            'hex unless a codec is given; a per-CPU map shows one value per possible CPU.',
          positional: { name: 'pin', describe: 'pinned map path' },
          options: {
            ...baseOptions('print one JSON object'),
            key: { type: 'string', requiresArg: true, describe: `decode keys as: ${CODEC_NAMES.join(', ')}` },
            value: { type: 'string', requiresArg: true, describe: `decode values (per CPU for per-CPU maps) as: ${CODEC_NAMES.join(', ')}` },
          },
          epilog: `Example, keys and counters in decimal:\n  ${scriptName} /sys/fs/bpf/app/maps/flows --key u32 --value u64`,
        }
      : {
          scriptName,
          usage: '$0 DIR\n\nRemove what `load-kern-object FILE --pin DIR` pinned: DIR/maps/*, DIR/progs/*, then the directories left empty.',
          positional: { name: 'dir', describe: 'the --pin directory' },
          options: baseOptions('print one JSON object'),
        };

  const parsed = parseCommandLine<DumpArgs & UnpinArgs>(spec, argv.slice(1), io);
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.args;
  try {
    if (command === 'dump') return await dump(args, io, signals);
    unpin(args, io);
    return EXIT_OK;
  } catch (error) {
    return reportCliError(error, scriptName, args.verbose, io);
  }
}

function unpin(args: UnpinArgs, io: CliIo): void {
  const result = unpinDirectory(args.dir);
  if (args.json) {
    io.out(JSON.stringify({ removed: result.removed, removed_directories: result.removedDirectories, kept: result.kept }, null, 2));
    return;
  }
  const lines = [
    ...result.removed.map((path) => `unpinned ${path}`),
    ...result.removedDirectories.map((path) => `removed directory ${path}`),
    ...result.kept.map((what) => `kept ${what}`),
  ];
  io.out(lines.length ? lines.join('\n') : `nothing pinned in ${resolve(args.dir)}`);
}

function codecFor(name: string | undefined, size: number, what: 'key' | 'value', mapName: string): Codec<unknown> {
  if (name === undefined) return bytes(size) as Codec<unknown>;
  const codec = codecByName(name, size);
  if (!codec) {
    throw new LoadError(`unknown ${what} codec '${name}'`, {}, { hint: `one of: ${CODEC_NAMES.join(', ')}` });
  }
  if (codec.size !== size) {
    throw new LoadError(`${what} codec ${name} is ${codec.size} bytes, but map '${mapName}' has ${what}_size ${size}`, {});
  }
  return codec;
}

async function dump(args: DumpArgs, io: CliIo, signals: SignalWatch | undefined): Promise<number> {
  const path = resolve(args.pin);
  if (!pathExists(path)) throw new LoadError(`nothing is pinned at '${path}'`, {});
  // what the user named is not a pin at all: bad input, said before the kernel is asked
  if (statSync(path).isDirectory()) {
    const maps = join(path, 'maps');
    throw new LoadError(`'${path}' is a directory, not a pinned map`, {}, {
      ...(pathExists(maps) ? { hint: `the maps --pin put there are in ${maps}/` } : {}),
    });
  }
  if (!isBpffs(dirname(path))) {
    throw new LoadError(`'${path}' is not on a bpf filesystem, so it cannot be a pinned map`, {});
  }
  let map: BpfMap;
  try {
    map = openPinnedMap(path, { readOnly: true, name: basename(path) });
  } catch (error) {
    // no errno: the kernel opened it, but it is a program or a link, not a map — bad input (exit 2), not a refusal
    if (error instanceof MapError && error.errno === undefined) {
      throw new LoadError(`'${path}' is not a pinned map: ${error.message}`, {}, { cause: error });
    }
    throw error;
  }
  try {
    const keyCodec = codecFor(args.key, map.keySize, 'key', map.name);
    const valueCodec = codecFor(args.value, map.valueSize, 'value', map.name);
    const perCpu = map.isPerCpu;
    const view = perCpu ? map.perCpu(keyCodec, valueCodec) : map.typed(keyCodec, valueCodec);
    const info = map.info;
    const header = {
      path,
      id: info.id,
      name: info.name,
      type: mapTypeName(info.type),
      key_size: info.key_size,
      value_size: info.value_size,
      max_entries: info.max_entries,
      flags: info.map_flags,
      ...(perCpu ? { possible_cpus: map.possibleCpus } : {}),
    };
    const title =
      `${path}: map '${info.name}' (${header.type}, id ${info.id}, key ${info.key_size}, value ${info.value_size}, ` +
      `max_entries ${info.max_entries}, flags 0x${info.map_flags.toString(16)}${perCpu ? `, ${map.possibleCpus} possible CPUs` : ''})`;
    if (map.keySize === 0) {
      // a queue or stack has no keys to walk, and popping would empty it: show what peek() sees
      const next = view.peek();
      if (args.json) io.out(JSON.stringify({ map: header, next: next === undefined ? null : toJson(next) }, null, 2));
      else io.out(`${title}: ${next === undefined ? 'empty' : `next value (peek, nothing removed): ${toText(next)}`}`);
      return EXIT_OK;
    }
    const out = new LineWriter(io);
    const walk: Walk = { view, out, interrupted: () => signals?.received !== undefined, written: 0 };
    const count = args.json ? await dumpJson(walk, header, perCpu) : await dumpText(walk, title, perCpu);
    const signal = signals?.received;
    if (signal !== undefined) {
      io.err(`${PROGRAM_NAME} dump: interrupted by ${signal} after ${walk.written} entries; the output is incomplete`);
      return exitStatusForSignal(signal);
    }
    return count === undefined ? EXIT_KERNEL : EXIT_OK;
  } finally {
    map.close();
  }
}

type DumpView = TypedMap<unknown, unknown, never, never>;

interface Walk {
  view: DumpView;
  out: LineWriter;
  /** a signal came: stop at the next piece */
  interrupted(): boolean;
  /** entries handed to the output so far */
  written: number;
}

/** One turn of the event loop: a write to a file, a terminal or /dev/null never waits, and signal handlers run only between turns. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Every entry of the view, decoded chunk by chunk as the walk goes and
 * written as soon as a piece is full: nothing is kept once it is written.
 * Stops early (undefined) when the output fails or a signal came.
 */
async function walkEntries(walk: Walk, visit: (key: unknown, value: unknown) => void): Promise<number | undefined> {
  const { view, out } = walk;
  const keyCodec = view.keyCodec;
  const valueCodec = view.valueCodec;
  for (const chunk of view.chunks(true)) {
    for (let i = 0; i < chunk.count; i++) {
      visit(keyCodec.decode(chunk.keys, chunk.keysView, i * chunk.keySize), valueCodec.decode(chunk.values, chunk.valuesView, i * chunk.valueSize));
      walk.written++;
      if (out.full) {
        await out.flush();
        if (!out.ok) return undefined;
        await nextTurn();
        if (walk.interrupted()) return undefined;
      }
    }
  }
  return walk.written;
}

/** The text dump: the title, a line per entry (per CPU: a line per CPU under the key), then the count. */
async function dumpText(walk: Walk, title: string, perCpu: boolean): Promise<number | undefined> {
  const out = walk.out;
  out.line(`${title}:`);
  const count = await walkEntries(walk, (key, value) => {
    if (!perCpu) return out.line(`key: ${toText(key)}  value: ${toText(value)}`);
    out.line(`key: ${toText(key)}`);
    const slots = value as unknown[];
    for (let cpu = 0; cpu < slots.length; cpu++) out.line(`  cpu ${cpu}: ${toText(slots[cpu])}`);
  });
  if (count === undefined) return out.flush().then(() => undefined);
  out.line(`${count} ${count === 1 ? 'entry' : 'entries'}`);
  await out.flush();
  return out.ok ? count : undefined;
}

/**
 * The JSON dump, written as it walks: byte for byte what
 * JSON.stringify({ map, entries }, null, 2) would give for the whole map.
 */
async function dumpJson(walk: Walk, header: object, perCpu: boolean): Promise<number | undefined> {
  const out = walk.out;
  const head = JSON.stringify({ map: header }, null, 2);
  // everything but the closing brace, then the entries array opened lazily: an empty map gives "entries": []
  const opening = `${head.slice(0, head.length - 2)},\n  "entries": [`;
  let first = true;
  const count = await walkEntries(walk, (key, value) => {
    const row = perCpu ? { key: toJson(key), values: (value as unknown[]).map(toJson) } : { key: toJson(key), value: toJson(value) };
    const text = JSON.stringify(row, null, 2).replace(/\n/g, '\n    ');
    out.text(first ? `${opening}\n    ${text}` : `,\n    ${text}`);
    first = false;
  });
  if (count === undefined) return out.flush().then(() => undefined);
  out.text(first ? `${opening}]\n}\n` : '\n  ]\n}\n');
  await out.flush();
  return out.ok ? count : undefined;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function spacedHex(bytes: Uint8Array): string {
  if (bytes.byteLength === 0) return '';
  let text = HEX[bytes[0]!]!;
  for (let i = 1; i < bytes.byteLength; i++) text += ` ${HEX[bytes[i]!]!}`;
  return text;
}

function toText(value: unknown): string {
  if (value instanceof Uint8Array) return spacedHex(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(toJson(value));
  return String(value);
}

/** JSON has no bigint and no bytes: 64-bit integers become decimal strings, bytes a hex string. */
function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}
