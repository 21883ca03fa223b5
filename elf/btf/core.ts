// CO-RE ("compile once, run everywhere"), the calculation: a relocation record
// of the object (local BTF, access string, kind) is matched against the target
// (the running kernel's) BTF and gives the value the instruction must hold, or
// a poison when the target lacks what the object asks for. The rules are
// libbpf's (relo_core.c): candidates by essential name (`task_struct___old`
// matches `task_struct`), members matched by name through anonymous members,
// every candidate must agree. Pure: no instruction is touched here.

import {
  BPF_CORE_ENUMVAL_EXISTS, BPF_CORE_ENUMVAL_VALUE, BPF_CORE_FIELD_BYTE_OFFSET, BPF_CORE_FIELD_BYTE_SIZE, BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64, BPF_CORE_FIELD_RSHIFT_U64, BPF_CORE_FIELD_SIGNED, BPF_CORE_TYPE_EXISTS, BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET, BPF_CORE_TYPE_MATCHES, BPF_CORE_TYPE_SIZE,
} from '../../uapi/btf.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { CoreRelo } from './ext.js';
import { MAX_RESOLVE_DEPTH, describe, sizeOf, skipModsAndTypedefs } from './query.js';
import type { BtfKind, BtfType } from './types.js';

/** libbpf's names of the relocation kinds, as its log prints them */
export const CORE_RELO_KIND_NAMES: readonly string[] = [
  'byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64', 'local_type_id', 'target_type_id',
  'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches',
];

/** BPF_CORE_SPEC_MAX_LEN: the longest access string libbpf follows */
const SPEC_MAX_LEN = 64;

function isFieldKind(kind: number): boolean {
  return kind <= BPF_CORE_FIELD_RSHIFT_U64;
}
function isTypeKind(kind: number): boolean {
  return kind === BPF_CORE_TYPE_ID_LOCAL || kind === BPF_CORE_TYPE_ID_TARGET || kind === BPF_CORE_TYPE_EXISTS ||
    kind === BPF_CORE_TYPE_SIZE || kind === BPF_CORE_TYPE_MATCHES;
}
function isEnumvalKind(kind: number): boolean {
  return kind === BPF_CORE_ENUMVAL_EXISTS || kind === BPF_CORE_ENUMVAL_VALUE;
}

/** `task_struct___old` → `task_struct`: the name without its `___flavor`. */
export function essentialName(name: string): string {
  const at = name.lastIndexOf('___');
  return at > 0 ? name.slice(0, at) : name;
}

/** One step of an access: a named member of a struct/union, or an index into an array. */
interface Accessor {
  /** the struct/union (named member) or the element type (array index) */
  typeId: number;
  index: number;
  /** the member's name; undefined for an array index */
  name?: string;
}

/** An access resolved in one BTF: libbpf's bpf_core_spec. */
export interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  /** named members and array indices (anonymous members are only in `raw`) */
  accessors: Accessor[];
  /** every index of the access string, anonymous members included */
  raw: number[];
  bitOffset: number;
}

/** What a relocation resolves to. */
export interface CoreRelocationResult {
  /** BPF_CORE_* */
  kind: number;
  /** the value the instruction holds (clang's, from the local BTF) */
  localValue: bigint;
  /** the value it must hold on the target */
  targetValue: bigint;
  /** the target lacks what the relocation needs: the instruction becomes an invalid call */
  poison: boolean;
  /** check that the instruction holds `localValue` before patching (off for bitfields, whose values are ambiguous) */
  validate: boolean;
  /** for memory accesses: the field's size on each side, when its load/store size must change */
  localSize: number;
  targetSize: number;
  /** sizes differ in a way a load cannot follow (a signed or non-integer field): poison the load instead */
  failMemSizeAdjust: boolean;
  /** the local spec and the target's, for messages; targetSpec undefined when nothing matched */
  localSpec: CoreSpec;
  targetSpec: CoreSpec | undefined;
  /** ids of the target types that matched */
  candidates: number[];
}

