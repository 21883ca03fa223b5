import { bpfCommand } from './bpfCommand.js';
import { elemAttr, getIdAttr, progAttachAttr, progBindMapAttr, progInfo, rawTracepointAttr, testRunAttr } from './attrCodecs.js';
import { attr, addressOf } from './native.js';
import { BpfFd } from './fd.js';
import { encodeProgLoad } from './loadAttrs.js';
import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { objGetInfoByFd } from './commands.js';
import { toCString } from './cString.js';
import { withSignalsBlocked } from './signalMask.js';
import { explainRefusal } from './probes.js';
import {
  BPF_MAP_UPDATE_ELEM, BPF_PROG_ATTACH, BPF_PROG_DETACH, BPF_PROG_GET_FD_BY_ID, BPF_PROG_LOAD, BPF_PROG_TEST_RUN,
  BPF_RAW_TRACEPOINT_OPEN, BPF_PROG_BIND_MAP,
} from '../uapi/commands.js';
import { PROG_INFO, PROG_INFO_GPL_COMPATIBLE } from '../uapi/info.js';

/** Program commands of bpf(2): fill the attr, call, turn -errno into a SyscallError. */


export interface ProgLoadAttr {
  prog_type: number;
  /** 8 bytes per instruction, already relocated */
  insns: Uint8Array;
  license: string;
  kern_version: number;
  /** at most 15 characters of [A-Za-z0-9_.] */
  prog_name?: string | undefined;
  prog_flags?: number | undefined;
  expected_attach_type?: number | undefined;
  /** 0: no log; 1, 2 (and 4 for stats): verifier log into `log_buf` */
  log_level?: number | undefined;
  log_buf?: Buffer | undefined;
  /** the object's BTF (a BPF_BTF_LOAD fd), with its .BTF.ext records for this program */
  prog_btf_fd?: number | undefined;
  func_info?: Uint8Array | undefined;
  func_info_rec_size?: number | undefined;
  line_info?: Uint8Array | undefined;
  line_info_rec_size?: number | undefined;
  /** tracing, lsm, ext: the BTF id of the attach point (in vmlinux, or in attach_prog_fd's program) */
  attach_btf_id?: number | undefined;
  attach_prog_fd?: number | undefined;
  /** map fds that BPF_PSEUDO_MAP_IDX instructions index */
  fd_array?: Uint8Array | undefined;
}

/**
 * BPF_PROG_LOAD. With a log buffer the verifier writes its log there (NUL
 * terminated); the caller reads it whether or not the load succeeded.
 */
export function progLoad(a: ProgLoadAttr): BpfFd {
  // the kernel reads these through pointers while the call runs (`a` keeps them referenced); reading
  // .buffer moves a small array's bytes off the JS heap, where the garbage collector cannot move them
  const insns = a.insns;
  void insns.buffer;
  const logLevel = a.log_buf && a.log_buf.byteLength > 0 ? (a.log_level ?? 1) : 0;
  if (logLevel) a.log_buf!.fill(0, 0, 1);
  const funcInfo = a.func_info && a.func_info.byteLength > 0 ? a.func_info : undefined;
  const lineInfo = a.line_info && a.line_info.byteLength > 0 ? a.line_info : undefined;
  const funcInfoRecSize = a.func_info_rec_size ?? 8;
  const lineInfoRecSize = a.line_info_rec_size ?? 16;
  const size = encodeProgLoad({
    prog_type: a.prog_type,
    insn_cnt: insns.byteLength / 8,
    insns: addressOf(insns),
    license: licenseAddress(a.license),
    log_level: logLevel,
    log_size: logLevel ? a.log_buf!.byteLength : 0,
    log_buf: logLevel ? addressOf(a.log_buf!) : 0n,
    kern_version: a.kern_version,
    prog_flags: a.prog_flags,
    prog_name: a.prog_name,
    expected_attach_type: a.expected_attach_type,
    prog_btf_fd: a.prog_btf_fd,
    func_info_rec_size: funcInfo ? funcInfoRecSize : 0,
    func_info: funcInfo ? addressOf(funcInfo) : 0n,
    func_info_cnt: funcInfo ? funcInfo.byteLength / funcInfoRecSize : 0,
    line_info_rec_size: lineInfo ? lineInfoRecSize : 0,
    line_info: lineInfo ? addressOf(lineInfo) : 0n,
    line_info_cnt: lineInfo ? lineInfo.byteLength / lineInfoRecSize : 0,
    attach_btf_id: a.attach_btf_id,
    attach_prog_fd: a.attach_prog_fd,
    fd_array: a.fd_array && a.fd_array.byteLength > 0 ? addressOf(a.fd_array) : 0n,
  });
  // the verifier gives up with EAGAIN whenever a signal is pending for this thread, and a sampling profiler's
  // SIGPROF comes every millisecond or faster: a load a signal interrupted is made again with every signal
  // blocked, where none can interrupt it. The first try goes without: blocking and unblocking are two more
  // system calls, 5-8% of a small object's whole load, for a case that is rare outside a profiler
  try {
    return new BpfFd(bpfCommand(BPF_PROG_LOAD, size));
  } catch (error) {
    // a refusal with a verifier log is the verifier's, not a missing program type
    if (!(error instanceof SyscallError) || error.errno !== errno.EAGAIN) throw logLevel && a.log_buf![0] ? error : explainRefusal(error, [{ progType: a.prog_type }]);
  }
  return withSignalsBlocked(() => {
    for (let attempt = 2; ; attempt++) {
      try {
        return new BpfFd(bpfCommand(BPF_PROG_LOAD, size));
      } catch (error) {
        if (!(error instanceof SyscallError) || error.errno !== errno.EAGAIN || attempt === PROG_LOAD_ATTEMPTS) throw error;
      }
    }
  });
}

