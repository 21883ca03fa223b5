// The running kernel's BTF: vmlinux, read from /sys/kernel/btf once per
// process, and, split over it, each module's, found as libbpf finds them (the
// kernel's BTF objects walked by id: the modules' names and bytes) or, where
// that walk is not allowed (no CAP_SYS_ADMIN), beside vmlinux in /sys/kernel/btf;
// or a BTF file given instead (a btfhub-style raw BTF, or an ELF with a .BTF
// section) for kernels built without /sys/kernel/btf. Module BTF is parsed only
// when a lookup misses vmlinux, one module at a time.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BtfError, objectBtf, parseBtf, type Btf, type BtfKind, type BtfOfKind } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { SyscallError, btfGetData, btfGetFdById } from '../../syscall/index.js';
import { LoadError } from '../errors.js';
import { kernelBtfObjects } from './moduleFds.js';

export const SYS_KERNEL_BTF = '/sys/kernel/btf';
export const VMLINUX = 'vmlinux';

export interface KernelBtfOptions {
  /**
   * a BTF file to use instead of the running kernel's: raw BTF (what btfhub ships, what
   * /sys/kernel/btf/vmlinux holds) or an ELF file with a .BTF section (a vmlinux image).
   * No module BTF is read then.
   */
  btfPath?: string;
  /** where the kernel's BTF files are (default /sys/kernel/btf): a directory laid out like it, for tests */
  sysfsDir?: string;
}

/** Where a type was found: vmlinux, or a module's split BTF. */
export interface KernelBtfHit<T> {
  /** 'vmlinux' or the module's name */
  object: string;
  /** the BTF the id belongs to (a module's is split over vmlinux: its ids continue vmlinux's) */
  btf: Btf;
  id: number;
  type: T;
}

/** A module's BTF, parsed the first time it is asked for. */
export interface ModuleBtf {
  readonly name: string;
  /** where its bytes came from: a file, or `btf id N` (the kernel's BTF object) */
  readonly path: string;
  readonly btf: Btf;
}

/** Where modules' BTF is found: their names, and each one's bytes. */
interface ModuleSource {
  names(): string[];
  /** the bytes and where they came from; undefined when the module has no BTF (any more) */
  read(name: string): { bytes: Uint8Array; path: string } | undefined;
}

/** A directory laid out like /sys/kernel/btf: a file per module beside vmlinux. */
class DirectoryModules implements ModuleSource {
  constructor(private readonly dir: string) {}

  names(): string[] {
    try {
      return readdirSync(this.dir).filter((name) => name !== VMLINUX).sort();
    } catch {
      return [];
    }
  }

  read(name: string): { bytes: Uint8Array; path: string } | undefined {
    if (!this.names().includes(name)) return undefined;
    const path = join(this.dir, name);
    return { bytes: readKernelFile(path, `module '${name}' BTF`), path };
  }
}

/**
 * The running kernel's modules: its BTF objects walked by id (BPF_BTF_GET_NEXT_ID), the kernel's
 * own (kernel_btf) other than vmlinux, in id order as libbpf's load_module_btfs takes them; their
 * bytes through BPF_OBJ_GET_INFO_BY_FD. Where the walk is refused (it needs CAP_SYS_ADMIN), the
 * files of /sys/kernel/btf, which anyone may read.
 */
class RunningKernelModules implements ModuleSource {
  readonly #files: DirectoryModules;
  #ids: Map<string, number> | null | undefined;

  constructor(dir: string) {
    this.#files = new DirectoryModules(dir);
  }

  #walk(): Map<string, number> | null {
    if (this.#ids !== undefined) return this.#ids;
    try {
      this.#ids = new Map(kernelBtfObjects().filter((o) => o.name !== VMLINUX).map((o) => [o.name, o.id]));
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      this.#ids = null;
    }
    return this.#ids;
  }

  names(): string[] {
    const ids = this.#walk();
    return ids ? [...ids.keys()] : this.#files.names();
  }

