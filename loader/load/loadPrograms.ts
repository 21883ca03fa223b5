import { release } from 'node:os';
import { relocateProgram, type ObjectSpec, type ProgramSpec } from '../../elf/index.js';
import { BpfFd, SyscallError, errno, progLoad, progTypeName, type ProgLoadAttr } from '../../syscall/index.js';
import { BpfProgram } from '../programs/bpfProgram.js';
import { kernelObjectName } from './kernelName.js';
import { applyKernelCore, coreReportsOf } from './coreStep.js';
import { applyExterns, kfuncFdArray } from './externStep.js';
import { btfTargetAttrs, btfTargetName, btfTargetRefusal, type BtfTargetAttrs } from './btfTarget.js';
import { ProgramLoadFds } from '../btf/moduleFds.js';
import type { LoadSettings } from '../options.js';
import { ProgramLoadError } from '../errors.js';

/** First verifier log buffer; grown 4x on ENOSPC up to LOG_MAX. */
const LOG_START = 256 * 1024;
/** the kernel takes at most UINT32_MAX >> 2 since 5.2; 64 MiB is more than any real log */
const LOG_MAX = 64 * 1024 * 1024;

/**
 * Relocate and BPF_PROG_LOAD one program, its map references pointing at
 * `fdOf(map name)`. The returned BpfProgram owns its fd.
 */
export function loadProgram(
  spec: ObjectSpec,
  program: ProgramSpec,
  type: number,
  index: number,
  fdOf: (map: string) => number,
  settings: Pick<LoadSettings, 'logLevel' | 'kernVersion'> & Partial<Pick<LoadSettings, 'btfPath' | 'onWarning' | 'freplaceTargets'>>,
  btfFd = 0,
): BpfProgram {
  const kernVersion = spec.kernVersion ?? settings.kernVersion ?? (runningVersion ??= runningKernelVersion());
  const insns = relocateProgram(program, fdOf, { file: spec.file, littleEndian: spec.byteOrder === 'little' });
  const core = program.btfExt?.coreRelos?.length
    ? applyKernelCore(spec, program, insns, { btfPath: settings.btfPath, onWarning: settings.onWarning })
    : undefined;
  const target = btfTargetName(program);
  // module BTF and kfunc fds are needed for externs, as for a BTF target
  let needsFds = target !== undefined;
  for (let i = 0; !needsFds && i < program.relocations.length; i++) needsFds = program.relocations[i]!.kind === 'extern';
  const loaded = needsFds
    ? loadWithFds(spec, program, type, insns, kernVersion, settings, btfFd)
    : loadOne(spec, program, type, insns, kernVersion, settings.logLevel, btfFd, undefined, undefined);
  const { owner, log } = loaded;
  try {
    return new BpfProgram(owner, program.section, program.name, type, index, {
      file: spec.file,
      kind: program.kind,
      insnCount: insns.byteLength / 8,
      tailCallIndex: program.tailCall?.slot,
      tailCallMapId: program.tailCall?.tcMapId,
      attachTarget: program.attachTarget ?? target,
      expectedAttachType: program.expectedAttachType,
      insns,
      verifierLog: log,
      // formatted only when read: a load that never asks pays for keeping the calculator's results
      coreRelocations: core && (() => coreReportsOf(spec, program, core)),
    });
  } catch (error) {
    owner.close();
    throw error;
  }
}