/** The last license given, as a C string in memory of its own that never moves (held here while in use): every program of an object carries the same one. */
let license: { text: string; bytes: Buffer; address: bigint } | undefined;

function licenseAddress(text: string): bigint {
  if (license?.text !== text) {
    const cString = toCString(text, 'latin1');
    const bytes = Buffer.from(new ArrayBuffer(cString.byteLength));
    cString.copy(bytes);
    license = { text, bytes, address: addressOf(bytes) };
  }
  return license.address;
}

/** How often BPF_PROG_LOAD is tried when the kernel says EAGAIN (libbpf: 5). */
export const PROG_LOAD_ATTEMPTS = 5;

export function progAttach(targetFd: number, progFd: number, attachType: number, attachFlags = 0): void {
  const size = progAttachAttr.encode(attr, { target_fd: targetFd, attach_bpf_fd: progFd, attach_type: attachType, attach_flags: attachFlags });
  bpfCommand(BPF_PROG_ATTACH, size, `(target fd ${targetFd}, attach type ${attachType})`);
}

export function progDetach(targetFd: number, progFd: number, attachType: number): void {
  const size = progAttachAttr.encode(attr, { target_fd: targetFd, attach_bpf_fd: progFd, attach_type: attachType });
  bpfCommand(BPF_PROG_DETACH, size, `(target fd ${targetFd}, attach type ${attachType})`);
}

/** BPF_RAW_TRACEPOINT_OPEN: the program runs while the returned fd is open. */
export function rawTracepointOpen(name: string, progFd: number): BpfFd {
  const nameBuffer = toCString(name, 'latin1');
  const size = rawTracepointAttr.encode(attr, { name: addressOf(nameBuffer), prog_fd: progFd });
  return new BpfFd(bpfCommand(BPF_RAW_TRACEPOINT_OPEN, size, `'${name}'`));
}

export function progGetFdById(id: number): BpfFd {
  const size = getIdAttr.encode(attr, { id });
  return new BpfFd(bpfCommand(BPF_PROG_GET_FD_BY_ID, size, `(id ${id})`));
}

/** Put a program fd at `index` of a PROG_ARRAY map (a tail-call slot). */
export function progArraySet(mapFd: number, index: number, progFd: number): void {
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(4);
  new DataView(key.buffer, key.byteOffset, 4).setUint32(0, index >>> 0, elemAttr.littleEndian);
  new DataView(value.buffer, value.byteOffset, 4).setUint32(0, progFd >>> 0, elemAttr.littleEndian);
  const size = elemAttr.encode(attr, { map_fd: mapFd, key: addressOf(key), value: addressOf(value) });
  bpfCommand(BPF_MAP_UPDATE_ELEM, size, `(prog array fd ${mapFd}, slot ${index})`);
}

