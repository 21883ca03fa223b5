import { release } from 'node:os';
import { relocateProgram, type ObjectSpec, type ProgramSpec } from '../../elf/index.js';
import {
  BPF_MAP_TYPE, BpfFd, SyscallError, errno, mapTypeName, progArraySet, progLoad, progTypeName,
} from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { BpfProgram } from '../programs/bpfProgram.js';
import type { Cleanup } from '../cleanup.js';
import { kernelObjectName } from './kernelName.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import type { LoadOptions } from '../options.js';
import { ProgramLoadError } from '../errors.js';
import { programTypeOf } from './programType.js';

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
  const kernVersion = spec.kernVersion ?? options.kernVersion ?? (runningVersion ??= runningKernelVersion());
  const programs: BpfProgram[] = [];
  // every type first: a load that cannot type one of its programs is refused before the kernel sees any
  const types = selected.map((program) => programTypeOf(spec, program, options));
  for (const [index, program] of selected.entries()) {
    const context = { file: spec.file, section: program.section, program: program.name };
    const type = types[index]!;
    const insns = relocateProgram(
      program,
      (mapIndex) => {
        const map = maps[mapIndex];
        if (!map) throw new LoadError(`refers to map #${mapIndex}, but the object has ${maps.length} maps`, context);
        return map.fd;
      },
      { file: spec.file, littleEndian: spec.littleEndian },
    );
    const { owner, log } = loadOne(spec, program, type, insns, kernVersion, options.logLevel);
    cleanup.add(() => owner.close());
    programs.push(
      new BpfProgram(owner, program.section, program.name, type, programs.length, {
        file: spec.file,
        kind: program.kind,
        insnCount: insns.byteLength / 8,
        tailCallIndex: program.tailCallIndex,
        tailCallMapId: program.tailCallMapId,
        attachTarget: program.attachTarget,
        insns,
        verifierLog: log,
      }),
    );
  }
  fillTailCalls(spec, maps, programs);
  return programs;
}

/**
 * The programs options.programs asks for. tc's `<id>/<key>` tail-call
 * sections come along with whatever is chosen, as tc loads them with the
 * section it was asked for.
 */
function selectPrograms(spec: ObjectSpec, options: LoadOptions): ProgramSpec[] {
  const filter = options.programs;
  if (filter === undefined) return spec.programs;
  const tcTailCall = (p: ProgramSpec): boolean => p.tailCallMapId !== undefined;
  if (typeof filter === 'function') {
    return spec.programs.filter((p) => filter({ section: p.section, name: p.name }) || tcTailCall(p));
  }
  for (const wanted of filter) {
    if (!spec.programs.some((p) => p.name === wanted || p.section === wanted)) {
      const skipped = spec.skippedSections.includes(wanted);
      throw new LoadError(
        `options.programs names '${wanted}', which is no program of this object ` +
          `(programs: ${spec.programs.map((p) => `${p.name} (sec '${p.section}')`).join(', ') || 'none'})`,
        { file: spec.file },
        skipped
          ? { hint: `sec '${wanted}' has no known program prefix: parse the object with sections: ['${wanted}'] (loadBpfFile does this for the names in options.programs)` }
          : {},
      );
    }
  }
  return spec.programs.filter((p) => filter.includes(p.name) || filter.includes(p.section) || tcTailCall(p));
}

/** The running kernel's, read once: uname(2) on every load costs more than the rest of choosing it. */
let runningVersion: number | undefined;

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
  type: number,
  insns: Uint8Array,
  kernVersion: number,
  logLevel: number | undefined,
): { owner: BpfFd; log: string | undefined } {
  const base = {
    prog_type: type,
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
        `failed to load program (${progTypeName(type)}, ${insns.byteLength / 8} insns)`,
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

/**
 * Tail-call slots, once every program is loaded (tc's bpf_fill_prog_arrays):
 * tc's `<id>/<key>` go into the PROG_ARRAY whose bpf_elf_map.id is <id>;
 * bpf_load.c's `socket/N` & co. into the object's last PROG_ARRAY. A pinned
 * PROG_ARRAY the load reused has its slots overwritten: that is how tc grafts.
 */
function fillTailCalls(spec: ObjectSpec, maps: readonly BpfMap[], programs: readonly BpfProgram[]): void {
  const slotted = programs.filter((p) => p.tailCallIndex !== undefined);
  if (slotted.length === 0) return;
  const lastProgArray = [...maps].reverse().find((m) => m.def.type === BPF_MAP_TYPE.PROG_ARRAY);
  for (const program of slotted) {
    const context = { file: spec.file, section: program.section, program: program.name };
    const slot = program.tailCallIndex!;
    const mapId = program.tailCallMapId;
    const progArray = mapId === undefined ? lastProgArray : tcProgArray(spec, maps, mapId, slot, context);
    if (!progArray) {
      throw new LoadError(
        `section name makes it tail-call slot ${slot}, but the object has no PROG_ARRAY map to put it in`,
        context,
      );
    }
    try {
      progArraySet(progArray.fd, slot, program.fd);
    } catch (cause) {
      throw new LoadError(
        `cannot put the program in slot ${slot} of PROG_ARRAY map '${progArray.name}' ` +
          `(max_entries ${progArray.def.max_entries})`,
        context,
        { cause },
      );
    }
  }
}

/** The PROG_ARRAY a tc `<id>/<key>` section names, checked before any slot is written. */
function tcProgArray(spec: ObjectSpec, maps: readonly BpfMap[], mapId: number, slot: number, context: LoadErrorContext): BpfMap {
  const named = spec.maps.find((m) => m.tc?.id === mapId);
  if (!named) {
    throw new LoadError(`section name makes it slot ${slot} of the map with id ${mapId}, but no map has that id`, context, {
      hint: `ids of this object's maps: ${spec.maps.filter((m) => m.tc?.id).map((m) => `${m.name}=${m.tc!.id}`).join(', ') || 'none'}`,
    });
  }
  const map = maps[named.index]!;
  const where = { ...context, map: { index: named.index, name: named.name } };
  if (map.def.type !== BPF_MAP_TYPE.PROG_ARRAY) {
    throw new LoadError(`section name makes it slot ${slot} of map id ${mapId}, which is a ${mapTypeName(map.def.type)}, not a PROG_ARRAY`, where);
  }
  if (slot >= map.def.max_entries) {
    throw new LoadError(`section name makes it slot ${slot} of map id ${mapId}, which has ${map.def.max_entries} slots`, where);
  }
  return map;
}