  read(name: string): { bytes: Uint8Array; path: string } | undefined {
    const ids = this.#walk();
    if (!ids) return this.#files.read(name);
    const id = ids.get(name);
    if (id === undefined) return undefined;
    try {
      const fd = btfGetFdById(id);
      try {
        return { bytes: btfGetData(fd.fd), path: `btf id ${id}` };
      } finally {
        fd.close();
      }
    } catch (error) {
      throw new LoadError(`cannot read the BTF of module '${name}' (BTF object id ${id})`, {}, {
        cause: error, code: 'BPF_LOAD_SYSTEM', hint: 'the module may have been unloaded since the kernel\'s BTF objects were listed',
      });
    }
  }
}

/**
 * The kernel's BTF: vmlinux, parsed on construction (its name index built on
 * the first lookup by name), and the modules' split BTF, listed and parsed
 * lazily. Lookups search vmlinux first, then each module in directory order,
 * as libbpf does.
 */
export class KernelBtf {
  readonly vmlinux: Btf;
  /** the file vmlinux's BTF was read from */
  readonly source: string;
  /** milliseconds it took to read and parse vmlinux (the name index is built later, on first use) */
  readonly parseMs: number;
  readonly #moduleSource: ModuleSource | undefined;
  #moduleNames: string[] | undefined;
  readonly #modules = new Map<string, ModuleBtf>();

  /**
   * `modules`: a directory laid out like /sys/kernel/btf, 'running' for the running kernel's
   * modules (walked by BTF id, else /sys/kernel/btf), undefined for none.
   */
  constructor(vmlinux: Btf, source: string, modules: string | { running: string } | undefined, parseMs: number) {
    this.vmlinux = vmlinux;
    this.source = source;
    this.#moduleSource = modules === undefined ? undefined : typeof modules === 'string' ? new DirectoryModules(modules) : new RunningKernelModules(modules.running);
    this.parseMs = parseMs;
  }

  /** The names of the modules that have BTF (none when a BTF file stands in for the kernel's). */
  moduleNames(): readonly string[] {
    this.#moduleNames ??= this.#moduleSource?.names() ?? [];
    return this.#moduleNames;
  }

  /** A module's BTF, split over vmlinux; undefined when the module has none. */
  module(name: string): ModuleBtf | undefined {
    const cached = this.#modules.get(name);
    if (cached) return cached;
    if (!this.#moduleSource || !this.moduleNames().includes(name)) return undefined;
    const read = this.#moduleSource.read(name);
    if (!read) return undefined;
    const { bytes, path } = read;
    const module: ModuleBtf = { name, path, btf: parseBtf(bytes, { base: this.vmlinux, file: path }) };
    this.#modules.set(name, module);
    return module;
  }

  /** Every module's BTF, parsed as the walk reaches it; a module whose BTF is malformed is passed to `onBroken` and skipped. */
  *modules(onBroken?: (name: string, error: unknown) => void): IterableIterator<ModuleBtf> {
    for (const name of this.moduleNames()) {
      let module: ModuleBtf | undefined;
      try {
        module = this.module(name);
      } catch (error) {
        if (!(error instanceof BtfError) || !onBroken) throw error;
        onBroken(name, error);
        continue;
      }
      if (module) yield module;
    }
  }

  /**
   * Every type named `name` of kind `kind`: vmlinux's, or when it has none, those of the first
   * module that has some (only the module's own types: its base is vmlinux, already searched).
   */
  find<K extends BtfKind>(name: string, kind: K, onBroken?: (module: string, error: unknown) => void): KernelBtfHit<BtfOfKind<K>>[] {
    const inVmlinux = ofKind(this.vmlinux, name, kind, this.vmlinux.firstId);
    if (inVmlinux.length > 0) return inVmlinux.map((id) => hit(VMLINUX, this.vmlinux, id));
    for (const module of this.modules(onBroken)) {
      const ids = ofKind(module.btf, name, kind, module.btf.firstId);
      if (ids.length > 0) return ids.map((id) => hit(module.name, module.btf, id));
    }
    return [];
  }

  /** The one type named `name` of kind `kind` (vmlinux first, then modules); undefined when none, a BtfError when several. */
  findOne<K extends BtfKind>(name: string, kind: K, onBroken?: (module: string, error: unknown) => void): KernelBtfHit<BtfOfKind<K>> | undefined {
    const hits = this.find(name, kind, onBroken);
    if (hits.length > 1) {
      throw new BtfError(`${hits.length} ${kind} types are named '${name}' in ${hits[0]!.object} (ids ${hits.map((h) => h.id).join(', ')})`, hits[0]!.btf.context);
    }
    return hits[0];
  }
}

function ofKind(btf: Btf, name: string, kind: BtfKind, firstId: number): number[] {
  return btf.byName(name).filter((id) => id >= firstId && btf.kindOf(id) === kind);
}

function hit<K extends BtfKind>(object: string, btf: Btf, id: number): KernelBtfHit<BtfOfKind<K>> {
  return { object, btf, id, type: btf.type(id) as BtfOfKind<K> };
}

function readKernelFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new LoadError(`cannot read ${what} at ${path}`, {}, { cause: error, code: 'BPF_LOAD_SYSTEM' });
  }
}

