// The decoded BTF types: plain data, every reference a type id (so a graph
// of 100 000 kernel types costs no object links, and split BTF refers into its
// base by id as the kernel does). Kind names are the kernel's (BTF_KIND_INT →
// 'INT'), as bpftool prints them.

export type BtfKind =
  | 'VOID' | 'INT' | 'PTR' | 'ARRAY' | 'STRUCT' | 'UNION' | 'ENUM' | 'FWD' | 'TYPEDEF' | 'VOLATILE' | 'CONST'
  | 'RESTRICT' | 'FUNC' | 'FUNC_PROTO' | 'VAR' | 'DATASEC' | 'FLOAT' | 'DECL_TAG' | 'TYPE_TAG' | 'ENUM64';

/** Indexed by BTF_KIND_* */
export const BTF_KIND_NAMES: readonly BtfKind[] = [
  'VOID', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'FUNC',
  'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
];

interface Common {
  /** the type id: 0 is void, ids of split BTF continue those of its base */
  readonly id: number;
  /** '' for an anonymous type */
  readonly name: string;
}

export interface BtfVoid extends Common {
  readonly kind: 'VOID';
}

export interface BtfInt extends Common {
  readonly kind: 'INT';
  /** bytes */
  readonly size: number;
  readonly signed: boolean;
  readonly char: boolean;
  readonly bool: boolean;
  /** bits_offset of the int encoding (0 in anything clang emits) */
  readonly bitOffset: number;
  readonly bits: number;
}

/** PTR, TYPEDEF and the modifiers: one reference and nothing else */
export interface BtfRef extends Common {
  readonly kind: 'PTR' | 'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG';
  readonly type: number;
  /** TYPE_TAG only: an attribute (kernel 6.13+ kind_flag) rather than a btf_type_tag */
  readonly kindFlag: boolean;
}

export interface BtfArray extends Common {
  readonly kind: 'ARRAY';
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** bits from the start of the struct */
  readonly bitOffset: number;
  /** 0 unless a bitfield of a struct with kind_flag set */
  readonly bitfieldSize: number;
}

export interface BtfComposite extends Common {
  readonly kind: 'STRUCT' | 'UNION';
  readonly size: number;
  /** kind_flag: members' offsets carry a bitfield size (clang sets it when a member is a bitfield) */
  readonly kindFlag: boolean;
  readonly members: readonly BtfMember[];
}

export interface BtfEnumValue {
  readonly name: string;
  /** ENUM: a number (signed or not as the enum says); ENUM64: a bigint */
  readonly value: number;
}

export interface BtfEnum extends Common {
  readonly kind: 'ENUM';
  readonly size: number;
  /** kind_flag: the values are signed */
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}

export interface BtfEnum64Value {
  readonly name: string;
  readonly value: bigint;
}

export interface BtfEnum64 extends Common {
  readonly kind: 'ENUM64';
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly BtfEnum64Value[];
}

export interface BtfFwd extends Common {
  readonly kind: 'FWD';
  /** kind_flag: a forward declaration of a union, not a struct */
  readonly union: boolean;
}

export interface BtfFunc extends Common {
  readonly kind: 'FUNC';
  /** the FUNC_PROTO */
  readonly type: number;
  /** BTF_FUNC_STATIC, _GLOBAL, _EXTERN */
  readonly linkage: number;
}

export interface BtfParam {
  readonly name: string;
  /** 0 with an empty name for the `...` of a variadic function */
  readonly type: number;
}

export interface BtfFuncProto extends Common {
  readonly kind: 'FUNC_PROTO';
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}

export interface BtfVar extends Common {
  readonly kind: 'VAR';
  readonly type: number;
  /** BTF_VAR_STATIC, _GLOBAL_ALLOCATED, _GLOBAL_EXTERN */
  readonly linkage: number;
}

export interface BtfVarSecinfo {
  /** the VAR (or FUNC, for .ksyms) */
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

export interface BtfDatasec extends Common {
  readonly kind: 'DATASEC';
  /** 0 as clang writes it; the loader sets it from the ELF section */
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

export interface BtfFloat extends Common {
  readonly kind: 'FLOAT';
  readonly size: number;
}

export interface BtfDeclTag extends Common {
  readonly kind: 'DECL_TAG';
  readonly type: number;
  /** -1: the tag is on the type itself; otherwise the member or parameter index */
  readonly componentIdx: number;
  readonly kindFlag: boolean;
}

export type BtfType =
  | BtfVoid | BtfInt | BtfRef | BtfArray | BtfComposite | BtfEnum | BtfEnum64 | BtfFwd | BtfFunc | BtfFuncProto
  | BtfVar | BtfDatasec | BtfFloat | BtfDeclTag;

/** The type of one kind: `BtfOfKind<'STRUCT'>` is BtfComposite, `BtfOfKind<'PTR'>` BtfRef. */
export type BtfOfKind<K extends BtfKind> = BtfType extends infer T
  ? T extends { kind: infer U } ? (K extends U ? T : never) : never
  : never;
