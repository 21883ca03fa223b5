import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { ElfSymbolTables, findFunctionOffset, findFunctionsMatching } from '../../elf/funcOffset.js';
import {
  BPF_ATTACH_TYPE, BPF_PROG_TYPE, errno, haveFeature, linkCreateUprobeMulti, perfEventOpenProbe,
} from '../../syscall/index.js';
import { BpfProgram } from '../programs/bpfProgram.js';
import { LoadError, argumentError, checkBoolean, checkOptions, checkString } from '../errors.js';
import { PMU_ROOT, probePmu } from './probePmu.js';
import { attachTraceEvent, checkPerfOptions, type PerfAttachOptions } from './tracing.js';
import {
  Attachment, attachStep, checkProgramRef, progFdOf, programContext, programLabel, requireProgramType, type ProgramRef,
} from './attachment.js';

/** libbpf's arch_specific_lib_paths(): the multiarch library directory of Debian-style systems. */
const MULTIARCH: Readonly<Record<string, string>> = {
  x64: '/lib/x86_64-linux-gnu', arm64: '/lib/aarch64-linux-gnu', arm: '/lib/arm-linux-gnueabihf', s390x: '/lib/s390x-linux-gnu',
  ppc64: '/lib/powerpc64le-linux-gnu', riscv64: '/lib/riscv64-linux-gnu', loong64: '/lib/loongarch64-linux-gnu', mips64el: '/lib/mips64el-linux-gnuabi64',
};

/**
 * Where a uprobe's binary is, as libbpf's resolve_full_path() finds it: a
 * name with a `/` is a path (made absolute here, from the current
 * directory); a shared library's name (`libc.so.6`, `*.so`) is looked up in
 * LD_LIBRARY_PATH, /usr/lib64, /usr/lib and the multiarch directory, and
 * must be readable; any other name in PATH, /usr/bin and /usr/sbin, and
 * must be executable. The directories searched, when nothing is found.
 */
export function resolveBinaryPath(binary: string): { path: string } | { searched: string[] } {
  checkString(binary, 'binary', 'resolveBinaryPath');
  if (binary.includes('/')) return { path: resolve(binary) };
  const library = binary.endsWith('.so') || binary.includes('.so.');
  const lists = library
    ? [process.env['LD_LIBRARY_PATH'], '/usr/lib64:/usr/lib', MULTIARCH[process.arch]]
    : [process.env['PATH'], '/usr/bin:/usr/sbin'];
  const mode = library ? constants.R_OK : constants.R_OK | constants.X_OK;
  const searched: string[] = [];
  for (const list of lists) {
    for (const dir of (list ?? '').split(delimiter)) {
      if (!dir || searched.includes(dir)) continue;
      searched.push(dir);
      const candidate = resolve(dir, binary);
      try {
        accessSync(candidate, mode);
        return { path: candidate };
      } catch {
        // not here
      }
    }
  }
  return { searched };
}

/** The binary's absolute path, or the error that names it and where it was looked for. */
export function binaryPath(program: ProgramRef, binary: string, what: string): string {
  const found = resolveBinaryPath(binary);
  if ('path' in found) return found.path;
  throw new LoadError(`${what}: no binary '${binary}' in ${found.searched.join(':') || '(no directories)'}`, programContext(program), {
    hint: "give the binary by path, or add its directory to PATH; a library's to LD_LIBRARY_PATH",
    code: 'BPF_LOAD_INPUT',
  });
}

/**
 * The binary read last, while something still holds it: the probes of one object on one binary
 * (auto-attach) read it once, and a large binary is not kept alive for the next attach.
 */
let lastRead: { key: string; tables: WeakRef<ElfSymbolTables> } | undefined;

