import { bpfCommand } from './bpfCommand.js';
import { btfInfo, btfLoadAttr, fdAttr, getIdAttr, infoAttr, mapInfo, objAttr } from './attrCodecs.js';
import { encodeMapCreate, type MapCreateAttr } from './loadAttrs.js';
import { attr, addressOf } from './native.js';
import { BpfFd } from './fd.js';
import { toCString } from './cString.js';
import {
  BPF_MAP_CREATE, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD, BPF_OBJ_PIN, BPF_MAP_GET_FD_BY_ID, BPF_BTF_LOAD, BPF_BTF_GET_FD_BY_ID,
  BPF_LINK_GET_FD_BY_ID, BPF_MAP_FREEZE,
} from '../uapi/commands.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG } from '../uapi/bpf.js';
import { explainRefusal } from './probes.js';

/**
 * One function per bpf(2) command: fill the attr, call, turn -errno into a
 * SyscallError. No policy lives here.
 */


export type { MapCreateAttr } from './loadAttrs.js';

/** BPF_MAP_CREATE; a refusal that a probe finds this kernel too old for is a NotSupportedError. */
export function mapCreate(a: MapCreateAttr): BpfFd {
  const size = encodeMapCreate(a);
  try {
    return new BpfFd(bpfCommand(BPF_MAP_CREATE, size));
  } catch (error) {
    throw explainRefusal(error, [
      { mapType: a.map_type },
      ...(a.map_flags & BPF_F_MMAPABLE ? ['mmapableArray' as const] : []),
      ...(a.map_flags & BPF_F_RDONLY_PROG ? ['rdonlyProgMaps' as const] : []),
      ...(a.btf_fd ? ['btf' as const] : []),
    ]);
  }
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
  btf_id: number;
  btf_key_type_id: number;
  btf_value_type_id: number;
  map_extra: bigint;
}

/** BPF_OBJ_GET_INFO_BY_FD on a map fd. */
export function mapGetInfo(fd: number): MapInfo {
  const info = mapInfo.alloc();
  objGetInfoByFd(fd, info);
  return {
    type: mapInfo.get(info, 'type'),
    id: mapInfo.get(info, 'id'),
    key_size: mapInfo.get(info, 'key_size'),
    value_size: mapInfo.get(info, 'value_size'),
    max_entries: mapInfo.get(info, 'max_entries'),
    map_flags: mapInfo.get(info, 'map_flags'),
    name: mapInfo.getString(info, 'name'),
    ifindex: mapInfo.get(info, 'ifindex'),
    btf_id: mapInfo.get(info, 'btf_id'),
    btf_key_type_id: mapInfo.get(info, 'btf_key_type_id'),
    btf_value_type_id: mapInfo.get(info, 'btf_value_type_id'),
    map_extra: mapInfo.getBig(info, 'map_extra'),
  };
}

/** Fills `info` (a struct bpf_*_info buffer); returns how many bytes the kernel wrote. */
export function objGetInfoByFd(fd: number, info: Buffer): number {
  const size = infoAttr.encode(attr, { bpf_fd: fd, info_len: info.byteLength, info: addressOf(info) });
  bpfCommand(BPF_OBJ_GET_INFO_BY_FD, size, `(fd ${fd})`);
  return infoAttr.get(attr, 'info_len');
}

/** The kernel id of a map, program or link fd: `id` sits where bpf_map_info has it in each of their infos. */
export function objectIdOf(fd: number): number {
  const info = Buffer.alloc(mapInfo.layout.fields.id.offset + 4);
  objGetInfoByFd(fd, info);
  return mapInfo.get(info, 'id');
}

export function objPin(fd: number, path: string): void {
  const pathname = toCString(path);
  const size = objAttr.encode(attr, { pathname: addressOf(pathname), bpf_fd: fd });
  bpfCommand(BPF_OBJ_PIN, size, `'${path}'`);
}

