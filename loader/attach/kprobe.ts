import { existsSync, readFileSync } from 'node:fs';
import {
  BPF_ATTACH_TYPE, BPF_PROG_TYPE, errno, haveFeature, linkCreateKprobeMulti, perfEventOpenProbe,
} from '../../syscall/index.js';
import { BpfProgram } from '../programs/bpfProgram.js';
import { runningKernelConfig } from '../btf/kconfig.js';
import { LoadError, argumentError, checkBoolean, checkOptions, checkString } from '../errors.js';
import { globMatch } from '../../elf/funcOffset.js';
import { PMU_ROOT, probePmu } from './probePmu.js';
import { attachTraceEvent, checkPerfOptions, tracefsRoot, type PerfAttachOptions } from './tracing.js';
import {
  Attachment, attachStep, checkProgramRef, progFdOf, programContext, programLabel, requireProgramType, type ProgramRef,
} from './attachment.js';

/** A kernel config option as the running kernel's config says it, or undefined when the config cannot be read. */
function kernelOption(name: string): string | undefined {
  try {
    return runningKernelConfig().values.get(name) ?? 'n';
  } catch {
    return undefined;
  }
}

/** Whether this kernel can attach kprobes, and if not, why (for messages and test skips). */
export function kprobeSupport(): { supported: true } | { supported: false; reason: string } {
  if (probePmu('kprobe')) return { supported: true };
  const root = tracefsRoot();
  if (root && existsSync(`${root}/kprobe_events`)) return { supported: true };
  const looked = `no kprobe PMU (${PMU_ROOT}/kprobe) and no kprobe_events in ${root ?? 'tracefs (not mounted)'}`;
  if (kernelOption('CONFIG_KPROBES') === 'n') return { supported: false, reason: `this kernel has no kprobes (CONFIG_KPROBES is not set): ${looked}` };
  if (kernelOption('CONFIG_KPROBE_EVENTS') === 'n') {
    return { supported: false, reason: `this kernel has no kprobe events (CONFIG_KPROBE_EVENTS is not set): ${looked}` };
  }
  return { supported: false, reason: `this kernel has no kprobes: ${looked} (built without CONFIG_KPROBES or CONFIG_KPROBE_EVENTS?)` };
}

/** The error of any kprobe attach on a kernel without kprobes: BPF_LOAD_NOT_SUPPORTED. */
function requireKprobes(program: ProgramRef, what: string): void {
  const support = kprobeSupport();
  if (support.supported) return;
  throw new LoadError(`${what}: ${support.reason}`, programContext(program), {
    hint: 'the program loaded fine; it can only be attached on a kernel with kprobes',
    errno: errno.EOPNOTSUPP,
    code: 'BPF_LOAD_NOT_SUPPORTED',
  });
}

export interface KprobeOptions extends PerfAttachOptions {
  /** run at the function's return (a kretprobe) */
  retprobe?: boolean;
  /** bytes into the function (kprobes only) */
  offset?: number;
}

/**
 * kprobe (or kretprobe) on a kernel function through the kprobe PMU
 * (perf_event_open with the function name): nothing is written to the global
 * kprobe_events, so other users' kprobes are left alone.
 */
