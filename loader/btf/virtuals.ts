// libbpf's virtual `.kconfig` externs LINUX_HAS_BPF_COOKIE and
// LINUX_HAS_SYSCALL_WRAPPER: libbpf answers them with probes (a program load,
// a kprobe); these answer them from what the system shows, with the same
// outcome on the kernels libbpf probes.

import { existsSync } from 'node:fs';
import type { KernelBtf } from './kernelBtf.js';
import { runningLinuxKernelVersion, type LinuxVirtualValues } from './kconfig.js';
import { readKallsyms } from './ksyms.js';

/**
 * Whether bpf_get_attach_cookie exists: libbpf loads a tracepoint program that calls it; here the
 * kernel's own enum bpf_func_id (in its BTF) says whether it knows the helper.
 */
export function hasBpfCookie(kernel: KernelBtf | undefined): boolean {
  if (!kernel) return false;
  const ids = kernel.vmlinux.find('bpf_func_id', 'ENUM');
  return ids?.values.some((v) => v.name === 'BPF_FUNC_get_attach_cookie') ?? false;
}

/** libbpf's arch_specific_syscall_pfx, by Node's process.arch */
const SYSCALL_PREFIX: Partial<Record<string, string>> = {
  x64: 'x64', ia32: 'ia32', s390x: 's390x', arm: 'arm', arm64: 'arm64', mips: 'mips', mipsel: 'mips', riscv64: 'riscv',
  ppc64: 'powerpc64', ppc: 'powerpc',
};

/**
 * Whether syscalls go through __<arch>_sys_* wrappers: libbpf opens a kprobe on __<arch>_sys_bpf
 * and answers 0 when that fails, which it does wherever kprobes are unavailable; here: kprobes
 * are available (the kprobe PMU or tracefs' kprobe_events) and kallsyms lists the wrapper.
 */
export function hasSyscallWrapper(arch: string = process.arch): boolean {
  const prefix = SYSCALL_PREFIX[arch];
  if (!prefix) return false;
  const kprobes = existsSync('/sys/bus/event_source/devices/kprobe/type') || existsSync('/sys/kernel/tracing/kprobe_events') ||
    existsSync('/sys/kernel/debug/tracing/kprobe_events');
  if (!kprobes) return false;
  const name = `__${prefix}_sys_bpf`;
  try {
    return readKallsyms(new Set([name])).has(name);
  } catch {
    return false;
  }
}

/** The LINUX_* values of the running kernel; the probes run only for the names asked for. */
export function linuxVirtualValues(kernel: KernelBtf | undefined, names: readonly string[]): LinuxVirtualValues {
  return {
    LINUX_KERNEL_VERSION: runningLinuxKernelVersion(),
    LINUX_HAS_BPF_COOKIE: names.includes('LINUX_HAS_BPF_COOKIE') && hasBpfCookie(kernel),
    LINUX_HAS_SYSCALL_WRAPPER: names.includes('LINUX_HAS_SYSCALL_WRAPPER') && hasSyscallWrapper(),
  };
}
