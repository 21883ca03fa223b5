// An object's externs resolved against the running kernel in one call: the
// `.kconfig` map's bytes and what each `__ksym` became. Reads only what the
// object needs: the kernel config for CONFIG_*, kallsyms for untyped ksyms,
// the kernel's BTF for typed ksyms, kfuncs and LINUX_HAS_BPF_COOKIE.

import { typesCompatible, type Btf } from '../../elf/btf/index.js';
import type { ElfSymbol } from '../../elf/elfFile.js';
import { objectExterns, type KconfigExtern, type ObjectExterns } from './externs.js';
import { kconfigBytes, runningKernelConfig, type LinuxVirtualValues } from './kconfig.js';
import { kernelBtf, type KernelBtf, type KernelBtfOptions } from './kernelBtf.js';
import { kfuncFdArraySlots, readKallsyms, resolveKsyms, type KsymResolution, type ResolveKsymsOptions } from './ksyms.js';
import { linuxVirtualValues } from './virtuals.js';

export interface ResolveExternsOptions extends KernelBtfOptions {
  /** the kernel BTF to use (default: kernelBtf(options), read only when needed) */
  kernel?: KernelBtf;
  /** a kernel config file (plain or gzipped) instead of /boot/config-$(uname -r) or /proc/config.gz */
  kconfigPath?: string;
  /** values to use instead of the probed LINUX_* ones */
  linux?: Partial<LinuxVirtualValues>;
  /** checks kernel types against the object's (kfunc prototypes, typed ksym variables); default libbpf's bpf_core_types_are_compat */
  compatible?: ResolveKsymsOptions['compatible'];
  onWarning?: (message: string) => void;
}

export interface ResolvedExterns {
  externs: ObjectExterns;
  /** the `.kconfig` map's value (undefined when the object has no kconfig extern); each extern's offset is on `externs.kconfig` */
  kconfig: Uint8Array | undefined;
  ksyms: KsymResolution[];
  /** module name → its fd_array index for kfunc calls into modules (empty when every kfunc is vmlinux's) */
  fdArraySlots: Map<string, number>;
}

/** The object's externs (from its ELF symbols and BTF) and their values on the running kernel. */
export function resolveObjectExterns(symbols: readonly ElfSymbol[], btf: Btf | undefined, options: ResolveExternsOptions = {}, file?: string): ResolvedExterns {
  const externs = objectExterns(symbols, btf, file);
  let kernel = options.kernel;
  const needKernel = (): KernelBtf => (kernel ??= kernelBtf(options));
  let kconfig: Uint8Array | undefined;
  if (externs.kconfig.length > 0) {
    const names = externs.kconfig.map((e) => e.name);
    const probed = linuxVirtualValues(names.includes('LINUX_HAS_BPF_COOKIE') ? needKernel() : undefined, names);
    const config = externs.kconfig.some((e: KconfigExtern) => e.name.startsWith('CONFIG_')) ? runningKernelConfig(options.kconfigPath).values : undefined;
    kconfig = kconfigBytes(externs.kconfig, externs.kconfigSize, config, { ...probed, ...options.linux }, options.onWarning);
  }
  const untyped = externs.ksyms.filter((e) => !e.typed);
  const ksyms = resolveKsyms(externs.ksyms, {
    kernel: externs.ksyms.some((e) => e.typed) ? needKernel() : undefined,
    kallsyms: untyped.length > 0 ? readKallsyms(new Set(untyped.map((e) => e.name))) : undefined,
    compatible: options.compatible ?? ((local, localId, target, targetId) => typesCompatible(local, localId, target, targetId)),
    localBtf: btf,
    // a broken module's BTF does not stop a load that may not need it (libbpf skips such modules too)
    onBrokenModule: (module, error) => options.onWarning?.(`module '${module}': its BTF is skipped: ${error instanceof Error ? error.message : String(error)}`),
  });
  return { externs, kconfig, ksyms, fdArraySlots: kfuncFdArraySlots(ksyms) };
}