export function attachKprobe(program: ProgramRef, functionName: string, options: KprobeOptions = {}): Attachment {
  checkProgramRef(program, 'attachKprobe');
  checkString(functionName, 'functionName', 'attachKprobe');
  checkPerfOptions(options, 'attachKprobe', ['retprobe', 'offset']);
  checkBoolean(options.retprobe, 'options.retprobe', 'attachKprobe');
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw argumentError('attachKprobe', 'options.offset', 'a whole number >= 0', options.offset);
  if (offset && options.retprobe) throw argumentError('attachKprobe', 'options.offset', '0 for a kretprobe (it runs at the return)', offset);
  const kind = options.retprobe ? 'kretprobe' : 'kprobe';
  const target = offset ? `${functionName}+${offset}` : functionName;
  const what = `attach ${kind} to ${target}`;
  progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.KPROBE], 'a kprobe runs SEC("kprobe/FUNCTION") and SEC("kretprobe/FUNCTION") programs');
  requireKprobes(program, what);
  const pmu = probePmu('kprobe');
  if (!pmu) {
    throw new LoadError(`${what}: this kernel has kprobe_events but no kprobe PMU (Linux < 4.17), which bpf-load does not drive`,
      programContext(program), { errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED' });
  }
  const config = options.retprobe ? pmu.retprobe : 0n;
  return attachTraceEvent(program, 'kprobe', target, what,
    () => perfEventOpenProbe({ pmuType: pmu.type, config, name: functionName, offset: BigInt(offset) }), options);
}

/** libbpf's arch_specific_syscall_pfx(): the architecture in the kernel's syscall wrapper names. */
const SYSCALL_ARCH: Readonly<Record<string, string>> = {
  x64: 'x64', ia32: 'ia32', arm64: 'arm64', arm: 'arm', s390x: 's390x', s390: 's390', ppc64: 'powerpc', riscv64: 'riscv', loong64: 'loongarch',
};

let kallsymsNames: Set<string> | undefined;

function kernelHasSymbol(name: string): boolean {
  if (!kallsymsNames) {
    kallsymsNames = new Set();
    try {
      // "ffffffff81234560 T __x64_sys_bpf": the third field (a module's symbols have a fourth)
      for (const line of readFileSync('/proc/kallsyms', 'latin1').split('\n')) {
        const start = line.indexOf(' ', line.indexOf(' ') + 1) + 1;
        if (start <= 0) continue;
        const end = line.indexOf('\t', start);
        kallsymsNames.add(end < 0 ? line.slice(start) : line.slice(start, end));
      }
    } catch {
      // unreadable: no wrapper found, as libbpf's failed probe
    }
  }
  return kallsymsNames.has(name);
}

/**
 * The kernel function behind a system call, as libbpf names it for
 * SEC("ksyscall/NAME"): `__x64_sys_NAME` where the kernel has the
 * per-architecture syscall wrappers (Linux >= 4.17 on x86-64, 5.5 on arm64),
 * else `__se_sys_NAME`. Probed once, by the wrapper of bpf(2) in /proc/kallsyms.
 */
export function syscallFunctionName(syscall: string): string {
  checkString(syscall, 'syscall', 'syscallFunctionName');
  const arch = SYSCALL_ARCH[process.arch] ?? '';
  return kernelHasSymbol(`__${arch}_sys_bpf`) ? `__${arch}_sys_${syscall}` : `__se_sys_${syscall}`;
}

/** SEC("ksyscall/NAME"), SEC("kretsyscall/NAME"): a kprobe on the system call's kernel function. */
export function attachKsyscall(program: ProgramRef, syscall: string, options: { retprobe?: boolean } & PerfAttachOptions = {}): Attachment {
  checkProgramRef(program, 'attachKsyscall');
  checkString(syscall, 'syscall', 'attachKsyscall');
  checkPerfOptions(options, 'attachKsyscall', ['retprobe']);
  // without kprobes there is nothing to resolve the name for: say that first
  requireKprobes(program, `attach ${options.retprobe ? 'kretsyscall' : 'ksyscall'} to ${syscall}`);
  return attachKprobe(program, syscallFunctionName(syscall), options);
}

export interface KprobeMultiOptions {
  /** a glob of kernel functions (`*`, `?`), as SEC("kprobe.multi/PATTERN") */
  pattern?: string;
  /** or the functions by name */
  functions?: readonly string[];
  retprobe?: boolean;
}

/**
 * One kprobe_multi link (Linux 5.18, CONFIG_FPROBE) on every kernel function
 * a pattern matches in tracefs's available_filter_functions (libbpf's way),
 * or on the functions named. The program must have been loaded for
 * BPF_TRACE_KPROBE_MULTI (SEC("kprobe.multi/…") does that).
 */
export function attachKprobeMulti(program: ProgramRef, options: KprobeMultiOptions): Attachment {
  const where = 'attachKprobeMulti';
  checkProgramRef(program, where);
  checkOptions(options, ['pattern', 'functions', 'retprobe'], where);
  checkBoolean(options.retprobe, 'options.retprobe', where);
  if ((options.pattern === undefined) === (options.functions === undefined)) {
    throw argumentError(where, 'options', 'one of pattern or functions', options);
  }
  if (options.pattern !== undefined) checkString(options.pattern, 'options.pattern', where);
  if (options.functions !== undefined && (!Array.isArray(options.functions) || options.functions.length === 0 ||
      !options.functions.every((f) => typeof f === 'string' && f !== ''))) {
    throw argumentError(where, 'options.functions', 'a non-empty array of function names', options.functions);
  }
  const label = options.pattern ?? options.functions!.join(',');
  const what = `attach ${options.retprobe ? 'kretprobe.multi' : 'kprobe.multi'} to ${label}`;
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.KPROBE], 'a kprobe.multi runs SEC("kprobe.multi/PATTERN") programs');
  const supported = attachStep(program, what, () => haveFeature('kprobeMultiLink'));
  if (!supported) {
    const fprobe = kernelOption('CONFIG_FPROBE');
    throw new LoadError(`${what}: this kernel has no kprobe_multi links${fprobe === 'n' ? ' (CONFIG_FPROBE is not set)' : ' (needs Linux >= 5.18 with CONFIG_FPROBE)'}`,
      programContext(program), { errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED', hint: 'attach each function with attachKprobe instead' });
  }
  const functions = options.functions ?? functionsMatching(program, options.pattern!, what);
  // a kprobe.session program was loaded for its own attach type, and links as one
  const session = program instanceof BpfProgram && program.expectedAttachType === BPF_ATTACH_TYPE.TRACE_KPROBE_SESSION;
  const link = attachStep(program, what, () => linkCreateKprobeMulti({
    progFd, symbols: functions, retprobe: options.retprobe === true,
    attachType: session ? BPF_ATTACH_TYPE.TRACE_KPROBE_SESSION : BPF_ATTACH_TYPE.TRACE_KPROBE_MULTI,
  }));
  return new Attachment('kprobe_multi', label, programLabel(program), () => link.close(), link);
}

/** The traceable kernel functions a glob matches (tracefs's available_filter_functions), each once. */
function functionsMatching(program: ProgramRef, pattern: string, what: string): string[] {
  const root = tracefsRoot();
  let text: string;
  try {
    text = readFileSync(`${root ?? '/sys/kernel/tracing'}/available_filter_functions`, 'latin1');
  } catch (cause) {
    throw new LoadError(`${what}: cannot read the traceable functions (available_filter_functions in tracefs)`, programContext(program), {
      cause, code: 'BPF_LOAD_SYSTEM',
    });
  }
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.split(' ', 1)[0]!;
    if (name && !name.startsWith('__ftrace_invalid_address__') && globMatch(name, pattern)) found.add(name);
  }
  if (found.size === 0) throw new LoadError(`${what}: no traceable kernel function matches '${pattern}'`, programContext(program));
  return [...found];
}
