// `.kconfig` externs: the kernel's build configuration (/proc/config.gz or
// /boot/config-$(uname -r)) and libbpf's virtual LINUX_* values, written into
// the bytes of the `.kconfig` map as libbpf writes them. The calculation is
// pure (config text and values in, bytes out); the readers beside it touch
// /proc, /boot and uname.

import { existsSync, readFileSync } from 'node:fs';
import { release, version as unameVersion } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { LoadError } from '../errors.js';
import type { KconfigExtern } from './externs.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** KERNEL_VERSION(a, b, c), c capped at 255 as the kernel's macro does */
export function kernelVersionCode(major: number, minor: number, patch: number): number {
  return ((major & 0xff) << 16) + ((minor & 0xff) << 8) + Math.min(patch, 255);
}

export interface KernelVersionSources {
  /** /proc/version_signature (Ubuntu: "Ubuntu 5.15.0-91.101-generic 5.15.131"), undefined when absent */
  versionSignature?: string | undefined;
  /** uname -r */
  release: string;
  /** uname -v (Debian: "#1 SMP Debian 6.1.76-1 (2024-02-01)") */
  version: string;
}

/**
 * LINUX_KERNEL_VERSION as libbpf's get_kernel_version computes it: Ubuntu's
 * /proc/version_signature (its last field is the upstream version), then
 * Debian's " Debian a.b.c" in uname -v, then uname -r's a.b.c; 0 when none parses.
 */
export function linuxKernelVersion(sources: KernelVersionSources): number {
  const triple = (text: string | undefined, pattern: RegExp): number => {
    const m = text === undefined ? null : pattern.exec(text);
    return m ? kernelVersionCode(Number(m[1]), Number(m[2]), Number(m[3])) : 0;
  };
  return triple(sources.versionSignature, /^\S+\s+\S+\s+(\d+)\.(\d+)\.(\d+)/) ||
    triple(sources.version, / Debian (\d+)\.(\d+)\.(\d+)/) ||
    triple(sources.release, /^(\d+)\.(\d+)\.(\d+)/);
}

/** The running kernel's LINUX_KERNEL_VERSION. */
export function runningLinuxKernelVersion(): number {
  const signature = '/proc/version_signature';
  return linuxKernelVersion({
    versionSignature: existsSync(signature) ? readFileSync(signature, 'utf8') : undefined,
    release: release(),
    version: unameVersion(),
  });
}

/** CONFIG_* lines of a kernel config: name → raw value (`y`, `m`, `n`, `"text"`, `1000`, `0x10`). */
export function parseKernelConfig(text: string, source = 'kernel config'): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('CONFIG_')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new LoadError(`${source}: cannot parse '${line}': no '='`, {}, { code: 'BPF_LOAD_SYSTEM' });
    const value = line.slice(eq + 1);
    if (value === '') throw new LoadError(`${source}: cannot parse '${line}': no value`, {}, { code: 'BPF_LOAD_SYSTEM' });
    const name = line.slice(0, eq);
    // the first line of a name wins, as in libbpf
    if (!values.has(name)) values.set(name, value);
  }
  return values;
}

let runningConfig: { values: Map<string, string>; source: string } | undefined;

/**
 * The running kernel's configuration, read once: /boot/config-$(uname -r), else /proc/config.gz
 * (libbpf's order). A LoadError (BPF_LOAD_SYSTEM) when neither can be read, or `configPath`
 * (a plain or gzipped config file) when given.
 */
export function runningKernelConfig(configPath?: string): { values: Map<string, string>; source: string } {
  if (configPath === undefined && runningConfig) return runningConfig;
  const candidates = configPath !== undefined ? [configPath] : [`/boot/config-${release()}`, '/proc/config.gz'];
  for (const path of candidates) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      continue;
    }
    const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
    const found = { values: parseKernelConfig(text, path), source: path };
    if (configPath === undefined) runningConfig = found;
    return found;
  }
  throw new LoadError(`the object reads CONFIG_* externs and the kernel's configuration is in none of ${candidates.join(', ')}`, {}, {
    code: 'BPF_LOAD_SYSTEM', hint: 'enable CONFIG_IKCONFIG_PROC, or install the kernel config under /boot',
  });
}

/** The virtual LINUX_* externs libbpf fills in itself. */
export interface LinuxVirtualValues {
  LINUX_KERNEL_VERSION: number;
  /** libbpf probes this by loading a program that calls bpf_get_attach_cookie (kernel 5.15+) */
  LINUX_HAS_BPF_COOKIE: boolean;
  /** libbpf probes this by opening a kprobe on __<arch>_sys_bpf: 0 where kprobes are unavailable */
  LINUX_HAS_SYSCALL_WRAPPER: boolean;
}

function rangeCheck(extern: KconfigExtern, value: bigint, fail: (message: string) => never): void {
  if (extern.type === 'bool') {
    if (value > 1n || value < 0n) fail(`value ${value} is out of range for a bool`);
    return;
  }
  const bits = BigInt(extern.size * 8);
  const fits = extern.signed
    ? BigInt.asIntN(64, value) >= -(1n << (bits - 1n)) && BigInt.asIntN(64, value) < (1n << (bits - 1n))
    : extern.size === 8 || BigInt.asUintN(64, value) < (1n << bits);
  if (!fits) fail(`value ${value} does not fit in ${extern.size} bytes`);
}

