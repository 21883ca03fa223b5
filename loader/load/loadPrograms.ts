import { release } from 'node:os';
import { relocateProgram, type ObjectSpec, type ProgramSpec } from '../../elf/index.js';
import {
  BPF_MAP_TYPE, BpfFd, SyscallError, errno, progArraySet, progLoad, progTypeName,
} from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { BpfProgram } from '../programs/bpfProgram.js';
import type { Cleanup } from '../cleanup.js';
import { kernelObjectName } from './kernelName.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import { ProgramLoadError } from '../errors.js';

/** First verifier log buffer; grown 4x on ENOSPC up to LOG_MAX. */
const LOG_START = 256 * 1024;
/** the kernel takes at most UINT32_MAX >> 2 since 5.2; 64 MiB is more than any real log */
const LOG_MAX = 64 * 1024 * 1024;

/**
 * Relocate and load the object's programs in section order (prog_fd[] order),
 * then fill tail-call slots. Every fd opened is registered with `cleanup`.
 */
export function loadPrograms(
  spec: ObjectSpec,
  maps: readonly BpfMap[],
  options: LoadOptions,
  cleanup: Cleanup,
): BpfProgram[] {
  const selected = selectPrograms(spec, options);
  const kernVersion = spec.kernVersion ?? options.kernVersion ?? runningKernelVersion();
  const programs: BpfProgram[] = [];
  for (const program of selected) {
    const context = { file: spec.file, section: program.section, program: program.name };
    const insns = relocateProgram(
      program,
      (mapIndex) => {
        const map = maps[mapIndex];
        if (!map) throw new LoadError(`refers to map #${mapIndex}, but the object has ${maps.length} maps`, context);
        return map.fd;
      },
      { file: spec.file, littleEndian: spec.littleEndian },
    );
    const { owner, log } = loadOne(spec, program, insns, kernVersion, options.logLevel);
    cleanup.add(() => owner.close());
    programs.push(
      new BpfProgram(owner, program.section, program.name, program.type, programs.length, {
        file: spec.file,
        kind: program.kind,
        insnCount: insns.byteLength / 8,
        tailCallIndex: program.tailCallIndex,
        attachTarget: program.attachTarget,
        insns,
        verifierLog: log,
      }),
    );
  }
  fillTailCalls(spec, maps, programs);
  return programs;
}

function selectPrograms(spec: ObjectSpec, options: LoadOptions): ProgramSpec[] {
  const filter = options.programs;
  if (filter === undefined) return spec.programs;
  if (typeof filter === 'function') return spec.programs.filter((p) => filter({ section: p.section, name: p.name }));
  for (const wanted of filter) {
    if (!spec.programs.some((p) => p.name === wanted || p.section === wanted)) {
      throw new LoadError(
        `options.programs names '${wanted}', which is no program of this object ` +
          `(programs: ${spec.programs.map((p) => `${p.name} (sec '${p.section}')`).join(', ') || 'none'})`,
        { file: spec.file },
      );
    }
  }
  return spec.programs.filter((p) => filter.includes(p.name) || filter.includes(p.section));
}

/** KERNEL_VERSION(a, b, c) of the running kernel, c capped at 255 as the kernel's own macro does since 4.9.256. */
export function runningKernelVersion(osRelease: string = release()): number {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(osRelease);
  if (!match) return 0;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  return ((major & 0xff) << 16) + ((minor & 0xff) << 8) + Math.min(patch, 255);
}

/**
 * BPF_PROG_LOAD like tools/lib/bpf: first without a log (fast, and no ENOSPC
 * on a verbose success), then on failure again with log level 1 into a buffer
 * grown on ENOSPC. With logLevel the log is taken on the first try and kept.
 */
function loadOne(
  spec: ObjectSpec,
  program: ProgramSpec,
  insns: Uint8Array,
  kernVersion: number,
  logLevel: number | undefined,
): { owner: BpfFd; log: string | undefined } {
  const base = {
    prog_type: program.type,
    insns,
    license: spec.license ?? '',
    kern_version: kernVersion,
    prog_name: kernelObjectName(program.name),
  };
  let firstError: SyscallError | undefined;
  if (!logLevel) {
    try {
      return { owner: progLoad(base), log: undefined };
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      firstError = error;
    }
  }
  for (let size = LOG_START; ; size *= 4) {
    const logBuffer = Buffer.alloc(size);
    try {
      const owner = progLoad({ ...base, log_level: logLevel || 1, log_buf: logBuffer });
      return { owner, log: readLog(logBuffer) };
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      if (error.errno === errno.ENOSPC && size < LOG_MAX) continue;
      // a log that did not fit says less than the first attempt's errno
      const cause = error.errno === errno.ENOSPC && firstError ? firstError : error;
      const log = readLog(logBuffer);
      const hint = diagnoseProgLoad(spec, cause, log);
      throw new ProgramLoadError(
        `failed to load program (${progTypeName(program.type)}, ${insns.byteLength / 8} insns)`,
        { file: spec.file, section: program.section, program: program.name },
        { cause, verifierLog: log, ...(hint === undefined ? {} : { hint }) },
      );
    }
  }
}

function readLog(buffer: Buffer): string {
  const end = buffer.indexOf(0);
  return buffer.subarray(0, end < 0 ? buffer.byteLength : end).toString('utf8');
}

function diagnoseProgLoad(spec: ObjectSpec, cause: SyscallError, log: string): string | undefined {
  if (/GPL-restricted|GPL compatible|gpl_only/i.test(log)) {
    return spec.license === undefined
      ? 'the object has no license section, and GPL-only helpers need one: add char _license[] SEC("license") = "GPL";'
      : `license '${spec.license}' is not GPL-compatible, and the program calls a GPL-only helper`;
  }
  if (/unknown func|invalid func/.test(log)) {
    return 'the program calls a helper this kernel does not offer to this program type';
  }
  if (cause.errno === errno.EACCES) return 'the verifier refused the program: see the log';
  if (cause.errno === errno.E2BIG) return 'the program is too large or too complex for the verifier';
  if (cause.errno === errno.EBADF) return 'a map reference does not hold a valid map fd';
  return undefined;
}

/** `socket/N` & co. go into slot N of the object's PROG_ARRAY (the last one, as bpf_load.c chose). */
function fillTailCalls(spec: ObjectSpec, maps: readonly BpfMap[], programs: readonly BpfProgram[]): void {
  const slotted = programs.filter((p) => p.tailCallIndex !== undefined);
  if (slotted.length === 0) return;
  const progArray = [...maps].reverse().find((m) => m.def.type === BPF_MAP_TYPE.PROG_ARRAY);
  for (const program of slotted) {
    const context = { file: spec.file, section: program.section, program: program.name };
    if (!progArray) {
      throw new LoadError(
        `section name makes it tail-call slot ${program.tailCallIndex}, but the object has no PROG_ARRAY map to put it in`,
        context,
      );
    }
    try {
      progArraySet(progArray.fd, program.tailCallIndex!, program.fd);
    } catch (cause) {
      throw new LoadError(
        `cannot put the program in slot ${program.tailCallIndex} of PROG_ARRAY map '${progArray.name}' ` +
          `(max_entries ${progArray.def.max_entries})`,
        context,
        { cause },
      );
    }
  }
}