/** The symbol tables of the binary at `path`, or the error saying it cannot be read as one. */
export function symbolTables(program: ProgramRef, path: string, what: string): ElfSymbolTables {
  let bytes: Buffer;
  let key: string;
  try {
    const stat = statSync(path);
    key = `${path}\0${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    const cached = lastRead?.key === key ? lastRead.tables.deref() : undefined;
    if (cached) return cached;
    bytes = readFileSync(path);
  } catch (cause) {
    throw new LoadError(`${what}: cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? cause})`, programContext(program), {
      cause, code: 'BPF_LOAD_INPUT',
    });
  }
  try {
    const tables = new ElfSymbolTables(bytes, path);
    lastRead = { key, tables: new WeakRef(tables) };
    return tables;
  } catch (cause) {
    throw new LoadError(`${what}: ${(cause as Error).message}`, programContext(program), { cause, code: 'BPF_LOAD_INPUT' });
  }
}

/** The file offset of `func` in the binary, or the error that names both. */
function functionOffset(program: ProgramRef, tables: ElfSymbolTables, func: string, what: string): number {
  const found = findFunctionOffset(tables, func);
  if (found.found) return found.offset;
  throw new LoadError(`${what}: ${found.reason} of ${tables.file}`, programContext(program), {
    hint: `list its functions with: nm -D --defined-only ${tables.file}; nm ${tables.file}`,
    code: 'BPF_LOAD_INPUT',
  });
}

function wholeNumber(where: string, name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw argumentError(where, name, `a whole number >= ${min}`, value);
  return value;
}

export interface UprobeOptions extends PerfAttachOptions {
  /** the executable or shared library: a path, or a name looked up as libbpf does (see resolveBinaryPath) */
  binary: string;
  /** the function, from the binary's symbol tables (`name`, or `name@VERSION`); without it `offset` is a file offset */
  function?: string;
  /** bytes after the function's start, or (without `function`) the file offset to probe */
  offset?: number;
  /** only this process (its threads); by default every process that runs the binary */
  pid?: number;
  /** run when the function returns (a uretprobe) */
  retprobe?: boolean;
}

/**
 * uprobe (or uretprobe) on a function of an executable or shared library:
 * the function's file offset from its symbol tables (as libbpf's
 * elf_find_func_offset()), a perf event of the uprobe PMU there (nothing is
 * written to tracefs's uprobe_events), tied to the program by a bpf_link
 * (Linux >= 5.15; with via: 'legacy', PERF_EVENT_IOC_SET_BPF). Every
 * process that maps the binary hits it, or only `pid`'s. close() detaches.
 */
export function attachUprobe(program: ProgramRef, options: UprobeOptions): Attachment {
  const where = 'attachUprobe';
  checkProgramRef(program, where);
  if (typeof options !== 'object' || options === null) throw argumentError(where, 'options', 'an object with binary', options);
  checkPerfOptions(options, where, ['binary', 'function', 'offset', 'pid', 'retprobe']);
  checkString(options.binary, 'options.binary', where);
  if (options.function !== undefined) checkString(options.function, 'options.function', where);
  checkBoolean(options.retprobe, 'options.retprobe', where);
  const extra = wholeNumber(where, 'options.offset', options.offset, 0);
  const pid = wholeNumber(where, 'options.pid', options.pid, 0);
  if (options.function === undefined && extra === undefined) throw argumentError(where, 'options', 'a function or an offset (or both)', options);
  const kind = options.retprobe ? 'uretprobe' : 'uprobe';
  const spot = `${options.function ?? ''}${extra ? `${options.function ? '+' : ''}0x${extra.toString(16)}` : ''}`;
  let what = `attach ${kind} to ${options.binary}:${spot}${pid !== undefined ? ` (pid ${pid})` : ''}`;
  progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.KPROBE], 'a uprobe runs SEC("uprobe/…") and SEC("uretprobe/…") programs');
  const path = binaryPath(program, options.binary, what);
  if (path !== options.binary) what = `attach ${kind} to ${path}:${spot}${pid !== undefined ? ` (pid ${pid})` : ''}`;
  const offset = (options.function === undefined ? 0 : functionOffset(program, symbolTables(program, path, what), options.function, what)) + (extra ?? 0);
  const pmu = probePmu('uprobe');
  if (!pmu) {
    throw new LoadError(`${what}: this kernel has no uprobe PMU (${PMU_ROOT}/uprobe: CONFIG_UPROBE_EVENTS is not set, or Linux < 4.17)`,
      programContext(program), { errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED' });
  }
  const config = options.retprobe ? pmu.retprobe : 0n;
  return attachTraceEvent(program, 'uprobe', `${path}:${spot}`, what, () => attachStep(program, what,
    () => perfEventOpenProbe({ pmuType: pmu.type, config, name: path, offset: BigInt(offset), ...(pid !== undefined ? { pid } : {}) }),
    (cause) => (cause.errno === errno.ESRCH ? `no process ${pid}` : cause.errno === errno.EINVAL ? `is 0x${offset.toString(16)} inside ${path}?` : undefined)),
  options);
}

export interface UprobeMultiOptions {
  binary: string;
  /** a glob of function names (`*`, `?`), as SEC("uprobe.multi/BINARY:PATTERN") */
  pattern?: string;
  /** or the functions by name */
  functions?: readonly string[];
  /** or file offsets */
  offsets?: readonly number[];
  pid?: number;
  retprobe?: boolean;
}

/**
 * One uprobe_multi link (Linux 6.6) on many functions of one binary: by a
 * glob of their names (libbpf's elf_resolve_pattern_offsets()), by name or
 * by file offset. The program must have been loaded for
 * BPF_TRACE_UPROBE_MULTI (SEC("uprobe.multi/…") does that).
 */
export function attachUprobeMulti(program: ProgramRef, options: UprobeMultiOptions): Attachment {
  const where = 'attachUprobeMulti';
  checkProgramRef(program, where);
  if (typeof options !== 'object' || options === null) throw argumentError(where, 'options', 'an object with binary', options);
  checkOptions(options, ['binary', 'pattern', 'functions', 'offsets', 'pid', 'retprobe'], where);
  checkString(options.binary, 'options.binary', where);
  checkBoolean(options.retprobe, 'options.retprobe', where);
  const pid = wholeNumber(where, 'options.pid', options.pid, 0);
  const given = [options.pattern, options.functions, options.offsets].filter((o) => o !== undefined).length;
  if (given !== 1) throw argumentError(where, 'options', 'exactly one of pattern, functions or offsets', options);
  if (options.pattern !== undefined) checkString(options.pattern, 'options.pattern', where);
  for (const name of ['functions', 'offsets'] as const) {
    const list: unknown = options[name];
    const element = name === 'functions' ? (f: unknown) => typeof f === 'string' && f !== '' : (o: unknown) => Number.isSafeInteger(o) && (o as number) > 0;
    if (list !== undefined && (!Array.isArray(list) || list.length === 0 || !list.every(element))) {
      throw argumentError(where, `options.${name}`, name === 'functions' ? 'a non-empty array of names' : 'a non-empty array of file offsets > 0', list);
    }
  }
  const kind = options.retprobe ? 'uretprobe.multi' : 'uprobe.multi';
  const spot = options.pattern ?? options.functions?.join(',') ?? options.offsets!.map((o) => `0x${o.toString(16)}`).join(',');
  let what = `attach ${kind} to ${options.binary}:${spot}${pid !== undefined ? ` (pid ${pid})` : ''}`;
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.KPROBE], 'a uprobe.multi runs SEC("uprobe.multi/…") programs');
  const attachType = program instanceof BpfProgram && program.expectedAttachType === BPF_ATTACH_TYPE.TRACE_UPROBE_SESSION
    ? BPF_ATTACH_TYPE.TRACE_UPROBE_SESSION : BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI;
  if (program instanceof BpfProgram && program.expectedAttachType !== attachType) {
    throw new LoadError(`${what}: the program was not loaded for uprobe_multi links (expected_attach_type ${program.expectedAttachType ?? 0})`,
      programContext(program), { code: 'BPF_LOAD_ARGUMENT', hint: 'load it from a SEC("uprobe.multi/…") section, or attach it with attachUprobe' });
  }
  if (!attachStep(program, what, () => haveFeature('uprobeMultiLink'))) {
    throw new LoadError(`${what}: this kernel has no uprobe_multi links (needs Linux >= 6.6)`, programContext(program), {
      errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED', hint: 'attach each function with attachUprobe instead',
    });
  }
  const path = binaryPath(program, options.binary, what);
  if (path !== options.binary) what = `attach ${kind} to ${path}:${spot}${pid !== undefined ? ` (pid ${pid})` : ''}`;
  let offsets: number[];
  if (options.offsets) {
    offsets = [...options.offsets];
  } else {
    const tables = symbolTables(program, path, what);
    if (options.functions) {
      offsets = options.functions.map((f) => functionOffset(program, tables, f, what));
    } else {
      offsets = findFunctionsMatching(tables, options.pattern!).map((f) => f.offset);
      if (offsets.length === 0) {
        throw new LoadError(`${what}: no function of ${path} matches '${options.pattern}'`, programContext(program), { code: 'BPF_LOAD_INPUT' });
      }
    }
  }
  const link = attachStep(program, what, () => linkCreateUprobeMulti({
    progFd, path, offsets, attachType, retprobe: options.retprobe === true, ...(pid !== undefined ? { pid } : {}),
  }), (cause) => (cause.errno === errno.ESRCH ? `no process ${pid}` : undefined));
  return new Attachment('uprobe_multi', `${path}:${spot}`, programLabel(program), () => link.close(), link);
}