export interface TestRunAttr {
  /** the packet (or input) the program runs on */
  data_in?: Uint8Array;
  /** room for the packet as the program left it */
  data_out?: Buffer;
  ctx_in?: Uint8Array;
  ctx_out?: Buffer;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export interface TestRunResult {
  retval: number;
  /** bytes the kernel wrote to data_out / ctx_out */
  data_size_out: number;
  ctx_size_out: number;
  /** average nanoseconds per run */
  duration: number;
}

/** BPF_PROG_TEST_RUN: run a program once (or `repeat` times) on the given input, in the kernel. */
export function progTestRun(progFd: number, a: TestRunAttr = {}): TestRunResult {
  const size = testRunAttr.encode(attr, {
    prog_fd: progFd,
    data_size_in: a.data_in?.byteLength ?? 0,
    data_in: a.data_in && a.data_in.byteLength > 0 ? addressOf(a.data_in) : 0n,
    data_size_out: a.data_out?.byteLength ?? 0,
    data_out: a.data_out && a.data_out.byteLength > 0 ? addressOf(a.data_out) : 0n,
    ctx_size_in: a.ctx_in?.byteLength ?? 0,
    ctx_in: a.ctx_in && a.ctx_in.byteLength > 0 ? addressOf(a.ctx_in) : 0n,
    ctx_size_out: a.ctx_out?.byteLength ?? 0,
    ctx_out: a.ctx_out && a.ctx_out.byteLength > 0 ? addressOf(a.ctx_out) : 0n,
    repeat: a.repeat,
    flags: a.flags,
    cpu: a.cpu,
  });
  bpfCommand(BPF_PROG_TEST_RUN, size, `(prog fd ${progFd})`);
  return {
    retval: testRunAttr.get(attr, 'retval'),
    data_size_out: testRunAttr.get(attr, 'data_size_out'),
    ctx_size_out: testRunAttr.get(attr, 'ctx_size_out'),
    duration: testRunAttr.get(attr, 'duration'),
  };
}

export interface ProgInfo {
  type: number;
  id: number;
  /** the kernel's 8-byte tag of the program, as hex (bpftool prog show prints it) */
  tag: string;
  jited_prog_len: number;
  xlated_prog_len: number;
  name: string;
  ifindex: number;
  gpl_compatible: boolean;
  /** ids of the maps the program uses */
  map_ids: number[];
  /** the verifier's rewritten instructions (map references hold map ids); empty without privileges */
  xlated: Uint8Array;
  verified_insns: number;
  /** the program's BTF object, 0 without one */
  btf_id: number;
}

/** BPF_OBJ_GET_INFO_BY_FD on a program fd, including its xlated instructions and map ids. */
export function progGetInfo(fd: number): ProgInfo {
  const first = progInfo.alloc();
  objGetInfoByFd(fd, first);
  const xlatedLength = progInfo.get(first, 'xlated_prog_len');
  const mapCount = progInfo.get(first, 'nr_map_ids');
  const xlated = Buffer.alloc(Math.max(xlatedLength, 8));
  const mapIds = Buffer.alloc(Math.max(mapCount * 4, 4));
  const info = progInfo.alloc({
    xlated_prog_len: xlatedLength,
    xlated_prog_insns: addressOf(xlated),
    nr_map_ids: mapCount,
    map_ids: addressOf(mapIds),
  });
  const written = objGetInfoByFd(fd, info);
  const nrMaps = Math.min(progInfo.get(info, 'nr_map_ids'), mapCount);
  const xlatedWritten = Math.min(progInfo.get(info, 'xlated_prog_len'), xlatedLength);
  const ids = new DataView(mapIds.buffer, mapIds.byteOffset, mapIds.byteLength);
  const verified = PROG_INFO.fields.verified_insns;
  return {
    type: progInfo.get(info, 'type'),
    id: progInfo.get(info, 'id'),
    tag: Buffer.from(progInfo.getBytes(info, 'tag')).toString('hex'),
    jited_prog_len: progInfo.get(info, 'jited_prog_len'),
    xlated_prog_len: progInfo.get(info, 'xlated_prog_len'),
    name: progInfo.getString(info, 'name'),
    ifindex: progInfo.get(info, 'ifindex'),
    gpl_compatible: (progInfo.get(info, 'flags') & PROG_INFO_GPL_COMPATIBLE) !== 0,
    map_ids: Array.from({ length: nrMaps }, (_, i) => ids.getUint32(i * 4, progInfo.littleEndian)),
    xlated: new Uint8Array(xlated.subarray(0, xlatedWritten)),
    verified_insns: written >= verified.offset + verified.size ? progInfo.get(info, 'verified_insns') : 0,
    btf_id: progInfo.get(info, 'btf_id'),
  };
}

/** BPF_MAP_UPDATE_ELEM of one key and value, for the loader's writes of initial contents (a data section's bytes). */
export function mapUpdateBytes(mapFd: number, key: Uint8Array, value: Uint8Array): void {
  const keyBuffer = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const valueBuffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const size = elemAttr.encode(attr, { map_fd: mapFd, key: addressOf(keyBuffer), value: addressOf(valueBuffer) });
  bpfCommand(BPF_MAP_UPDATE_ELEM, size, `(map fd ${mapFd})`);
}

/** BPF_PROG_BIND_MAP: the program holds the map (libbpf binds `.rodata` so its metadata stays readable). */
export function progBindMap(progFd: number, mapFd: number): void {
  const size = progBindMapAttr.encode(attr, { prog_fd: progFd, map_fd: mapFd, flags: 0 });
  bpfCommand(BPF_PROG_BIND_MAP, size, `(prog fd ${progFd}, map fd ${mapFd})`);
}
