import { bpfCommand } from './bpfCommand.js';
import { attr, addressOf } from './native.js';
import { BpfFd } from './fd.js';
import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { objGetInfoByFd } from './commands.js';
import { fromCString, toCString } from './cString.js';
import { withSignalsBlocked } from './signalMask.js';
import {
  BPF_MAP_UPDATE_ELEM, BPF_OBJ_NAME_LEN, BPF_PROG_ATTACH, BPF_PROG_DETACH, BPF_PROG_GET_FD_BY_ID, BPF_PROG_LOAD,
  BPF_RAW_TRACEPOINT_OPEN,
} from './uapi.js';

/** Program commands of bpf(2): fill the attr, call, turn -errno into a SyscallError. */

/** offsetofend(union bpf_attr, expected_attach_type) */
const PROG_LOAD_ATTR_SIZE = 72;
const PROG_ATTACH_ATTR_SIZE = 16;
const RAW_TRACEPOINT_ATTR_SIZE = 16;
const ELEM_ATTR_SIZE = 32;


export interface ProgLoadAttr {
  prog_type: number;
  /** 8 bytes per instruction, already relocated */
  insns: Uint8Array;
  license: string;
  kern_version: number;
  /** at most 15 characters of [A-Za-z0-9_.] */
  prog_name?: string;
  prog_flags?: number;
  expected_attach_type?: number;
  /** 0: no log; 1, 2 (and 4 for stats): verifier log into `log_buf` */
  log_level?: number;
  log_buf?: Buffer;
}

/**
 * BPF_PROG_LOAD. With a log buffer the verifier writes its log there (NUL
 * terminated); the caller reads it whether or not the load succeeded.
 */
export function progLoad(a: ProgLoadAttr): BpfFd {
  // the kernel reads these through pointers while the call runs: keep them referenced
  const insns = Buffer.from(a.insns.buffer, a.insns.byteOffset, a.insns.byteLength);
  const license = toCString(a.license, 'latin1');
  const logLevel = a.log_buf && a.log_buf.byteLength > 0 ? (a.log_level ?? 1) : 0;
  attr.fill(0, 0, PROG_LOAD_ATTR_SIZE);
  attr.writeUInt32LE(a.prog_type >>> 0, 0);
  attr.writeUInt32LE(insns.byteLength / 8, 4);
  attr.writeBigUInt64LE(addressOf(insns), 8);
  attr.writeBigUInt64LE(addressOf(license), 16);
  attr.writeUInt32LE(logLevel, 24);
  if (logLevel) {
    a.log_buf!.fill(0, 0, 1);
    attr.writeUInt32LE(a.log_buf!.byteLength, 28);
    attr.writeBigUInt64LE(addressOf(a.log_buf!), 32);
  }
  attr.writeUInt32LE(a.kern_version >>> 0, 40);
  attr.writeUInt32LE((a.prog_flags ?? 0) >>> 0, 44);
  if (a.prog_name) attr.write(a.prog_name.slice(0, BPF_OBJ_NAME_LEN - 1), 48, 'latin1');
  attr.writeUInt32LE((a.expected_attach_type ?? 0) >>> 0, 68);
  // the verifier gives up with EAGAIN whenever a signal is pending for this thread, and a sampling profiler's
  // SIGPROF comes every millisecond or faster: a load a signal interrupted is made again with every signal
  // blocked, where none can interrupt it. The first try goes without: blocking and unblocking are two more
  // system calls, 5-8% of a small object's whole load, for a case that is rare outside a profiler
  try {
    return new BpfFd(bpfCommand(BPF_PROG_LOAD, PROG_LOAD_ATTR_SIZE));
  } catch (error) {
    if (!(error instanceof SyscallError) || error.errno !== errno.EAGAIN) throw error;
  }
  return withSignalsBlocked(() => {
    for (let attempt = 2; ; attempt++) {
      try {
        return new BpfFd(bpfCommand(BPF_PROG_LOAD, PROG_LOAD_ATTR_SIZE));
      } catch (error) {
        if (!(error instanceof SyscallError) || error.errno !== errno.EAGAIN || attempt === PROG_LOAD_ATTEMPTS) throw error;
      }
    }
  });
}