/**
 * The bytes of the `.kconfig` map: each extern at its offset, filled from `config` (CONFIG_*) and
 * `virtuals` (LINUX_*) as libbpf fills them — y/n/m into bools (1/0), tristates (1/0/2) and chars
 * ('y'/'n'/'m'), quoted strings into char arrays (truncated, NUL-terminated), integers (decimal,
 * 0x hex, 0 octal) into ints and chars; weak externs without a value stay zero. A LoadError naming
 * the extern for a strong one without a value (BPF_LOAD_SYSTEM) or a value its type cannot hold
 * (BPF_LOAD_INPUT). `onWarning` hears of truncated strings.
 */
export function kconfigBytes(
  externs: readonly KconfigExtern[],
  size: number,
  config: ReadonlyMap<string, string> | undefined,
  virtuals: LinuxVirtualValues,
  onWarning?: (message: string) => void,
): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  // the map's value is read by the program in the host's order (objects of the other order are refused before this)
  const le = HOST_LITTLE_ENDIAN;
  for (const extern of externs) {
    const fail = (message: string, code: 'BPF_LOAD_INPUT' | 'BPF_LOAD_SYSTEM' = 'BPF_LOAD_INPUT'): never => {
      throw new LoadError(`extern (kcfg) '${extern.name}': ${message}`, { section: '.kconfig' }, { code });
    };
    const writeNumber = (value: bigint): void => {
      rangeCheck(extern, value, fail);
      const unsigned = BigInt.asUintN(64, value);
      switch (extern.size) {
        case 1: view.setUint8(extern.offset, Number(unsigned & 0xffn)); break;
        case 2: view.setUint16(extern.offset, Number(unsigned & 0xffffn), le); break;
        case 4: view.setUint32(extern.offset, Number(unsigned & 0xffffffffn), le); break;
        case 8: view.setBigUint64(extern.offset, unsigned, le); break;
        default: fail(`an integer of ${extern.size} bytes`);
      }
    };
    if (extern.name.startsWith('LINUX_')) {
      let value: bigint;
      if (extern.name === 'LINUX_KERNEL_VERSION') {
        if (!virtuals.LINUX_KERNEL_VERSION) fail('the kernel version is unknown', 'BPF_LOAD_SYSTEM');
        value = BigInt(virtuals.LINUX_KERNEL_VERSION);
      } else if (extern.name === 'LINUX_HAS_BPF_COOKIE') {
        value = virtuals.LINUX_HAS_BPF_COOKIE ? 1n : 0n;
      } else if (extern.name === 'LINUX_HAS_SYSCALL_WRAPPER') {
        value = virtuals.LINUX_HAS_SYSCALL_WRAPPER ? 1n : 0n;
      } else if (extern.weak) {
        value = 0n;
      } else {
        return fail('unrecognized virtual extern (libbpf knows LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER)');
      }
      if (extern.type !== 'int' && extern.type !== 'char' && extern.type !== 'bool') fail(`value ${value} implies an integer, char or bool type, not ${extern.type}`);
      writeNumber(value);
      continue;
    }
    if (!extern.name.startsWith('CONFIG_')) fail('unrecognized extern: .kconfig externs are CONFIG_* or LINUX_*');
    const raw = config?.get(extern.name);
    if (raw === undefined) {
      if (!extern.weak) fail('strong extern not found in the kernel configuration (declare it __weak to default it to zero)', 'BPF_LOAD_SYSTEM');
      continue;
    }
    const first = raw[0];
    if (raw.length === 1 && (first === 'y' || first === 'n' || first === 'm')) {
      if (extern.type === 'bool') {
        if (first === 'm') fail(`value '${first}' implies a tristate or char type`);
        view.setUint8(extern.offset, first === 'y' ? 1 : 0);
      } else if (extern.type === 'tristate') {
        view.setUint32(extern.offset, first === 'y' ? 1 : first === 'm' ? 2 : 0, true);
        if (extern.size === 8) view.setUint32(extern.offset + 4, 0, true);
      } else if (extern.type === 'char') {
        view.setUint8(extern.offset, first.charCodeAt(0));
      } else {
        fail(`value '${first}' implies a bool, tristate or char type`);
      }
    } else if (first === '"') {
      if (extern.type !== 'char-array') fail(`value ${raw} implies a char array type`);
      if (raw.length < 2 || !raw.endsWith('"')) fail(`invalid string value ${raw}`);
      let text = Buffer.from(raw.slice(1, -1), 'utf8');
      if (text.length >= extern.size) {
        onWarning?.(`extern (kcfg) '${extern.name}': long string ${raw} (${text.length} bytes) truncated to ${extern.size - 1} bytes`);
        text = text.subarray(0, extern.size - 1);
      }
      bytes.set(text, extern.offset);
      bytes[extern.offset + text.length] = 0;
    } else {
      const value = parseCInteger(raw);
      if (value === undefined) fail(`value '${raw}' is not a valid integer`);
      if (extern.type !== 'int' && extern.type !== 'char' && extern.type !== 'bool') fail(`value ${raw} implies an integer, char or bool type`);
      writeNumber(value!);
    }
  }
  return bytes;
}

/** strtoull(text, &end, 0) taking all of `text`: decimal, 0x hex, 0 octal (a leading - wraps as in C). */
function parseCInteger(text: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2]!;
  const magnitude = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return BigInt.asUintN(64, m[1] === '-' ? -magnitude : magnitude);
}