/** BPF_OBJ_GET; fileFlags BPF_F_RDONLY / BPF_F_WRONLY or 0. */
export function objGet(path: string, fileFlags = 0): BpfFd {
  const pathname = toCString(path);
  const size = objAttr.encode(attr, { pathname: addressOf(pathname), file_flags: fileFlags });
  return new BpfFd(bpfCommand(BPF_OBJ_GET, size, `'${path}'`));
}

function getFdById(cmd: number, id: number, what: string): BpfFd {
  const size = getIdAttr.encode(attr, { id });
  return new BpfFd(bpfCommand(cmd, size, `(${what} id ${id})`));
}

export function mapGetFdById(id: number): BpfFd {
  return getFdById(BPF_MAP_GET_FD_BY_ID, id, 'map');
}

export function btfGetFdById(id: number): BpfFd {
  return getFdById(BPF_BTF_GET_FD_BY_ID, id, 'BTF');
}

export function linkGetFdById(id: number): BpfFd {
  return getFdById(BPF_LINK_GET_FD_BY_ID, id, 'link');
}

/** BPF_MAP_FREEZE: no more writes from user space (the map's programs may still write). */
export function mapFreeze(fd: number): void {
  const size = fdAttr.encode(attr, { fd });
  bpfCommand(BPF_MAP_FREEZE, size, `(map fd ${fd})`);
}

export interface BtfLoadAttr {
  /** a whole .BTF blob: header, types, strings */
  btf: Uint8Array;
  /** 0: no log; 1, 2: the kernel's BTF checker log into `log_buf` */
  log_level?: number;
  log_buf?: Buffer;
}

/** BPF_BTF_LOAD: the kernel checks the types and holds them for maps and programs to name. */
export function btfLoad(a: BtfLoadAttr): BpfFd {
  const btf = Buffer.from(a.btf.buffer, a.btf.byteOffset, a.btf.byteLength);
  const logLevel = a.log_buf && a.log_buf.byteLength > 0 ? (a.log_level ?? 1) : 0;
  if (logLevel) a.log_buf!.fill(0, 0, 1);
  const size = btfLoadAttr.encode(attr, {
    btf: addressOf(btf),
    btf_size: btf.byteLength,
    btf_log_level: logLevel,
    btf_log_size: logLevel ? a.log_buf!.byteLength : 0,
    btf_log_buf: logLevel ? addressOf(a.log_buf!) : 0n,
  });
  try {
    return new BpfFd(bpfCommand(BPF_BTF_LOAD, size));
  } catch (error) {
    throw explainRefusal(error, ['btf']);
  }
}

export interface BtfInfo {
  id: number;
  btf_size: number;
  name: string;
  kernel_btf: boolean;
}

/** BPF_OBJ_GET_INFO_BY_FD on a BTF fd (its name: a kernel module's, or empty). */
export function btfGetInfo(fd: number): BtfInfo {
  const name = Buffer.alloc(64);
  const info = btfInfo.alloc({ name: addressOf(name), name_len: name.byteLength });
  objGetInfoByFd(fd, info);
  return {
    id: btfInfo.get(info, 'id'),
    btf_size: btfInfo.get(info, 'btf_size'),
    name: name.toString('latin1', 0, Math.max(0, name.indexOf(0))),
    kernel_btf: btfInfo.get(info, 'kernel_btf') !== 0,
  };
}

/**
 * The BTF blob the kernel holds for a BTF fd (header, types, strings), as
 * bpftool reads it for a map's btf_id: BPF_OBJ_GET_INFO_BY_FD once for its
 * size, again into a buffer of that size.
 */
export function btfGetData(fd: number): Uint8Array {
  const size = btfGetInfo(fd).btf_size;
  const data = Buffer.alloc(size);
  const info = btfInfo.alloc({ btf: addressOf(data), btf_size: size });
  objGetInfoByFd(fd, info);
  return data.subarray(0, Math.min(size, btfInfo.get(info, 'btf_size')));
}
