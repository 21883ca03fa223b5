import { expect } from 'chai';
import * as uapi from '../../uapi/index.js';
import {
  BATCH_ATTR_SIZE, ELEM_ATTR_SIZE, StructCodec, commandName, mapTypeName, progTypeName, wordIndexes,
} from '../../syscall/index.js';

/** Offsets as pahole prints them for include/uapi/linux/bpf.h (Linux 6.x). */
const OFFSETS: [uapi.StructLayout, Record<string, number>, { end?: number; size?: number }][] = [
  [uapi.MAP_CREATE_ATTR, { map_type: 0, max_entries: 12, map_flags: 16, inner_map_fd: 20, numa_node: 24, map_name: 28, map_ifindex: 44, btf_fd: 48, btf_key_type_id: 52, btf_value_type_id: 56, btf_vmlinux_value_type_id: 60, map_extra: 64 }, { end: 72 }],
  [uapi.MAP_ELEM_ATTR, { map_fd: 0, key: 8, value: 16, flags: 24 }, { end: 32 }],
  [uapi.MAP_BATCH_ATTR, { in_batch: 0, out_batch: 8, keys: 16, values: 24, count: 32, map_fd: 36, elem_flags: 40, flags: 48 }, { end: 56 }],
  [uapi.PROG_LOAD_ATTR, {
    prog_type: 0, insn_cnt: 4, insns: 8, license: 16, log_level: 24, log_size: 28, log_buf: 32, kern_version: 40, prog_flags: 44,
    prog_name: 48, prog_ifindex: 64, expected_attach_type: 68, prog_btf_fd: 72, func_info_rec_size: 76, func_info: 80, func_info_cnt: 88,
    line_info_rec_size: 92, line_info: 96, line_info_cnt: 104, attach_btf_id: 108, attach_prog_fd: 112, core_relo_cnt: 116, fd_array: 120,
    core_relos: 128, core_relo_rec_size: 136, log_true_size: 140,
  }, { end: 144 }],
  [uapi.OBJ_ATTR, { pathname: 0, bpf_fd: 8, file_flags: 12 }, { end: 16 }],
  [uapi.PROG_ATTACH_ATTR, { target_fd: 0, attach_bpf_fd: 4, attach_type: 8, attach_flags: 12 }, { end: 16 }],
  [uapi.PROG_TEST_RUN_ATTR, { prog_fd: 0, retval: 4, data_in: 16, data_out: 24, repeat: 32, duration: 36, ctx_in: 48, ctx_out: 56, flags: 64, cpu: 68, batch_size: 72 }, { end: 76 }],
  [uapi.INFO_ATTR, { bpf_fd: 0, info_len: 4, info: 8 }, { end: 16 }],
  [uapi.GET_ID_ATTR, { id: 0, next_id: 4, open_flags: 8 }, { end: 12 }],
  [uapi.RAW_TRACEPOINT_ATTR, { name: 0, prog_fd: 8 }, { end: 12 }],
  [uapi.BTF_LOAD_ATTR, { btf: 0, btf_log_buf: 8, btf_size: 16, btf_log_size: 20, btf_log_level: 24, btf_log_true_size: 28 }, { end: 32 }],
  [uapi.LINK_CREATE_ATTR, { prog_fd: 0, target_fd: 4, attach_type: 8, flags: 12 }, { end: 16 }],
  [uapi.LINK_CREATE_TRACING_ATTR, { target_btf_id: 16, cookie: 24 }, { end: 32 }],
  [uapi.LINK_CREATE_PERF_EVENT_ATTR, { bpf_cookie: 16 }, { end: 24 }],
  [uapi.LINK_CREATE_TCX_ATTR, { relative_fd: 16, expected_revision: 24 }, { end: 32 }],
  [uapi.MAP_INFO, { type: 0, id: 4, name: 24, ifindex: 40, netns_dev: 48, btf_id: 64, btf_value_type_id: 72, map_extra: 80 }, { size: 88 }],
  [uapi.PROG_INFO, {
    tag: 8, xlated_prog_len: 20, xlated_prog_insns: 32, nr_map_ids: 52, map_ids: 56, name: 64, ifindex: 80, flags: 84, btf_id: 128,
    func_info: 136, line_info: 152, prog_tags: 184, run_time_ns: 192, verified_insns: 216, attach_btf_id: 224,
  }, { size: 232 }],
  [uapi.BTF_INFO, { btf: 0, btf_size: 8, id: 12, name: 16, name_len: 24, kernel_btf: 28 }, { size: 32 }],
  [uapi.LINK_INFO_TRACING, { type: 0, id: 4, prog_id: 8, attach_type: 16, target_obj_id: 20, target_btf_id: 24 }, {}],
  [uapi.LINK_INFO_CGROUP, { cgroup_id: 16, attach_type: 24 }, {}],
  [uapi.LINK_INFO_XDP, { ifindex: 16 }, {}],
  [uapi.PERF_EVENT_MMAP_PAGE, { version: 0, offset: 16, capabilities: 40, pmc_width: 48, time_mult: 52, size: 72, time_cycles: 80, time_mask: 88, data_head: 1024, data_tail: 1032, data_offset: 1040, data_size: 1048, aux_size: 1080 }, { size: 1088 }],
  [uapi.PERF_EVENT_HEADER, { type: 0, misc: 4, size: 6 }, { size: 8 }],
  [uapi.PERF_RECORD_LOST_LAYOUT, { type: 0, size: 6, id: 8, lost: 16 }, { size: 24 }],
  [uapi.PERF_RECORD_BPF_OUTPUT, { type: 0, size: 6, time: 8, raw_size: 16 }, { end: 20 }],
  [uapi.RINGBUF_HDR, { len: 0, pg_off: 4 }, { size: 8 }],
  [uapi.NLMSGHDR, { nlmsg_len: 0, nlmsg_type: 4, nlmsg_flags: 6, nlmsg_seq: 8, nlmsg_pid: 12 }, { size: 16 }],
  [uapi.NLATTR, { nla_len: 0, nla_type: 2 }, { size: 4 }],
  [uapi.NLMSGERR, { error: 0, msg: 4 }, { size: 20 }],
  [uapi.SOCKADDR_NL, { nl_family: 0, nl_pid: 4, nl_groups: 8 }, { size: 12 }],
  [uapi.IFINFOMSG, { ifi_family: 0, ifi_type: 2, ifi_index: 4, ifi_flags: 8, ifi_change: 12 }, { size: 16 }],
  [uapi.TCMSG, { tcm_family: 0, tcm_ifindex: 4, tcm_handle: 8, tcm_parent: 12, tcm_info: 16 }, { size: 20 }],
  // libc's socket structs (LP64), and iproute2's map-fd message (include/bpf_scm.h)
  [uapi.SOCKADDR_IN, { sin_family: 0, sin_port: 2, sin_addr: 4 }, { size: 16 }],
  [uapi.SOCKADDR_LL, { sll_family: 0, sll_protocol: 2, sll_ifindex: 4, sll_hatype: 8, sll_pkttype: 10, sll_halen: 11, sll_addr: 12 }, { size: 20 }],
  [uapi.SOCKADDR_UN, { sun_family: 0, sun_path: 2 }, { size: 110 }],
  [uapi.TIMEVAL, { tv_sec: 0, tv_usec: 8 }, { size: 16 }],
  [uapi.USER_MSGHDR, { msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48 }, { size: 56 }],
  [uapi.IOVEC, { iov_base: 0, iov_len: 8 }, { size: 16 }],
  [uapi.CMSGHDR, { cmsg_len: 0, cmsg_level: 8, cmsg_type: 12 }, { size: 16 }],
  [uapi.UCRED, { pid: 0, uid: 4, gid: 8 }, { size: 12 }],
  [uapi.EPOLL_EVENT, process.arch === 'x64' ? { events: 0, data: 4 } : { events: 0, data: 8 }, { size: process.arch === 'x64' ? 12 : 16 }],
  [uapi.BPF_MAP_AUX, { uds_ver: 0, num_ent: 2, obj_name: 4, st_dev: 72, st_ino: 80 }, { size: 88 }],
  [uapi.BPF_ELF_MAP, { type: 0, size_key: 4, size_value: 8, max_elem: 12, flags: 16, id: 20, pinning: 24, inner_id: 28, inner_idx: 32 }, { size: 36 }],
  [uapi.PERF_EVENT_ATTR, { type: 0, size: 4, config: 8, sample_period: 16, sample_type: 24, flags: 40, wakeup_events: 48, config1: 56, sample_stack_user: 88, clockid: 92, sample_max_stack: 108 }, { size: 112 }],
];