/** ELF magic: the file is an ELF image (a vmlinux) whose .BTF section holds the BTF */
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** Raw BTF, or the .BTF section of an ELF file; a LoadError (BPF_LOAD_INPUT) when the file has neither. */
export function readBtfFile(path: string): Btf {
  let bytes: Uint8Array;
  try {
    // a FIFO would block the open until a writer came, a device (/dev/zero) might never end
    if (!statSync(path).isFile()) throw new LoadError(`cannot read the BTF file ${path}: it is not a regular file`, {}, { code: 'BPF_LOAD_INPUT' });
    bytes = readFileSync(path);
  } catch (error) {
    if (error instanceof LoadError) throw error;
    throw new LoadError(`cannot read the BTF file ${path}`, {}, { cause: error, code: 'BPF_LOAD_INPUT' });
  }
  if (ELF_MAGIC.every((b, i) => bytes[i] === b)) {
    const btf = objectBtf(readElf(bytes, path), path);
    if (!btf) throw new LoadError(`${path} is an ELF file without a .BTF section`, {}, { code: 'BPF_LOAD_INPUT', hint: 'build the kernel with CONFIG_DEBUG_INFO_BTF, or use a btfhub file' });
    return btf;
  }
  return parseBtf(bytes, { file: path });
}

const cache = new Map<string, KernelBtf>();

/**
 * The kernel's BTF, read once per process (per `btfPath`/`sysfsDir`): vmlinux from
 * /sys/kernel/btf/vmlinux (modules beside it), or the file `btfPath` names. A LoadError with code
 * BPF_LOAD_SYSTEM when the kernel exposes no BTF and no file was given; BPF_LOAD_BTF when it is malformed.
 */
export function kernelBtf(options: KernelBtfOptions = {}): KernelBtf {
  const key = options.btfPath !== undefined ? `file:${options.btfPath}` : `dir:${options.sysfsDir ?? SYS_KERNEL_BTF}`;
  let found = cache.get(key);
  if (found) return found;
  const started = performance.now();
  if (options.btfPath !== undefined) {
    const btf = readBtfFile(options.btfPath);
    found = new KernelBtf(btf, options.btfPath, undefined, performance.now() - started);
  } else {
    const dir = options.sysfsDir ?? SYS_KERNEL_BTF;
    const path = join(dir, VMLINUX);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      // a file that is there but refused (a sandbox, a changed mode) is no kernel without BTF
      const code = (error as NodeJS.ErrnoException).code;
      const missing = code === undefined || code === 'ENOENT' || code === 'ENOTDIR';
      throw new LoadError(`the kernel's BTF is needed and ${path} cannot be read${missing ? '' : ` (${code})`}`, {}, {
        cause: error, code: 'BPF_LOAD_SYSTEM',
        hint: missing
          ? 'this kernel was built without CONFIG_DEBUG_INFO_BTF: pass btfPath (a btfhub-style BTF file for this kernel, or a vmlinux with .BTF)'
          : 'it is readable by every user on a usual system (mode 0444): check what restricts it here, or pass btfPath (--btf FILE in the CLI)',
      });
    }
    const modules = options.sysfsDir === undefined ? { running: dir } : dir;
    found = new KernelBtf(parseBtf(bytes, { file: path }), path, modules, performance.now() - started);
  }
  cache.set(key, found);
  return found;
}

/** Forget every kernel BTF read so far (the next kernelBtf() reads again): for tests and long-lived processes after a module load. */
export function forgetKernelBtf(): void {
  cache.clear();
}
