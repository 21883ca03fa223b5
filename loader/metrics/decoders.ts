import { readFileSync, readdirSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

/**
 * The decoders a label's bytes go through, in turn, as ebpf_exporter names
 * them: each takes what the one before gave (first the key's bytes) and
 * gives bytes again, the last one's being the label value.
 */
export const DECODER_NAMES = ['uint', 'hex', 'string', 'inet_ip', 'ksym', 'static_map', 'regexp', 'dname', 'cgroup'] as const;
export type DecoderName = (typeof DECODER_NAMES)[number];

/** A decoder's verdict that this key's series is not exported (regexp found no match). */
export const SKIP = Symbol('skip series');

export interface DecoderSettings {
  name: DecoderName;
  static_map?: Readonly<Record<string, string>>;
  allow_unknown?: boolean;
  regexps?: readonly string[];
}

export type Decode = (input: Buffer) => Buffer | typeof SKIP;

const littleEndian = endianness() === 'LE';

/** A decoder ready to run: regexps compiled, tables it reads loaded on first use. */
export function makeDecoder(settings: DecoderSettings, system: DecoderSystem): Decode {
  switch (settings.name) {
    case 'uint':
      return (input) => Buffer.from(readUint(input).toString());
    case 'hex':
      return (input) => Buffer.from(input.toString('hex'));
    case 'string':
      return (input) => {
        const end = input.indexOf(0);
        return end < 0 ? input : input.subarray(0, end);
      };
    case 'inet_ip':
      return (input) => Buffer.from(formatIp(input));
    case 'ksym':
      return (input) => Buffer.from(system.ksym(readUint(input)));
    case 'static_map': {
      const table = new Map(Object.entries(settings.static_map ?? {}));
      const keep = settings.allow_unknown === true;
      return (input) => {
        const value = table.get(input.toString());
        if (value !== undefined) return Buffer.from(value);
        return keep ? input : Buffer.from(`unknown:${input.toString()}`);
      };
    }
    case 'regexp': {
      const patterns = (settings.regexps ?? []).map((p) => new RegExp(p));
      return (input) => {
        const text = input.toString();
        return patterns.some((p) => p.test(text)) ? input : SKIP;
      };
    }
    case 'dname':
      return (input) => Buffer.from(formatDname(input));
    case 'cgroup':
      return (input) => Buffer.from(system.cgroupPath(input.toString()));
  }
}

/** An unsigned integer of 1, 2, 4 or 8 bytes in the host's byte order, as the kernel wrote it. */
export function readUint(input: Buffer): bigint {
  switch (input.length) {
    case 1:
      return BigInt(input[0]!);
    case 2:
      return BigInt(littleEndian ? input.readUInt16LE(0) : input.readUInt16BE(0));
    case 4:
      return BigInt(littleEndian ? input.readUInt32LE(0) : input.readUInt32BE(0));
    case 8:
      return littleEndian ? input.readBigUInt64LE(0) : input.readBigUInt64BE(0);
    default:
      throw new Error(`an unsigned integer is 1, 2, 4 or 8 bytes, this is ${input.length}`);
  }
}

/**
 * An address as Go's net.IP prints it: dotted for 4 bytes and for an
 * IPv4-mapped IPv6 address, RFC 5952 for 16, `?` and hex for anything else.
 */
export function formatIp(input: Buffer): string {
  if (input.length === 4) return [...input].join('.');
  if (input.length !== 16) return `?${input.toString('hex')}`;
  if (input.subarray(0, 10).every((b) => b === 0) && input[10] === 0xff && input[11] === 0xff) return [...input.subarray(12)].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => input.readUInt16BE(i * 2));
  // the longest run of two or more zero groups becomes ::, the first such run on a tie
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** A DNS name in wire format (length-prefixed labels) as dotted text; bytes that do not parse are kept as they are. */
export function formatDname(input: Buffer): string {
  if (input.length === 0) return '.';
  const out = Buffer.from(input);
  for (let at = 0; at < input.length; ) {
    const n = input[at]!;
    out[at] = 0x2e;
    at++;
    if (at + n > input.length) return input.toString();
    at += n;
  }
  return out.subarray(1).toString();
}

/**
 * What the decoders read from the system, loaded when first needed and kept:
 * kernel symbols from /proc/kallsyms, cgroup paths by id under the cgroup2
 * mount. Tests give their own paths.
 */
export class DecoderSystem {
  #symbols: { addresses: BigUint64Array; names: string[] } | undefined;
  readonly #cgroups = new Map<string, string>();
  #cgroupScans = 0;

  constructor(
    readonly kallsyms = '/proc/kallsyms',
    readonly cgroupRoot = '/sys/fs/cgroup',
  ) {}

  /** The symbol at or below `address` (as bcc's ksym does), `unknown_addr:0x…` where there is none. */
  ksym(address: bigint): string {
    const { addresses, names } = (this.#symbols ??= loadKallsyms(this.kallsyms));
    let low = 0;
    let high = addresses.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (addresses[mid]! <= address) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 || address === 0n ? `unknown_addr:0x${address.toString(16)}` : names[found]!;
  }

  /**
   * The path of the cgroup with this id (on cgroup v2, the inode number of its
   * directory). An id not seen yet rescans the tree once per new id.
   */
  cgroupPath(id: string): string {
    const known = this.#cgroups.get(id);
    if (known !== undefined) return known;
    if (this.#cgroupScans < 1000) {
      this.#cgroupScans++;
      scanCgroups(this.cgroupRoot, this.#cgroups);
    }
    return this.#cgroups.get(id) ?? `unknown_cgroup_id:${id}`;
  }
}

function loadKallsyms(path: string): { addresses: BigUint64Array; names: string[] } {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // no kallsyms (a container without /proc): every address is unknown
  }
  const entries: [bigint, string][] = [];
  for (const line of text.split('\n')) {
    const [address, , name] = line.split(/\s+/);
    if (!address || !name) continue;
    const value = BigInt(`0x${address}`);
    if (value !== 0n) entries.push([value, name]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { addresses: BigUint64Array.from(entries.map((e) => e[0])), names: entries.map((e) => e[1]) };
}

function scanCgroups(root: string, into: Map<string, string>): void {
  const visit = (dir: string): void => {
    try {
      into.set(String(statSync(dir, { bigint: true }).ino), dir);
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) visit(join(dir, entry.name));
    } catch {
      // a cgroup removed while we walk
    }
  };
  visit(root);
}