function coreError(local: Btf, relo: CoreRelo, message: string, program?: string): BtfError {
  const kind = CORE_RELO_KIND_NAMES[relo.kind] ?? `kind ${relo.kind}`;
  return new BtfError(`CO-RE relocation <${kind}> of '${relo.accessString}' at insn #${relo.insnOff}: ${message}`, {
    ...local.context, typeId: relo.typeId, ...(program !== undefined && { program }),
  });
}

/** libbpf's bpf_core_parse_spec: the access string walked through the local types. */
export function parseCoreSpec(btf: Btf, relo: CoreRelo, program?: string): CoreSpec {
  const fail = (message: string): never => {
    throw coreError(btf, relo, message, program);
  };
  if (!/^\d+(:\d+)*$/.test(relo.accessString)) fail('the access string is not a list of numbers separated by ":"');
  const raw = relo.accessString.split(':').map(Number);
  if (raw.length > SPEC_MAX_LEN) fail(`the access string has more than ${SPEC_MAX_LEN} steps`);
  const spec: CoreSpec = { btf, rootTypeId: relo.typeId, accessors: [], raw, bitOffset: 0 };
  if (relo.typeId === 0) fail('the local type is void');
  if (isTypeKind(relo.kind)) {
    if (raw.length !== 1 || raw[0] !== 0) fail('a type relocation needs the access string "0"');
    return spec;
  }
  if (isEnumvalKind(relo.kind)) {
    const type = btf.type(skipModsAndTypedefs(btf, relo.typeId));
    if ((type.kind !== 'ENUM' && type.kind !== 'ENUM64') || raw.length !== 1 || raw[0]! >= type.values.length) {
      return fail(`an enum value relocation needs an enum and the index of one of its values, not ${describe(type)} and '${relo.accessString}'`);
    }
    spec.accessors.push({ typeId: relo.typeId, index: raw[0]!, name: type.values[raw[0]!]!.name });
    return spec;
  }
  if (!isFieldKind(relo.kind)) fail('is a kind libbpf does not know');
  let id = skipModsAndTypedefs(btf, relo.typeId);
  const rootSize = sizeOf(btf, id);
  spec.accessors.push({ typeId: id, index: raw[0]! });
  spec.bitOffset = raw[0]! * rootSize * 8;
  for (let i = 1; i < raw.length; i++) {
    const type = btf.type(id);
    const index = raw[i]!;
    if (type.kind === 'STRUCT' || type.kind === 'UNION') {
      const member = type.members[index];
      if (!member) fail(`step ${i} is member ${index} of ${describe(type)}, which has ${type.members.length}`);
      spec.bitOffset += member!.bitOffset;
      if (member!.name) spec.accessors.push({ typeId: id, index, name: member!.name });
      id = skipModsAndTypedefs(btf, member!.type);
    } else if (type.kind === 'ARRAY') {
      const flexible = isFlexibleArray(btf, spec.accessors.at(-1)!, type.nelems, spec.accessors.length > 0);
      id = skipModsAndTypedefs(btf, type.type);
      if (!flexible && index >= type.nelems) fail(`step ${i} is element ${index} of an array of ${type.nelems}`);
      spec.accessors.push({ typeId: id, index });
      spec.bitOffset += index * sizeOf(btf, id) * 8;
    } else {
      fail(`step ${i} goes into ${describe(type)}, which has neither members nor elements`);
    }
  }
  return spec;
}

/** An array of 0 elements as the last member of a struct: any index is in it. */
function isFlexibleArray(btf: Btf, previous: Accessor, nelems: number, hasPrevious: boolean): boolean {
  if (nelems !== 0 || !hasPrevious || previous.name === undefined) return false;
  const parent = btf.type(previous.typeId);
  return parent.kind === 'STRUCT' && previous.index === parent.members.length - 1;
}

