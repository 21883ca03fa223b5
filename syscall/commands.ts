import { bpfCommand } from './bpfCommand.js';
import { attr, addressOf } from './native.js';
import { BpfFd } from './fd.js';
import { fromCString, toCString } from './cString.js';
import {
  BPF_MAP_CREATE, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD, BPF_OBJ_PIN, BPF_OBJ_NAME_LEN, BPF_MAP_GET_FD_BY_ID,
} from './uapi.js';

/**
 * One function per bpf(2) command: fill the attr, call, turn -errno into a
 * SyscallError. No policy lives here.
 */

/** Sizes passed to the kernel: offsetofend(union bpf_attr, last field used). */
const MAP_CREATE_ATTR_SIZE = 48; // up to map_ifindex
const OBJ_ATTR_SIZE = 16;
const INFO_ATTR_SIZE = 16;


function clearAttr(size: number): void {
  attr.fill(0, 0, size);
}

export interface MapCreateAttr {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  inner_map_fd?: number;
  /** only meaningful with BPF_F_NUMA_NODE in map_flags */
  numa_node?: number;
  /** at most 15 characters of [A-Za-z0-9_.] */
  map_name?: string;
  map_ifindex?: number;
}

export function mapCreate(a: MapCreateAttr): BpfFd {
  clearAttr(MAP_CREATE_ATTR_SIZE);
  attr.writeUInt32LE(a.map_type >>> 0, 0);
  attr.writeUInt32LE(a.key_size >>> 0, 4);
  attr.writeUInt32LE(a.value_size >>> 0, 8);
  attr.writeUInt32LE(a.max_entries >>> 0, 12);
  attr.writeUInt32LE(a.map_flags >>> 0, 16);
  attr.writeUInt32LE((a.inner_map_fd ?? 0) >>> 0, 20);
  attr.writeUInt32LE((a.numa_node ?? 0) >>> 0, 24);
  if (a.map_name) attr.write(a.map_name.slice(0, BPF_OBJ_NAME_LEN - 1), 28, 'latin1');
  attr.writeUInt32LE((a.map_ifindex ?? 0) >>> 0, 44);
  return new BpfFd(bpfCommand(BPF_MAP_CREATE, MAP_CREATE_ATTR_SIZE));
}

export interface MapInfo {
  type: number;
  id: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  name: string;
  ifindex: number;
}

const MAP_INFO_SIZE = 88;

/** BPF_OBJ_GET_INFO_BY_FD on a map fd. */
export function mapGetInfo(fd: number): MapInfo {
  const info = Buffer.alloc(MAP_INFO_SIZE);
  objGetInfoByFd(fd, info);
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    key_size: info.readUInt32LE(8),
    value_size: info.readUInt32LE(12),
    max_entries: info.readUInt32LE(16),
    map_flags: info.readUInt32LE(20),
    name: fromCString(info.subarray(24, 24 + BPF_OBJ_NAME_LEN), 'latin1'),
    ifindex: info.readUInt32LE(40),
  };
}

/** Fills `info` (a struct bpf_*_info buffer); returns how many bytes the kernel wrote. */
export function objGetInfoByFd(fd: number, info: Buffer): number {
  clearAttr(INFO_ATTR_SIZE);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(info.byteLength, 4);
  attr.writeBigUInt64LE(addressOf(info), 8);
  bpfCommand(BPF_OBJ_GET_INFO_BY_FD, INFO_ATTR_SIZE, `(fd ${fd})`);
  return attr.readUInt32LE(4);
}

/** The kernel id of a map, program or link fd (`id` sits at offset 4 of each bpf_*_info). */
export function objectIdOf(fd: number): number {
  const info = Buffer.alloc(8);
  objGetInfoByFd(fd, info);
  return info.readUInt32LE(4);
}

export function objPin(fd: number, path: string): void {
  const pathname = toCString(path);
  clearAttr(OBJ_ATTR_SIZE);
  attr.writeBigUInt64LE(addressOf(pathname), 0);
  attr.writeUInt32LE(fd, 8);
  bpfCommand(BPF_OBJ_PIN, OBJ_ATTR_SIZE, `'${path}'`);
}

/** BPF_OBJ_GET; fileFlags BPF_F_RDONLY / BPF_F_WRONLY or 0. */
export function objGet(path: string, fileFlags = 0): BpfFd {
  const pathname = toCString(path);
  clearAttr(OBJ_ATTR_SIZE);
  attr.writeBigUInt64LE(addressOf(pathname), 0);
  attr.writeUInt32LE(fileFlags, 12);
  return new BpfFd(bpfCommand(BPF_OBJ_GET, OBJ_ATTR_SIZE, `'${path}'`));
}

export function mapGetFdById(id: number): BpfFd {
  clearAttr(12);
  attr.writeUInt32LE(id, 0);
  return new BpfFd(bpfCommand(BPF_MAP_GET_FD_BY_ID, 12, `(id ${id})`));
}