/** How often BPF_PROG_LOAD is tried when the kernel says EAGAIN (libbpf: 5). */
export const PROG_LOAD_ATTEMPTS = 5;

export function progAttach(targetFd: number, progFd: number, attachType: number, attachFlags = 0): void {
  attr.fill(0, 0, PROG_ATTACH_ATTR_SIZE);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(attachFlags, 12);
  bpfCommand(BPF_PROG_ATTACH, PROG_ATTACH_ATTR_SIZE, `(target fd ${targetFd}, attach type ${attachType})`);
}

export function progDetach(targetFd: number, progFd: number, attachType: number): void {
  attr.fill(0, 0, PROG_ATTACH_ATTR_SIZE);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  bpfCommand(BPF_PROG_DETACH, PROG_ATTACH_ATTR_SIZE, `(target fd ${targetFd}, attach type ${attachType})`);
}

/** BPF_RAW_TRACEPOINT_OPEN: the program runs while the returned fd is open. */
export function rawTracepointOpen(name: string, progFd: number): BpfFd {
  const nameBuffer = toCString(name, 'latin1');
  attr.fill(0, 0, RAW_TRACEPOINT_ATTR_SIZE);
  attr.writeBigUInt64LE(addressOf(nameBuffer), 0);
  attr.writeUInt32LE(progFd, 8);
  return new BpfFd(bpfCommand(BPF_RAW_TRACEPOINT_OPEN, RAW_TRACEPOINT_ATTR_SIZE, `'${name}'`));
}

export function progGetFdById(id: number): BpfFd {
  attr.fill(0, 0, 12);
  attr.writeUInt32LE(id, 0);
  return new BpfFd(bpfCommand(BPF_PROG_GET_FD_BY_ID, 12, `(id ${id})`));
}

/** Put a program fd at `index` of a PROG_ARRAY map (a tail-call slot). */
export function progArraySet(mapFd: number, index: number, progFd: number): void {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(index >>> 0);
  const value = Buffer.alloc(4);
  value.writeUInt32LE(progFd >>> 0);
  attr.fill(0, 0, ELEM_ATTR_SIZE);
  attr.writeUInt32LE(mapFd, 0);
  attr.writeBigUInt64LE(addressOf(key), 8);
  attr.writeBigUInt64LE(addressOf(value), 16);
  bpfCommand(BPF_MAP_UPDATE_ELEM, ELEM_ATTR_SIZE, `(prog array fd ${mapFd}, slot ${index})`);
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
}

const PROG_INFO_SIZE = 232;

/** BPF_OBJ_GET_INFO_BY_FD on a program fd, including its xlated instructions and map ids. */
export function progGetInfo(fd: number): ProgInfo {
  const first = Buffer.alloc(PROG_INFO_SIZE);
  objGetInfoByFd(fd, first);
  const xlatedLength = first.readUInt32LE(20);
  const mapCount = first.readUInt32LE(52);
  const info = Buffer.alloc(PROG_INFO_SIZE);
  const xlated = Buffer.alloc(Math.max(xlatedLength, 8));
  const mapIds = Buffer.alloc(Math.max(mapCount * 4, 4));
  info.writeUInt32LE(xlatedLength, 20);
  info.writeBigUInt64LE(addressOf(xlated), 32);
  info.writeUInt32LE(mapCount, 52);
  info.writeBigUInt64LE(addressOf(mapIds), 56);
  objGetInfoByFd(fd, info);
  const nrMaps = Math.min(info.readUInt32LE(52), mapCount);
  const xlatedWritten = Math.min(info.readUInt32LE(20), xlatedLength);
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    tag: info.subarray(8, 16).toString('hex'),
    jited_prog_len: info.readUInt32LE(16),
    xlated_prog_len: info.readUInt32LE(20),
    name: fromCString(info.subarray(64, 64 + BPF_OBJ_NAME_LEN), 'latin1'),
    ifindex: info.readUInt32LE(80),
    gpl_compatible: (info.readUInt32LE(84) & 1) === 1,
    map_ids: Array.from({ length: nrMaps }, (_, i) => mapIds.readUInt32LE(i * 4)),
    xlated: new Uint8Array(xlated.subarray(0, xlatedWritten)),
    verified_insns: info.byteLength >= 220 ? info.readUInt32LE(216) : 0,
  };
}
