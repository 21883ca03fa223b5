// `__ksym` externs resolved against the running kernel: typed variables and
// kfuncs to a BTF id in vmlinux or a module's BTF, untyped ones to an address
// from /proc/kallsyms. The result says what the loader writes into each
// instruction that refers to the extern (the patches themselves are the
// loader's, which owns the module BTF fds and the fd_array).

import { readFileSync } from 'node:fs';
import type { Btf } from '../../elf/btf/index.js';
import { LoadError } from '../errors.js';
import type { KsymExtern } from './externs.js';
import { VMLINUX, type KernelBtf } from './kernelBtf.js';

/**
 * What an extern resolved to:
 * - `address`: an untyped ksym (or an unresolved weak one, address 0): ld_imm64 imm = low 32 bits,
 *   second imm = high 32 bits, src_reg 0;
 * - `btf-id`: a typed ksym variable: ld_imm64 src_reg BPF_PSEUDO_BTF_ID, imm = btfId, second imm =
 *   the fd of `object`'s BTF (0 for vmlinux);
 * - `kfunc`: a call: src_reg BPF_PSEUDO_KFUNC_CALL, imm = btfId, off = the fd_array index of
 *   `object`'s BTF fd (0 for vmlinux; see kfuncFdArraySlots); an unresolved weak kfunc has btfId 0.
 */
export type KsymResolution =
  | { name: string; kind: 'address'; address: bigint; resolved: boolean }
  | { name: string; kind: 'btf-id'; btfId: number; object: string; resolved: true }
  | { name: string; kind: 'kfunc'; btfId: number; object: string; resolved: boolean };

/** name → address of /proc/kallsyms (module symbols included; the `[module]` tail ignored) */
export type Kallsyms = ReadonlyMap<string, bigint | 'ambiguous'>;

/** /proc/kallsyms text → name → address; a name listed at two addresses is 'ambiguous' (libbpf refuses those). */
export function parseKallsyms(text: string, wanted?: ReadonlySet<string>): Map<string, bigint | 'ambiguous'> {
  const symbols = new Map<string, bigint | 'ambiguous'>();
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    // "ffffffff82248b50 T schedule" or "... t name\t[module]"
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (first < 0 || second < 0) continue;
    let nameEnd = line.indexOf('\t', second + 1);
    if (nameEnd < 0) nameEnd = line.length;
    const name = line.slice(second + 1, nameEnd);
    if (wanted && !wanted.has(name)) continue;
    const address = BigInt(`0x${line.slice(0, first)}`);
    const known = symbols.get(name);
    symbols.set(name, known === undefined || known === address ? address : 'ambiguous');
  }
  return symbols;
}

/** The running kernel's kallsyms, only the names asked for (read on every call: addresses are as this process may see them). */
export function readKallsyms(wanted?: ReadonlySet<string>, path = '/proc/kallsyms'): Map<string, bigint | 'ambiguous'> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new LoadError(`cannot read ${path} for the object's untyped __ksym externs`, {}, { cause: error, code: 'BPF_LOAD_SYSTEM' });
  }
  return parseKallsyms(text, wanted);
}

export interface ResolveKsymsOptions {
  /** the kernel's BTF (for typed ksyms and kfuncs) */
  kernel?: KernelBtf | undefined;
  /** kallsyms (for untyped ksyms) */
  kallsyms?: Kallsyms | undefined;
  /**
   * checks a kernel type against the object's (libbpf's bpf_core_types_are_compat on the kfunc's
   * FUNC_PROTO, or on the variable's type); none: no check
   */
  compatible?: ((local: Btf, localId: number, target: Btf, targetId: number) => boolean) | undefined;
  /** the object's BTF, for `compatible` and messages */
  localBtf?: Btf | undefined;
  /** a module whose BTF is malformed: skipped and reported here (none: the BtfError is thrown) */
  onBrokenModule?: ((module: string, error: unknown) => void) | undefined;
}

/**
 * Each `__ksym` extern resolved as libbpf resolves it: kfuncs and typed variables by name in
 * vmlinux's BTF, then the modules' (FUNC, or VAR); untyped ones by name in kallsyms. A missing
 * strong extern, an ambiguous kallsyms name, or a kernel type incompatible with the object's is a
 * LoadError naming the extern; weak ones resolve to 0.
 */
export function resolveKsyms(externs: readonly KsymExtern[], options: ResolveKsymsOptions): KsymResolution[] {
  return externs.map((extern): KsymResolution => {
    const fail = (message: string, code: 'BPF_LOAD_INPUT' | 'BPF_LOAD_SYSTEM' = 'BPF_LOAD_SYSTEM'): never => {
      throw new LoadError(`extern (${extern.func ? 'func ksym' : 'var ksym'}) '${extern.name}': ${message}`, { section: '.ksyms' }, { code });
    };
    if (!extern.typed) {
      if (!options.kallsyms) fail('no kallsyms to resolve it against');
      const address = options.kallsyms!.get(extern.name);
      if (address === 'ambiguous') fail('resolution is ambiguous: /proc/kallsyms lists it at several addresses');
      if (address === undefined) {
        if (!extern.weak) fail('not found in /proc/kallsyms (it lists functions only, unless the kernel has CONFIG_KALLSYMS_ALL)');
        return { name: extern.name, kind: 'address', address: 0n, resolved: false };
      }
      return { name: extern.name, kind: 'address', address: address as bigint, resolved: true };
    }
    if (!options.kernel) return fail("the kernel's BTF is needed to resolve it");
    const hit = options.kernel.findOne(extern.name, extern.func ? 'FUNC' : 'VAR', options.onBrokenModule);
    if (!hit) {
      if (!extern.weak) fail(`not found in the kernel's BTF (vmlinux${options.kernel.moduleNames().length ? ' and modules' : ''})`);
      return extern.func
        ? { name: extern.name, kind: 'kfunc', btfId: 0, object: VMLINUX, resolved: false }
        : { name: extern.name, kind: 'address', address: 0n, resolved: false };
    }
    if (options.compatible && options.localBtf) {
      const targetTypeId = (hit.type as { type: number }).type;
      if (!options.compatible(options.localBtf, extern.localTypeId, hit.btf, targetTypeId)) {
        fail(`the object's type [${extern.localTypeId}] is incompatible with ${hit.object}'s ${hit.type.kind} [${hit.id}]`, 'BPF_LOAD_INPUT');
      }
    }
    return extern.func
      ? { name: extern.name, kind: 'kfunc', btfId: hit.id, object: hit.object, resolved: true }
      : { name: extern.name, kind: 'btf-id', btfId: hit.id, object: hit.object, resolved: true };
  });
}

/**
 * The fd_array slots of the modules whose kfuncs the resolutions call, as libbpf numbers them:
 * slot 0 stays unused (off 0 means vmlinux), modules from 1 in the order first called. The loader
 * puts each module's BTF fd in its slot and passes the array as BPF_PROG_LOAD's fd_array.
 */
export function kfuncFdArraySlots(resolutions: readonly KsymResolution[]): Map<string, number> {
  const slots = new Map<string, number>();
  for (const resolution of resolutions) {
    if (resolution.kind !== 'kfunc' || !resolution.resolved || resolution.object === VMLINUX) continue;
    if (!slots.has(resolution.object)) slots.set(resolution.object, slots.size + 1);
  }
  return slots;
}
