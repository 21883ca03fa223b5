import { expect } from 'chai';
import { StructCodec } from '../../syscall/structCodec.js';
import { MAP_CREATE_ATTR, PROG_LOAD_ATTR } from '../../uapi/attrs.js';
import { encodeMapCreate, encodeProgLoad, type MapCreateAttr, type ProgLoadFields } from '../../syscall/loadAttrs.js';
import { attr } from '../../syscall/native.js';

/** The bytes one encoder leaves in the shared attr over poison, up to the size it returns. */
function written(encode: () => number): Buffer {
  attr.fill(0xaa);
  const size = encode();
  return Buffer.from(attr.subarray(0, size));
}

describe('the positional attrs of BPF_MAP_CREATE and BPF_PROG_LOAD', () => {
  const mapCodec = new StructCodec(MAP_CREATE_ATTR);
  const progCodec = new StructCodec(PROG_LOAD_ATTR);

  const maps: MapCreateAttr[] = [
    { map_type: 1, key_size: 4, value_size: 8, max_entries: 100, map_flags: 0, inner_map_fd: 0, numa_node: 0, map_name: 'a_name_longer_than_15' },
    {
      map_type: 12, key_size: -1, value_size: 2 ** 32 + 5, max_entries: 3.7, map_flags: 4, inner_map_fd: 7, map_name: 'é\u0101x', map_extra: 2 ** 40 + 3,
      btf_fd: 9, btf_key_type_id: 3, btf_value_type_id: 4, map_ifindex: 2, btf_vmlinux_value_type_id: 5,
    },
    { map_type: 1, key_size: 4, value_size: 4, max_entries: 1, map_flags: 0, map_extra: -5 },
    { map_type: 1, key_size: 4, value_size: 4, max_entries: 1, map_flags: 0, map_extra: (1n << 70n) + 9n },
  ];
  for (const [i, fields] of maps.entries()) {
    it(`writes map create #${i} as the struct codec does`, () => {
      expect(written(() => encodeMapCreate(fields))).to.deep.equal(written(() => mapCodec.encode(attr, fields)));
    });
  }

  const none: ProgLoadFields = {
    prog_type: 6, insn_cnt: 2, insns: 0x7f0012345678n, license: 0x7f00aaaabbbbn, log_level: 0, log_size: 0, log_buf: 0n, kern_version: 0x61200,
    prog_flags: undefined, prog_name: 'xdp_prog1', expected_attach_type: undefined, prog_btf_fd: undefined, func_info_rec_size: 0, func_info: 0n,
    func_info_cnt: 0, line_info_rec_size: 0, line_info: 0n, line_info_cnt: 0, attach_btf_id: undefined, attach_prog_fd: undefined, fd_array: 0n,
  };
  const every: ProgLoadFields = {
    prog_type: 26, insn_cnt: 20, insns: 0x7f0012345678n, license: 0x7f00aaaabbbbn, log_level: 1, log_size: 262144, log_buf: 0x55550000n, kern_version: 1,
    prog_flags: 8, prog_name: 'a_very_long_program_name', expected_attach_type: 24, prog_btf_fd: 5, func_info_rec_size: 8, func_info: 0x1234n,
    func_info_cnt: 3, line_info_rec_size: 16, line_info: 0x99n, line_info_cnt: 7, attach_btf_id: 1234, attach_prog_fd: 6, fd_array: 0xffffn,
  };
  for (const [name, fields] of Object.entries({ none, every })) {
    it(`writes prog load with ${name} of the optional fields as the struct codec does`, () => {
      expect(written(() => encodeProgLoad(fields))).to.deep.equal(written(() => progCodec.encode(attr, fields)));
    });
  }
});