function loadWithFds(
  spec: ObjectSpec,
  program: ProgramSpec,
  type: number,
  insns: Uint8Array,
  kernVersion: number,
  settings: Pick<LoadSettings, 'logLevel'> & Partial<Pick<LoadSettings, 'btfPath' | 'onWarning' | 'freplaceTargets'>>,
  btfFd: number,
): { owner: BpfFd; log: string | undefined } {
  // module BTF objects and an freplace target are held for the load only: the kernel keeps what the program uses
  const fds = new ProgramLoadFds();
  try {
    applyExterns(spec, program, insns, { btfPath: settings.btfPath, onWarning: settings.onWarning }, fds);
    const fdArray = kfuncFdArray(spec, program, settings, fds);
    return loadOne(spec, program, type, insns, kernVersion, settings.logLevel, btfFd, btfTargetAttrs(spec, program, settings, fds), fdArray);
  } finally {
    fds.close();
  }
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
  btfFd: number,
  attachBtf: BtfTargetAttrs | undefined,
  fdArray: Uint8Array | undefined,
): { owner: BpfFd; log: string | undefined } {
  const btf = btfFd > 0 && program.btfExt ? btfAttrs(btfFd, program.btfExt, spec.byteOrder === 'little') : undefined;
  const base: ProgLoadAttr = {
    prog_type: type,
    insns,
    license: spec.license ?? '',
    kern_version: kernVersion,
    prog_name: kernelObjectName(program.name),
    // 0 is what the kernel takes for none: only what the program has is written
    expected_attach_type: program.expectedAttachType || undefined,
    prog_flags: program.progFlags || undefined,
    prog_btf_fd: btf?.prog_btf_fd,
    func_info: btf?.func_info,
    func_info_rec_size: btf?.func_info_rec_size,
    line_info: btf?.line_info,
    line_info_rec_size: btf?.line_info_rec_size,
    attach_btf_id: attachBtf?.attach_btf_id,
    attach_prog_fd: attachBtf?.attach_prog_fd,
    fd_array: fdArray,
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
      const hint = btfTargetRefusal(program, type, cause, log) ?? diagnoseProgLoad(spec, cause, log);
      throw new ProgramLoadError(
        `failed to load program (${progTypeName(type)}, ${insns.byteLength / 8} insns)`,
        { file: spec.file, section: program.section, program: program.name },
        { cause, verifierLog: log, ...(hint === undefined ? {} : { hint }) },
      );
    }
  }
}

/** prog_btf_fd with the program's func_info (8-byte records) and line_info (16-byte records). */
function btfAttrs(btfFd: number, ext: NonNullable<ProgramSpec['btfExt']>, little: boolean) {
  const funcInfo = Buffer.alloc(ext.funcInfo.length * 8);
  ext.funcInfo.forEach((f, i) => {
    funcInfo[little ? 'writeUInt32LE' : 'writeUInt32BE'](f.insnOff, i * 8);
    funcInfo[little ? 'writeUInt32LE' : 'writeUInt32BE'](f.typeId, i * 8 + 4);
  });
  const lineInfo = Buffer.alloc(ext.lineInfo.length * 16);
  ext.lineInfo.forEach((l, i) => {
    const write = little ? 'writeUInt32LE' : 'writeUInt32BE';
    lineInfo[write](l.insnOff, i * 16);
    lineInfo[write](l.fileNameOff, i * 16 + 4);
    lineInfo[write](l.lineOff, i * 16 + 8);
    lineInfo[write](l.lineCol >>> 0, i * 16 + 12);
  });
  return { prog_btf_fd: btfFd, func_info: funcInfo, func_info_rec_size: 8, line_info: lineInfo, line_info_rec_size: 16 };
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
  // libbpf's poison: the call CO-RE writes in place of a relocation this kernel cannot satisfy
  if (/unknown#195896080\b/.test(log)) {
    return "a CO-RE relocation was poisoned (call unknown#195896080): the kernel's BTF lacks a field or type the program reads " +
      'on a path the verifier reached; guard the read with bpf_core_field_exists(), or check the BTF given (--btf, btfPath)';
  }
  if (/unknown func|invalid func/.test(log)) {
    return 'the program calls a helper this kernel does not offer to this program type';
  }
  if (cause.errno === errno.EACCES) return 'the verifier refused the program: see the log';
  if (cause.errno === errno.E2BIG) return 'the program is too large or too complex for the verifier';
  if (cause.errno === errno.EBADF) return 'a map reference does not hold a valid map fd';
  return undefined;
}

