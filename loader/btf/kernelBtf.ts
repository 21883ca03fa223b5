// The running kernel's BTF: vmlinux and, split over it, each module's, read
// from /sys/kernel/btf once per process; or a BTF file given instead (a
// btfhub-style raw BTF, or an ELF with a .BTF section) for kernels built
// without /sys/kernel/btf. Module BTF is parsed only when a lookup misses
// vmlinux, one module at a time.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BtfError, objectBtf, parseBtf, type Btf, type BtfKind, type BtfOfKind } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { LoadError } from '../errors.js';

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
  readonly path: string;
  readonly btf: Btf;
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
  readonly #moduleDir: string | undefined;
  #moduleNames: string[] | undefined;
  readonly #modules = new Map<string, ModuleBtf>();

  constructor(vmlinux: Btf, source: string, moduleDir: string | undefined, parseMs: number) {
    this.vmlinux = vmlinux;
    this.source = source;
    this.#moduleDir = moduleDir;
    this.parseMs = parseMs;
  }

  /** The names of the modules that have BTF (none when a BTF file stands in for the kernel's). */
  moduleNames(): readonly string[] {
    if (this.#moduleNames) return this.#moduleNames;
    let names: string[] = [];
    if (this.#moduleDir !== undefined) {
      try {
        names = readdirSync(this.#moduleDir).filter((name) => name !== VMLINUX).sort();
      } catch {
        names = [];
      }
    }
    this.#moduleNames = names;
    return names;
  }

  /** A module's BTF, split over vmlinux; undefined when the module has none. */
  module(name: string): ModuleBtf | undefined {
    const cached = this.#modules.get(name);
    if (cached) return cached;
    if (this.#moduleDir === undefined || !this.moduleNames().includes(name)) return undefined;
    const path = join(this.#moduleDir, name);
    const bytes = readKernelFile(path, `module '${name}' BTF`);
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
    bytes = readFileSync(path);
  } catch (error) {
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
      throw new LoadError(`the kernel's BTF is needed and ${path} cannot be read`, {}, {
        cause: error, code: 'BPF_LOAD_SYSTEM',
        hint: 'this kernel was built without CONFIG_DEBUG_INFO_BTF: pass btfPath (a btfhub-style BTF file for this kernel, or a vmlinux with .BTF)',
      });
    }
    found = new KernelBtf(parseBtf(bytes, { file: path }), path, dir, performance.now() - started);
  }
  cache.set(key, found);
  return found;
}

/** Forget every kernel BTF read so far (the next kernelBtf() reads again): for tests and long-lived processes after a module load. */
export function forgetKernelBtf(): void {
  cache.clear();
}