describe('uapi: the kernel numbers and layouts, written once', () => {
  for (const [layout, offsets, sizes] of OFFSETS) {
    it(`${layout.name}: every field where the kernel has it`, () => {
      const fields = layout.fields as Record<string, uapi.FieldLayout>;
      expect(Object.fromEntries(Object.keys(offsets).map((name) => [name, fields[name]?.offset]))).to.deep.equal(offsets);
      if (sizes.end !== undefined) expect(layout.end, 'offsetofend of the last field').to.equal(sizes.end);
      if (sizes.size !== undefined) expect(layout.size, 'sizeof').to.equal(sizes.size);
    });
  }

  it('no field of any layout overlaps another, and u64 fields are 8-byte aligned', () => {
    for (const layout of Object.values(uapi).filter((v): v is uapi.StructLayout => typeof v === 'object' && v !== null && 'fields' in v && 'end' in v)) {
      const fields = (Object.values(layout.fields) as uapi.FieldLayout[]).sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < fields.length; i++) {
        expect(fields[i]!.offset, `${layout.name}.${fields[i]!.name}`).to.be.at.least(fields[i - 1]!.offset + fields[i - 1]!.size);
      }
      for (const field of fields) if (field.kind === 'u64' || field.kind === 'ptr') expect(field.offset % 8, `${layout.name}.${field.name}`).to.equal(0);
    }
  });

  it('the element and batch attr sizes come from the layouts', () => {
    expect(ELEM_ATTR_SIZE).to.equal(32);
    expect(BATCH_ATTR_SIZE).to.equal(56);
  });

  it('encodes the same fields in both byte orders, each the mirror of the other', () => {
    const values = { map_type: 27, key_size: 0, value_size: 0, max_entries: 4096, map_flags: uapi.BPF_F_NUMA_NODE, numa_node: 1, map_name: 'events', btf_fd: 7, map_extra: 0x1122334455667788n };
    const little = Buffer.alloc(80, 0xee);
    const big = Buffer.alloc(80, 0xee);
    expect(new StructCodec(uapi.MAP_CREATE_ATTR, true).encode(little, values)).to.equal(72);
    expect(new StructCodec(uapi.MAP_CREATE_ATTR, false).encode(big, values)).to.equal(72);
    expect(little.readUInt32LE(0)).to.equal(27);
    expect(big.readUInt32BE(0)).to.equal(27);
    expect(little.readUInt32LE(12)).to.equal(4096);
    expect(big.readUInt32BE(12)).to.equal(4096);
    expect(little.readBigUInt64LE(64)).to.equal(0x1122334455667788n);
    expect(big.readBigUInt64BE(64)).to.equal(0x1122334455667788n);
    // a char array is bytes, in no byte order
    expect(little.subarray(28, 44)).to.deep.equal(big.subarray(28, 44));
    expect(little.toString('latin1', 28, 34)).to.equal('events');
    // every scalar is the other's bytes reversed; what lies past `end` is untouched
    for (const field of Object.values(uapi.MAP_CREATE_ATTR.fields) as uapi.FieldLayout[]) {
      if (field.kind === 'char') continue;
      expect(Buffer.from(little.subarray(field.offset, field.offset + field.size)).reverse(), field.name).to.deep.equal(big.subarray(field.offset, field.offset + field.size));
    }
    expect(little.subarray(72)).to.deep.equal(Buffer.alloc(8, 0xee));
    // and each reads back what it wrote
    for (const [codec, bytes] of [[new StructCodec(uapi.MAP_CREATE_ATTR, true), little], [new StructCodec(uapi.MAP_CREATE_ATTR, false), big]] as const) {
      expect(codec.get(bytes, 'max_entries')).to.equal(4096);
      expect(codec.getBig(bytes, 'map_extra')).to.equal(0x1122334455667788n);
      expect(codec.getString(bytes, 'map_name')).to.equal('events');
    }
  });

  it('a name longer than the char array is cut, keeping its NUL', () => {
    const bytes = Buffer.alloc(72, 0xff);
    new StructCodec(uapi.MAP_CREATE_ATTR).encode(bytes, { map_name: 'a_name_longer_than_fifteen' });
    expect(bytes.toString('latin1', 28, 43)).to.equal('a_name_longer_t');
    expect(bytes[43]).to.equal(0);
  });

  it('a u64 takes a number or a bigint as C assignment would, and a string is written as latin1', () => {
    for (const littleEndian of [true, false]) {
      const codec = new StructCodec(uapi.MAP_CREATE_ATTR, littleEndian);
      const bytes = Buffer.alloc(72);
      const read = (): bigint => (littleEndian ? bytes.readBigUInt64LE(64) : bytes.readBigUInt64BE(64));
      for (const [value, expected] of [
        [0, 0n], [7, 7n], [2 ** 32, 2n ** 32n], [2 ** 32 + 5, 2n ** 32n + 5n], [Number.MAX_SAFE_INTEGER, 2n ** 53n - 1n],
        [2 ** 60, 2n ** 60n], [-1, 2n ** 64n - 1n], [2n ** 64n - 2n, 2n ** 64n - 2n], [-2n, 2n ** 64n - 2n],
      ] as const) {
        codec.encode(bytes, { map_extra: value });
        expect(read(), String(value)).to.equal(expected);
      }
      expect(() => codec.encode(bytes, { map_extra: 1.5 })).to.throw(RangeError);
      codec.encode(bytes, { map_name: 'a\u00e9\u0141b' });
      expect([...bytes.subarray(28, 33)]).to.deep.equal([0x61, 0xe9, 0x41, 0x62, 0]);
      codec.encode(bytes, { map_name: new Uint8Array([1, 2, 3]) });
      expect([...bytes.subarray(28, 32)]).to.deep.equal([1, 2, 3, 0]);
      expect(() => codec.encode(bytes, { nope: 1 } as never)).to.throw(TypeError, 'bpf_attr.map_create has no field nope');
    }
  });

  it('a record field reader reads host order at a ring position that wraps', () => {
    // a BPF output sample whose header sits in the ring's last 8 bytes: its time and size wrap to the start
    const ring = 64;
    for (const littleEndian of [true, false]) {
      const bytes = Buffer.alloc(ring);
      const view = new DataView(bytes.buffer);
      const at = ring - 8 + 3 * ring; // a position past several turns of the ring
      view.setUint32((at + 0) % ring, uapi.PERF_RECORD_SAMPLE, littleEndian);
      view.setUint16((at + 6) % ring, 32, littleEndian);
      view.setBigUint64((at + 8) % ring, 0x123456789abcdn, littleEndian);
      view.setUint32((at + 16) % ring, 12, littleEndian);
      const header = new StructCodec(uapi.PERF_EVENT_HEADER, littleEndian);
      const sample = new StructCodec(uapi.PERF_RECORD_BPF_OUTPUT, littleEndian);
      expect(header.fieldReader('type', ring - 1)(view, at)).to.equal(uapi.PERF_RECORD_SAMPLE);
      expect(header.fieldReader('size', ring - 1)(view, at)).to.equal(32);
      expect(sample.fieldReader('time', ring - 1)(view, at)).to.equal(0x123456789abcd);
      expect(sample.fieldReader('raw_size', ring - 1)(view, at)).to.equal(12);
      expect(uapi.PERF_RAW_DATA_OFFSET).to.equal(20);
    }
  });

  it('a netlink message reads back through its layouts in either byte order', () => {
    for (const littleEndian of [true, false]) {
      const header = new StructCodec(uapi.NLMSGHDR, littleEndian);
      const bytes = Buffer.concat([Buffer.alloc(8), header.alloc({ nlmsg_len: 36, nlmsg_type: uapi.NLMSG_ERROR, nlmsg_flags: uapi.NLM_F_ACK_TLVS, nlmsg_seq: 9 })]);
      expect(header.get(bytes, 'nlmsg_len', 8)).to.equal(36);
      expect(header.get(bytes, 'nlmsg_type', 8)).to.equal(uapi.NLMSG_ERROR);
      expect(header.get(bytes, 'nlmsg_flags', 8)).to.equal(uapi.NLM_F_ACK_TLVS);
      expect(header.get(bytes, 'nlmsg_seq', 8)).to.equal(9);
      expect(bytes.readUInt32LE(8) === 36).to.equal(littleEndian);
    }
  });

  it('the hot paths find a u64 field\'s low word where the byte order puts it', () => {
    expect(wordIndexes(uapi.MAP_ELEM_ATTR.fields.key, true)).to.deep.equal([2, 3]);
    expect(wordIndexes(uapi.MAP_ELEM_ATTR.fields.key, false)).to.deep.equal([3, 2]);
  });

  it('names are derived from the numbers', () => {
    expect(commandName(uapi.BPF_MAP_CREATE)).to.equal('BPF_MAP_CREATE');
    expect(commandName(uapi.BPF_PROG_LOAD)).to.equal('BPF_PROG_LOAD');
    expect(commandName(uapi.BPF_BTF_LOAD)).to.equal('BPF_BTF_LOAD');
    expect(commandName(uapi.BPF_TOKEN_CREATE)).to.equal('BPF_TOKEN_CREATE');
    expect(commandName(99)).to.equal('bpf command 99');
    expect(mapTypeName(uapi.BPF_MAP_TYPE.PERCPU_ARRAY)).to.equal('percpu_array');
    expect(progTypeName(uapi.BPF_PROG_TYPE.SCHED_CLS)).to.equal('sched_cls');
    expect(uapi.attachTypeName(uapi.BPF_ATTACH_TYPE.TCX_EGRESS)).to.equal('tcx_egress');
    expect(uapi.linkTypeName(uapi.BPF_LINK_TYPE.XDP)).to.equal('xdp');
    expect(uapi.btfKindName(uapi.BTF_KIND_ENUM64)).to.equal('BTF_KIND_ENUM64');
    expect(uapi.mapTypeByName('lru_hash')).to.equal(9);
    // every command number has one name, and the enum has no holes up to the last
    const numbers = Object.entries(uapi).filter(([name, value]) => /^BPF_[A-Z_]+$/.test(name) && typeof value === 'number' && commandName(value as number) === name);
    expect(numbers.length).to.equal(uapi.BPF_TOKEN_CREATE + 1);
  });

  it('BTF: the magic, the kinds and the info word', () => {
    expect(uapi.BTF_MAGIC).to.equal(0xeb9f);
    expect([uapi.BTF_KIND_INT, uapi.BTF_KIND_FUNC, uapi.BTF_KIND_DATASEC, uapi.BTF_KIND_FLOAT, uapi.BTF_KIND_DECL_TAG, uapi.BTF_KIND_TYPE_TAG, uapi.BTF_KIND_ENUM64]).to.deep.equal([1, 12, 15, 16, 17, 18, 19]);
    const info = uapi.btfInfo(uapi.BTF_KIND_STRUCT, 3, true);
    expect(info).to.equal(0x84000003);
    expect([uapi.btfInfoKind(info), uapi.btfInfoVlen(info), uapi.btfInfoKindFlag(info)]).to.deep.equal([uapi.BTF_KIND_STRUCT, 3, true]);
  });
});