/** Kinds that may match one another: equal ones, and ENUM with ENUM64. */
function kindsCompatible(a: BtfKind, b: BtfKind): boolean {
  return a === b || ((a === 'ENUM' || a === 'ENUM64') && (b === 'ENUM' || b === 'ENUM64'));
}

const flavoredNames = new WeakMap<Btf, Map<string, number[]>>();

/** Target types whose essential name is this one, of a kind compatible with the local type's, in id order. */
export function coreCandidates(target: Btf, localType: BtfType): number[] {
  const essential = essentialName(localType.name);
  let flavored = flavoredNames.get(target);
  if (!flavored) {
    flavored = new Map();
    for (const [name, ids] of allNames(target)) {
      if (!name.includes('___')) continue;
      const key = essentialName(name);
      flavored.set(key, [...(flavored.get(key) ?? []), ...ids]);
    }
    flavoredNames.set(target, flavored);
  }
  const ids = [...target.byName(essential), ...(flavored.get(essential) ?? [])];
  return ids.filter((id) => kindsCompatible(target.kindOf(id), localType.kind)).sort((a, b) => a - b);
}

function* allNames(btf: Btf): IterableIterator<[string, readonly number[]]> {
  if (btf.base) yield* allNames(btf.base);
  yield* btf.names();
}

/** libbpf's bpf_core_fields_are_compat */
function fieldsCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const l = local.type(skipModsAndTypedefs(local, localId));
    const t = target.type(skipModsAndTypedefs(target, targetId));
    const composite = (k: BtfKind): boolean => k === 'STRUCT' || k === 'UNION';
    if (composite(l.kind) && composite(t.kind)) return true;
    if (!kindsCompatible(l.kind, t.kind)) return false;
    switch (l.kind) {
      case 'PTR':
      case 'FLOAT':
        return true;
      case 'FWD':
      case 'ENUM':
      case 'ENUM64': {
        const a = essentialName(l.name);
        const b = essentialName(t.name);
        return a === '' || b === '' || a === b;
      }
      case 'INT':
        return l.bitOffset === 0 && (t as { bitOffset: number }).bitOffset === 0;
      case 'ARRAY':
        localId = l.type;
        targetId = (t as { type: number }).type;
        break;
      default:
        return false;
    }
  }
  return false;
}

