// The BTF format, from include/uapi/linux/btf.h, spelled as there so they can be grepped.
// Sizes are of the records as the kernel reads them; the byte order is the object's (BTF_MAGIC
// read in the other order tells which).

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;

/** struct btf_header: magic u16, version u8, flags u8, hdr_len, type_off, type_len, str_off, str_len (u32 each) */
export const BTF_HEADER_SIZE = 24;

/** enum of btf_type.info's kind bits */
export const BTF_KIND_UNKN = 0;
export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;
export const BTF_KIND_MAX = BTF_KIND_ENUM64;

/** struct btf_type: name_off, info, size_or_type (u32 each) */
export const BTF_TYPE_SIZE = 12;
/** The bits of btf_type.info */
export const BTF_INFO_VLEN_MASK = 0xffff;
export const BTF_INFO_KIND_SHIFT = 24;
export const BTF_INFO_KIND_MASK = 0x1f;
export const BTF_INFO_KFLAG_SHIFT = 31;

export function btfInfo(kind: number, vlen: number, kindFlag = false): number {
  return ((kindFlag ? 1 << BTF_INFO_KFLAG_SHIFT : 0) | (kind << BTF_INFO_KIND_SHIFT) | (vlen & BTF_INFO_VLEN_MASK)) >>> 0;
}
export function btfInfoKind(info: number): number {
  return (info >>> BTF_INFO_KIND_SHIFT) & BTF_INFO_KIND_MASK;
}
export function btfInfoVlen(info: number): number {
  return info & BTF_INFO_VLEN_MASK;
}
export function btfInfoKindFlag(info: number): boolean {
  return info >>> BTF_INFO_KFLAG_SHIFT === 1;
}

/** The u32 after a BTF_KIND_INT: encoding bits 24-27, offset 16-23, bits 0-7 */
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;
export function btfIntEncoding(word: number): number {
  return (word >>> 24) & 0x0f;
}
export function btfIntOffset(word: number): number {
  return (word >>> 16) & 0xff;
}
export function btfIntBits(word: number): number {
  return word & 0xff;
}
export function btfIntData(encoding: number, offset: number, bits: number): number {
  return ((encoding << 24) | (offset << 16) | bits) >>> 0;
}

/** The records after a btf_type, per kind (bytes each; vlen of them unless said) */
export const BTF_INT_SIZE = 4;
/** struct btf_array: type, index_type, nelems (one) */
export const BTF_ARRAY_SIZE = 12;
/** struct btf_member: name_off, type, offset (bit offset; with kind_flag, bitfield size << 24 | offset) */
export const BTF_MEMBER_SIZE = 12;
/** struct btf_enum: name_off, val (s32) */
export const BTF_ENUM_SIZE = 8;
/** struct btf_enum64: name_off, val_lo32, val_hi32 */
export const BTF_ENUM64_SIZE = 12;
/** struct btf_param: name_off, type */
export const BTF_PARAM_SIZE = 8;
/** struct btf_var: linkage (one) */
export const BTF_VAR_SIZE = 4;
/** struct btf_var_secinfo: type, offset, size */
export const BTF_VAR_SECINFO_SIZE = 12;
/** struct btf_decl_tag: component_idx (s32; -1 for the type itself) (one) */
export const BTF_DECL_TAG_SIZE = 4;

export function btfMemberBitfieldSize(offset: number): number {
  return offset >>> 24;
}
export function btfMemberBitOffset(offset: number): number {
  return offset & 0xffffff;
}

/** enum btf_var linkage */
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

/** enum btf_func_linkage (in a BTF_KIND_FUNC's vlen) */
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;

/** .BTF.ext (tools/lib/bpf/libbpf_internal.h): the header and its record sizes */
export const BTF_EXT_HEADER_SIZE = 32;
export const BTF_FUNC_INFO_SIZE = 8;
export const BTF_LINE_INFO_SIZE = 16;
export const BTF_CORE_RELO_SIZE = 16;

/** enum bpf_core_relo_kind */
export const BPF_CORE_FIELD_BYTE_OFFSET = 0;
export const BPF_CORE_FIELD_BYTE_SIZE = 1;
export const BPF_CORE_FIELD_EXISTS = 2;
export const BPF_CORE_FIELD_SIGNED = 3;
export const BPF_CORE_FIELD_LSHIFT_U64 = 4;
export const BPF_CORE_FIELD_RSHIFT_U64 = 5;
export const BPF_CORE_TYPE_ID_LOCAL = 6;
export const BPF_CORE_TYPE_ID_TARGET = 7;
export const BPF_CORE_TYPE_EXISTS = 8;
export const BPF_CORE_TYPE_SIZE = 9;
export const BPF_CORE_ENUMVAL_EXISTS = 10;
export const BPF_CORE_ENUMVAL_VALUE = 11;
export const BPF_CORE_TYPE_MATCHES = 12;
