import { BPF_ELF_MAP, BPF_MAP_AUX, BPF_SCM_MAX_FDS, BPF_SCM_UDS_VERSION } from '../uapi/sockets.js';
import { fromCString } from './cString.js';
import { StructCodec } from './structCodec.js';

/**
 * iproute2's struct bpf_map_aux (include/bpf_scm.h), the payload of each
 * datagram tc sends with map fds: u16 uds_ver, u16 num_ent, char
 * obj_name[64], struct { dev_t; ino_t } obj_st, then one 36-byte struct
 * bpf_elf_map per fd of the datagram (LP64 layout).
 */

const UDS_VERSION = BPF_SCM_UDS_VERSION;
/** ELF_MAX_MAPS: entries (and fds) one datagram carries at most */
export const MAX_ENTRIES_PER_DATAGRAM = BPF_SCM_MAX_FDS;
const HEADER_SIZE = BPF_MAP_AUX.end;
const ENTRY_SIZE = BPF_ELF_MAP.end;
const aux = new StructCodec(BPF_MAP_AUX);
const elfMap = new StructCodec(BPF_ELF_MAP);
export const MAX_DATAGRAM_SIZE = HEADER_SIZE + ENTRY_SIZE * MAX_ENTRIES_PER_DATAGRAM;

/** struct bpf_elf_map as tc sends it: the map's definition in the object, by iproute2's field names. */
export interface TcMapEntry {
  type: number;
  size_key: number;
  size_value: number;
  max_elem: number;
  flags: number;
  /** what `tc exec bpf import` names the fd by: BPF_MAP<id> */
  id: number;
  pinning: number;
  inner_id: number;
  inner_idx: number;
}

const ENTRY_FIELDS = ['type', 'size_key', 'size_value', 'max_elem', 'flags', 'id', 'pinning', 'inner_id', 'inner_idx'] as const;

export interface MapSetHeader {
  /** the object's name, at most 63 bytes as tc keeps it */
  objectName: string;
  /** st_dev and st_ino of the object file; 0 when unknown */
  dev: bigint;
  ino: bigint;
}

/** The datagrams of one map set, in order: each with the whole set's num_ent and its own slice of (at most 64) entries. */
export function encodeMapSet(header: MapSetHeader, entries: readonly TcMapEntry[]): Buffer[] {
  const datagrams: Buffer[] = [];
  for (let first = 0; first < entries.length; first += MAX_ENTRIES_PER_DATAGRAM) {
    const slice = entries.slice(first, first + MAX_ENTRIES_PER_DATAGRAM);
    const out = Buffer.alloc(HEADER_SIZE + ENTRY_SIZE * slice.length);
    aux.encode(out, {
      uds_ver: UDS_VERSION, num_ent: entries.length, obj_name: Buffer.from(header.objectName, 'utf8'),
      st_dev: BigInt.asUintN(64, header.dev), st_ino: BigInt.asUintN(64, header.ino),
    });
    slice.forEach((entry, i) => elfMap.encode(out.subarray(HEADER_SIZE + ENTRY_SIZE * i), entry));
    datagrams.push(out);
  }
  return datagrams;
}

export interface DecodedDatagram extends MapSetHeader {
  /** num_ent: entries in the whole set */
  total: number;
  entries: TcMapEntry[];
}

/** A datagram that is not a bpf_map_set_msg: why, in words (receiveMaps says where it came from). */
export class MalformedMapSet extends Error {
  readonly code = 'BPF_LOAD_INPUT';

  constructor(why: string) {
    super(`malformed map set message: ${why}`);
    this.name = 'MalformedMapSet';
  }
}

/**
 * Read one datagram's payload; `fdCount` is how many fds came with it, which
 * must be one per entry. Throws MalformedMapSet saying what is wrong.
 */
export function decodeMapSetDatagram(payload: Buffer, fdCount: number): DecodedDatagram {
  const refuse = (why: string): never => {
    throw new MalformedMapSet(why);
  };
  if (payload.byteLength < HEADER_SIZE) refuse(`${payload.byteLength} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  const version = aux.get(payload, 'uds_ver');
  if (version !== UDS_VERSION) refuse(`uds_ver ${version}, expected ${UDS_VERSION}`);
  if ((payload.byteLength - HEADER_SIZE) % ENTRY_SIZE !== 0) {
    refuse(`${payload.byteLength - HEADER_SIZE} bytes of entries, not a whole number of ${ENTRY_SIZE}-byte struct bpf_elf_map`);
  }
  const count = (payload.byteLength - HEADER_SIZE) / ENTRY_SIZE;
  if (fdCount !== count) refuse(`${count} entries but ${fdCount} fds`);
  const total = aux.get(payload, 'num_ent');
  if (count > total) refuse(`${count} entries in one datagram, but num_ent says the set has ${total}`);
  if (count === 0) refuse('a datagram with no entries');
  const entries: TcMapEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry = payload.subarray(HEADER_SIZE + ENTRY_SIZE * i);
    entries.push(Object.fromEntries(ENTRY_FIELDS.map((field) => [field, elfMap.get(entry, field)])) as unknown as TcMapEntry);
  }
  return {
    objectName: fromCString(Buffer.from(aux.getBytes(payload, 'obj_name'))),
    dev: aux.getBig(payload, 'st_dev'),
    ino: aux.getBig(payload, 'st_ino'),
    total,
    entries,
  };
}