/** libbpf's bpf_core_types_are_compat */
export function typesCompatible(local: Btf, localId: number, target: Btf, targetId: number, depth = MAX_RESOLVE_DEPTH): boolean {
  for (; depth >= 0; depth--) {
    const l = local.type(skipModsAndTypedefs(local, localId));
    const t = target.type(skipModsAndTypedefs(target, targetId));
    if (!kindsCompatible(l.kind, t.kind)) return false;
    switch (l.kind) {
      case 'VOID':
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64':
      case 'FWD':
        return true;
      case 'INT':
        return l.bitOffset === 0 && (t as { bitOffset: number }).bitOffset === 0;
      case 'PTR':
      case 'ARRAY':
        localId = l.type;
        targetId = (t as { type: number }).type;
        break;
      case 'FUNC_PROTO': {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesCompatible(local, l.params[i]!.type, target, tp.params[i]!.type, depth - 1)) return false;
        }
        localId = l.returnType;
        targetId = tp.returnType;
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

/** libbpf's bpf_core_types_match (BPF_CORE_TYPE_MATCHES): a stricter, layout-level match. */
export function typesMatch(local: Btf, localId: number, target: Btf, targetId: number, behindPointer = false, depth = MAX_RESOLVE_DEPTH): boolean {
  if (depth < 0) return false;
  const l = local.type(skipModsAndTypedefs(local, localId));
  const t = target.type(skipModsAndTypedefs(target, targetId));
  if (t.name === '' ? l.name !== '' : l.name !== t.name) return false;
  const recur = (a: number, b: number, pointer: boolean): boolean => typesMatch(local, a, target, b, pointer, depth - 1);
  switch (l.kind) {
    case 'VOID':
      return t.kind === 'VOID';
    case 'FWD':
      return t.kind === 'FWD' ? l.union === t.union : (t.kind === 'STRUCT' && !l.union) || (t.kind === 'UNION' && l.union);
    case 'ENUM':
    case 'ENUM64':
      if (t.kind !== 'ENUM' && t.kind !== 'ENUM64') return false;
      if (l.size !== t.size) return false;
      return l.values.every((v) => (t.values as readonly { name: string }[]).some((w) => essentialName(w.name) === essentialName(v.name)));
    case 'STRUCT':
    case 'UNION':
      if (behindPointer) return l.kind === t.kind || (t.kind === 'FWD' && t.union === (l.kind === 'UNION'));
      if (l.kind !== t.kind) return false;
      return l.members.every((m) => {
        const match = (t as typeof l).members.find((n) => n.name === m.name);
        return match !== undefined && recur(m.type, match.type, false);
      });
    case 'INT':
      return t.kind === 'INT' && l.size === t.size && l.signed === t.signed;
    case 'PTR':
      return t.kind === 'PTR' && recur(l.type, t.type, true);
    case 'ARRAY':
      return t.kind === 'ARRAY' && l.nelems === t.nelems && recur(l.type, t.type, behindPointer);
    case 'FUNC_PROTO':
      if (t.kind !== 'FUNC_PROTO' || l.params.length !== t.params.length) return false;
      return l.params.every((p, i) => recur(p.type, t.params[i]!.type, behindPointer)) && recur(l.returnType, t.returnType, behindPointer);
    default:
      return false;
  }
}

/** libbpf's bpf_core_match_member: a named local member found in the target, through anonymous members. */
function matchMember(local: CoreSpec, accessor: Accessor, target: Btf, targetId: number, spec: CoreSpec): number | false {
  const localType = local.btf.type(accessor.typeId) as Extract<BtfType, { kind: 'STRUCT' | 'UNION' }>;
  const localMember = localType.members[accessor.index]!;
  const resolvedId = skipModsAndTypedefs(target, targetId);
  const targetType = target.type(resolvedId);
  if (targetType.kind !== 'STRUCT' && targetType.kind !== 'UNION') return false;
  for (let i = 0; i < targetType.members.length; i++) {
    const member = targetType.members[i]!;
    if (spec.raw.length === SPEC_MAX_LEN) return false;
    spec.bitOffset += member.bitOffset;
    spec.raw.push(i);
    if (member.name === '') {
      const found = matchMember(local, accessor, target, member.type, spec);
      if (found !== false) return found;
    } else if (member.name === localMember.name) {
      if (!fieldsCompatible(local.btf, localMember.type, target, member.type)) return false;
      spec.accessors.push({ typeId: resolvedId, index: i, name: member.name });
      return member.type;
    }
    spec.bitOffset -= member.bitOffset;
    spec.raw.pop();
  }
  return false;
}

/** libbpf's bpf_core_spec_match: the local spec followed in one target candidate; undefined when it does not fit. */
function matchSpec(local: CoreSpec, kind: number, target: Btf, candidateId: number): CoreSpec | undefined {
  const spec: CoreSpec = { btf: target, rootTypeId: candidateId, accessors: [], raw: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    const ok = kind === BPF_CORE_TYPE_MATCHES
      ? typesMatch(local.btf, local.rootTypeId, target, candidateId)
      : typesCompatible(local.btf, local.rootTypeId, target, candidateId);
    return ok ? spec : undefined;
  }
  if (isEnumvalKind(kind)) {
    const targetId = skipModsAndTypedefs(target, candidateId);
    const enumType = target.type(targetId);
    if (enumType.kind !== 'ENUM' && enumType.kind !== 'ENUM64') return undefined;
    const wanted = essentialName(local.accessors[0]!.name!);
    const index = (enumType.values as readonly { name: string }[]).findIndex((v) => essentialName(v.name) === wanted);
    if (index < 0) return undefined;
    spec.accessors.push({ typeId: targetId, index, name: enumType.values[index]!.name });
    spec.raw.push(index);
    return spec;
  }
  let targetId = candidateId;
  for (let i = 0; i < local.accessors.length; i++) {
    const accessor = local.accessors[i]!;
    if (accessor.name !== undefined) {
      const next = matchMember(local, accessor, target, targetId, spec);
      if (next === false) return undefined;
      targetId = next;
    } else {
      if (i > 0) {
        const array = target.type(skipModsAndTypedefs(target, targetId));
        if (array.kind !== 'ARRAY') return undefined;
        const flexible = isFlexibleArray(target, spec.accessors.at(-1)!, array.nelems, spec.accessors.length > 0);
        if (!flexible && accessor.index >= array.nelems) return undefined;
        targetId = skipModsAndTypedefs(target, array.type);
      }
      if (spec.raw.length === SPEC_MAX_LEN) return undefined;
      spec.accessors.push({ typeId: targetId, index: accessor.index });
      spec.raw.push(accessor.index);
      spec.bitOffset += accessor.index * sizeOf(target, targetId) * 8;
    }
  }
  return spec;
}

/** Poison: the target lacks what the relocation needs. */
const POISON = Symbol('poison');

interface FieldValue {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

/** libbpf's bpf_core_calc_field_relo */
function fieldValue(relo: CoreRelo, spec: CoreSpec | undefined, fail: (message: string) => never): FieldValue | typeof POISON {
  if (relo.kind === BPF_CORE_FIELD_EXISTS) return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const { btf } = spec;
  const last = spec.accessors.at(-1)!;
  if (last.name === undefined) {
    const size = sizeOf(btf, last.typeId);
    if (relo.kind === BPF_CORE_FIELD_BYTE_OFFSET) return { value: BigInt(Math.floor(spec.bitOffset / 8)), size, typeId: last.typeId, validate: true };
    if (relo.kind === BPF_CORE_FIELD_BYTE_SIZE) return { value: BigInt(size), size: 0, typeId: 0, validate: true };
    return fail('cannot be applied to an array element');
  }
  const parent = btf.type(last.typeId) as Extract<BtfType, { kind: 'STRUCT' | 'UNION' }>;
  const member = parent.members[last.index]!;
  const fieldTypeId = skipModsAndTypedefs(btf, member.type);
  const fieldType = btf.type(fieldTypeId);
  const bitOffset = spec.bitOffset;
  let bitSize = member.bitfieldSize;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOffset: number;
  if (bitfield) {
    if ((fieldType.kind !== 'INT' && fieldType.kind !== 'ENUM' && fieldType.kind !== 'ENUM64') || fieldType.size === 0) {
      return fail(`bitfield '${member.name}' is ${describe(fieldType)}, not an integer`);
    }
    byteSize = fieldType.size;
    byteOffset = Math.floor(bitOffset / 8 / byteSize) * byteSize;
    while (bitOffset + bitSize - byteOffset * 8 > byteSize * 8) {
      if (byteSize >= 8) fail('the bitfield cannot be read with one 64-bit load');
      byteSize *= 2;
      byteOffset = Math.floor(bitOffset / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = sizeOf(btf, fieldTypeId);
    byteOffset = Math.floor(bitOffset / 8);
    bitSize = byteSize * 8;
  }
  switch (relo.kind) {
    case BPF_CORE_FIELD_BYTE_OFFSET:
      return { value: BigInt(byteOffset), size: bitfield ? 0 : byteSize, typeId: bitfield ? 0 : fieldTypeId, validate: !bitfield };
    case BPF_CORE_FIELD_BYTE_SIZE:
      return { value: BigInt(byteSize), size: 0, typeId: 0, validate: !bitfield };
    case BPF_CORE_FIELD_SIGNED: {
      const signed = (fieldType.kind === 'INT' && fieldType.signed) || ((fieldType.kind === 'ENUM' || fieldType.kind === 'ENUM64') && fieldType.signed);
      return { value: signed ? 1n : 0n, size: 0, typeId: 0, validate: true };
    }
    case BPF_CORE_FIELD_LSHIFT_U64:
      // little-endian, as every BPF target this loader runs programs on
      return { value: BigInt(64 - (bitOffset + bitSize - byteOffset * 8)), size: 0, typeId: 0, validate: !bitfield };
    case BPF_CORE_FIELD_RSHIFT_U64:
      return { value: BigInt(64 - bitSize), size: 0, typeId: 0, validate: true };
    default:
      return fail('is not a field relocation');
  }
}

/** libbpf's bpf_core_calc_type_relo and bpf_core_calc_enumval_relo */
function typeOrEnumValue(relo: CoreRelo, spec: CoreSpec | undefined): bigint | typeof POISON {
  switch (relo.kind) {
    case BPF_CORE_TYPE_EXISTS:
    case BPF_CORE_TYPE_MATCHES:
    case BPF_CORE_ENUMVAL_EXISTS:
      return spec ? 1n : 0n;
    // type-based kinds give 0 when the target has no such type (libbpf's bpf_core_calc_type_relo); only enum values poison
    case BPF_CORE_TYPE_ID_TARGET:
    case BPF_CORE_TYPE_ID_LOCAL:
      return spec ? BigInt(spec.rootTypeId) : 0n;
    case BPF_CORE_TYPE_SIZE:
      return spec ? BigInt(sizeOf(spec.btf, spec.rootTypeId)) : 0n;
    default: {
      if (!spec) return POISON;
      const accessor = spec.accessors[0]!;
      const enumType = spec.btf.type(skipModsAndTypedefs(spec.btf, accessor.typeId)) as Extract<BtfType, { kind: 'ENUM' | 'ENUM64' }>;
      const value = enumType.values[accessor.index]!.value;
      // as libbpf reads it: a 32-bit enumerator is struct btf_enum's __s32 val, sign-extended to 64 bits whatever
      // the kind flag says (clang sign-extends `-3` into the instruction); a 64-bit one is hi32:lo32
      return enumType.kind === 'ENUM' ? BigInt.asUintN(64, BigInt((value as number) | 0)) : BigInt.asUintN(64, BigInt(value));
    }
  }
}

interface SideResult {
  value: bigint;
  poison: boolean;
  size: number;
  typeId: number;
  validate: boolean;
}

function calculate(relo: CoreRelo, spec: CoreSpec | undefined, fail: (message: string) => never): SideResult {
  if (isFieldKind(relo.kind)) {
    const field = fieldValue(relo, spec, fail);
    if (field === POISON) return { value: 0n, poison: true, size: 0, typeId: 0, validate: true };
    return { ...field, poison: false };
  }
  const value = typeOrEnumValue(relo, spec);
  return value === POISON ? { value: 0n, poison: true, size: 0, typeId: 0, validate: true } : { value, poison: false, size: 0, typeId: 0, validate: true };
}

/**
 * The value a CO-RE relocation gives on the target: libbpf's
 * bpf_core_calc_relo_insn. Throws a BtfError for a malformed record or an
 * ambiguity (two candidates that disagree); a target that lacks the type or
 * field is not an error but a poison (or 0 for the *_exists kinds).
 * `candidates` overrides the search by essential name (libbpf searches
 * vmlinux, then module BTF; the caller decides which target); `program`
 * names the program in errors.
 */
export function calculateCoreRelocation(
  local: Btf, target: Btf, relo: CoreRelo, options: { candidates?: readonly number[]; program?: string } = {},
): CoreRelocationResult {
  const fail = (message: string): never => {
    throw coreError(local, relo, message, options.program);
  };
  const localSpec = parseCoreSpec(local, relo, options.program);
  const localSide = calculate(relo, localSpec, fail);
  const result = (targetSpec: CoreSpec | undefined, target: SideResult, matched: number[]): CoreRelocationResult => {
    let failMemSizeAdjust = false;
    if (!target.poison && isFieldKind(relo.kind) && localSide.size !== target.size) {
      const a = local.type(localSide.typeId);
      const b = targetSpec!.btf.type(target.typeId);
      const pointers = a.kind === 'PTR' && b.kind === 'PTR';
      const unsigned = a.kind === 'INT' && b.kind === 'INT' && !a.signed && !b.signed;
      failMemSizeAdjust = !pointers && !unsigned;
    }
    return {
      kind: relo.kind, localValue: localSide.value, targetValue: target.value, poison: target.poison, validate: localSide.validate,
      localSize: localSide.size, targetSize: target.size, failMemSizeAdjust, localSpec, targetSpec, candidates: matched,
    };
  };
  if (relo.kind === BPF_CORE_TYPE_ID_LOCAL) return result(localSpec, { ...localSide }, [relo.typeId]);
  const localType = local.type(relo.typeId);
  if (localType.name === '') fail(`the local type ${describe(localType)} has no name to look for in the target`);
  let chosen: { spec: CoreSpec; side: SideResult } | undefined;
  const matched: number[] = [];
  for (const id of options.candidates ?? coreCandidates(target, localType)) {
    const spec = matchSpec(localSpec, relo.kind, target, id);
    if (!spec) continue;
    const side = calculate(relo, spec, fail);
    if (!chosen) {
      chosen = { spec, side };
    } else if (spec.bitOffset !== chosen.spec.bitOffset) {
      fail(`field offset ambiguity: target types [${chosen.spec.rootTypeId}] and [${id}] put it at bits ${chosen.spec.bitOffset} and ${spec.bitOffset}`);
    } else if (side.poison !== chosen.side.poison || (!side.poison && side.value !== chosen.side.value)) {
      fail(`relocation decision ambiguity: target types [${chosen.spec.rootTypeId}] and [${id}] give ${chosen.side.poison ? 'poison' : chosen.side.value} and ${side.poison ? 'poison' : side.value}`);
    }
    matched.push(id);
  }
  if (!chosen) return result(undefined, calculate(relo, undefined, fail), []);
  return result(chosen.spec, chosen.side, matched);
}

/**
 * A spec as libbpf's debug log prints it (bpf_core_format_spec):
 * `<byte_off> [114] struct task_struct.comm[3] (0:125:3 @ offset 1755)`,
 * `<type_size> [114] struct task_struct`, `<enumval_value> [384] enum pid_type::PIDTYPE_MAX = 4`.
 */
export function formatCoreSpec(spec: CoreSpec, kind: number): string {
  return `<${CORE_RELO_KIND_NAMES[kind] ?? kind}> ${formatCoreAccess(spec, kind)}`;
}

/** formatCoreSpec() without the leading `<kind>`: `[114] struct task_struct.comm[3] (0:125:3 @ offset 1755)`. */
export function formatCoreAccess(spec: CoreSpec, kind: number): string {
  const root = spec.btf.type(spec.rootTypeId);
  let text = `[${spec.rootTypeId}] ${root.kind.toLowerCase()} ${root.name || '<anon>'}`;
  if (isTypeKind(kind)) return text;
  if (isEnumvalKind(kind)) {
    const accessor = spec.accessors[0]!;
    const enumType = spec.btf.type(skipModsAndTypedefs(spec.btf, accessor.typeId)) as Extract<BtfType, { kind: 'ENUM' | 'ENUM64' }>;
    return `${text}::${accessor.name} = ${enumType.values[accessor.index]!.value}`;
  }
  spec.accessors.forEach((accessor, i) => {
    if (accessor.name !== undefined) text += `.${accessor.name}`;
    else if (i > 0 || accessor.index > 0) text += `[${accessor.index}]`;
  });
  const bits = spec.bitOffset % 8;
  return `${text} (${spec.raw.join(':')} @ offset ${Math.floor(spec.bitOffset / 8)}${bits ? `.${bits}` : ''})`;
}
