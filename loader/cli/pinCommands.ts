import { readdirSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { mapTypeName } from '../../syscall/index.js';
import { DEFAULT_BPFFS, isBpffs, pathExists, unpinDirectory } from '../bpffs/bpffs.js';
import { LineWriter } from './output.js';
import type { TypedMap } from '../maps/typedMap.js';
import { EXIT_KERNEL, EXIT_OK, PROGRAM_NAME, type CliIo } from './common.js';
import type { CliContext } from './command.js';
import { CODEC_NAMES, bytes, codecByName, type Codec } from '../maps/codecs.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { BpfObject } from '../load/bpfObject.js';
import { MapError } from '../errors.js';
import { openPinnedMap } from '../maps/openMap.js';
import { exitStatusForSignal, type SignalWatch } from './signals.js';
import type { LoadArgs } from './loadOptions.js';

/**
 * The pinning side of load-kern-object: what `--pin DIR`, `--force`,
 * `--reuse-pinned`, `--bpffs` ask of a load, what it says of the pins it
 * leaves, and the `dump PIN` and `unpin PATH…` commands.
 */

/** The LoadOptions the pinning flags ask for. */
export function pinLoadOptions(args: Pick<LoadArgs, 'pin' | 'force' | 'reusePinned' | 'bpffs'>): Pick<LoadOptions, 'pinDir' | 'force' | 'reusePinned' | 'bpffs'> {
  return {
    ...(args.pin !== undefined ? { pinDir: args.pin } : {}),
    ...(args.force ? { force: true } : {}),
    ...(args.reusePinned ? { reusePinned: true } : {}),
    ...(args.bpffs !== undefined ? { bpffs: args.bpffs } : {}),
  };
}

/** What the load command adds to its output when it pinned: where, and that the pins stay. */
export function pinNote(args: Pick<LoadArgs, 'pin'>): string | undefined {
  if (args.pin === undefined) return undefined;
  const dir = resolve(args.pin);
  return `pinned in ${dir} (maps/, progs/): they stay after this command exits; remove them with: load-kern-object unpin ${dir}`;
}

/**
 * The maps the tc convention pinned (PIN_GLOBAL_NS, PIN_OBJECT_NS): they
 * stay after the command as they do after tc, so say where and how to
 * remove them. Undefined when nothing was pinned that way.
 */
export function tcPinNote(object: BpfObject, args: Pick<LoadArgs, 'pin' | 'convention'>): string | undefined {
  if (args.convention !== 'tc' || args.pin !== undefined) return undefined;
  const pins = object.maps.map((map) => map.pinPath).filter((path): path is string => path !== undefined);
  if (pins.length === 0) return undefined;
  return `pinned by the tc convention: ${pins.join(', ')}: they stay after this command exits (other tc objects share ` +
    `them by name); remove them with: load-kern-object unpin ${pins.join(' ')}`;
}

/** The id of a mount namespace (`mnt:[4026531841]`), or undefined when it cannot be read. */
function mountNamespace(pid: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/**
 * --pin under /sys/fs/bpf where no bpffs is mounted, in a mount namespace
 * made for this command (`ip netns exec` makes one per command and mounts
 * /sys afresh in it; so does `unshare -m`): the load would mount a bpffs in
 * it, and that bpffs, with the pins, would vanish when the command exits.
 * Refuse instead of promising pins that do not last. Made for this command:
 * its parent (or, where the parent cannot be read, init) is elsewhere.
 */
export function checkPersistentBpffs(pinDir: string): void {
  const target = resolve(pinDir);
  if (!(target === DEFAULT_BPFFS || target.startsWith(`${DEFAULT_BPFFS}/`)) || isBpffs(DEFAULT_BPFFS)) return;
  const own = mountNamespace('self');
  const outside = mountNamespace(String(process.ppid)) ?? mountNamespace('1');
  if (own === undefined || outside === undefined || own === outside) return;
  throw new LoadError(
    `--pin ${target}: no bpf filesystem is mounted at ${DEFAULT_BPFFS} in this mount namespace, which was made for ` +
      'this command (as `ip netns exec` does, mounting /sys afresh): a bpffs mounted here, and the pins in it, would ' +
      'vanish when this command exits',
    {},
    {
      code: 'BPF_LOAD_SYSTEM',
      hint: 'pins belong to no network namespace: pin without ip netns exec (or nsenter -t 1 -m), or, for pins that ' +
        `end with this namespace, mount bpffs in it first: mount -t bpf bpf ${DEFAULT_BPFFS}`,
    },
  );
}

export interface DumpArgs {
  pin: string;
  json: boolean;
  key?: string;
  value?: string;
  verbose: boolean;
}

export interface UnpinArgs {
  paths: string[];
  json: boolean;
  verbose: boolean;
}

/** `dump PIN`: a signal stops it (exit 130 / 143). */
export async function runDump(args: DumpArgs, { io, signals }: CliContext): Promise<number> {
  return dump(args, io, signals);
}

/**
 * `unpin PATH…`: a --pin directory (its maps/ and progs/, then the empty
 * directories), or pins named one by one (what the tc convention leaves).
 * Over in milliseconds, so it runs to its end whatever signal comes.
 */
export async function runUnpin(args: UnpinArgs, { io }: CliContext): Promise<number> {
  const result = { removed: [] as string[], removed_directories: [] as string[], kept: [] as string[] };
  for (const path of args.paths) unpinOne(resolve(path), result);
  if (args.json) {
    io.out(JSON.stringify(result, null, 2));
    return EXIT_OK;
  }
  const lines = [
    ...result.removed.map((path) => `unpinned ${path}`),
    ...result.removed_directories.map((path) => `removed directory ${path}`),
    ...result.kept.map((what) => `kept ${what}`),
  ];
  io.out(lines.length ? lines.join('\n') : `nothing pinned in ${args.paths.map((p) => resolve(p)).join(', ')}`);
  return EXIT_OK;
}

function unpinOne(path: string, result: { removed: string[]; removed_directories: string[]; kept: string[] }): void {
  if (pathExists(path) && !statSync(path).isDirectory()) {
    if (!isBpffs(dirname(path))) throw new LoadError(`'${path}' is not on a bpf filesystem, so it is no pin`, {});
    try {
      unlinkSync(path);
    } catch (cause) {
      throw new LoadError(`cannot remove pin '${path}': ${(cause as NodeJS.ErrnoException).code}`, {}, { cause });
    }
    result.removed.push(path);
    return;
  }
  const layout = ['maps', 'progs'].some((sub) => pathExists(join(path, sub)));
  if (pathExists(path) && isBpffs(path) && !layout) {
    // not what --pin makes (tc's globals, a bpftool pin directory): removing all of it could take what others use
    const entries = readdirSync(path).sort();
    if (entries.length > 0) {
      throw new LoadError(
        `'${path}' is not a --pin directory (it has no maps/ or progs/): it holds ${entries.length} pin(s) or directories, left alone`,
        {},
        { code: 'BPF_LOAD_ARGUMENT', hint: `name the pins to remove, e.g. load-kern-object unpin ${join(path, entries[0]!)}` },
      );
    }
  }
  const done = unpinDirectory(path);
  result.removed.push(...done.removed);
  result.removed_directories.push(...done.removedDirectories);
  result.kept.push(...done.kept.map((what) => what.replace(/ \(not empty\)$/, ' (not empty: it holds more than --pin put there)')));
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

async function dump(args: DumpArgs, io: CliIo, signals: SignalWatch): Promise<number> {
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
    const walk: Walk = { view, out, interrupted: () => signals.received !== undefined, written: 0 };
    const count = args.json ? await dumpJson(walk, header, perCpu) : await dumpText(walk, title, perCpu);
    const signal = signals.received;
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
