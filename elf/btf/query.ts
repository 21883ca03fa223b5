// Questions about types that follow references: what a typedef or a
// qualified type really is, how big and how aligned a type is, where a member
// sits. Chains are bounded (as in libbpf), so a reference loop in malformed BTF
// is an error, not a hang.

import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfComposite, BtfMember, BtfType } from './types.js';

/** Longest chain of typedefs, modifiers and arrays followed, as libbpf's MAX_RESOLVE_DEPTH. */
export const MAX_RESOLVE_DEPTH = 32;
/** BPF (and every 64-bit kernel whose BTF we read) has 8-byte pointers. */
export const POINTER_SIZE = 8;

function isModifier(kind: BtfType['kind']): boolean {
  return kind === 'CONST' || kind === 'VOLATILE' || kind === 'RESTRICT' || kind === 'TYPE_TAG';
}

function tooDeep(btf: Btf, id: number): never {
  throw new BtfError(`more than ${MAX_RESOLVE_DEPTH} typedefs, modifiers or arrays in a chain (a reference loop?)`, { ...btf.context, typeId: id });
}

/** The id past any const/volatile/restrict/type_tag (typedefs kept). */
export function skipModifiers(btf: Btf, id: number): number {
  let current = id;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const type = btf.type(current);
    if (!isModifier(type.kind)) return current;
    current = (type as { type: number }).type;
  }
  return tooDeep(btf, id);
}

/** The id past any modifiers and typedefs: what the type really is. */
export function skipModsAndTypedefs(btf: Btf, id: number): number {
  let current = id;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const type = btf.type(current);
    if (!isModifier(type.kind) && type.kind !== 'TYPEDEF') return current;
    current = (type as { type: number }).type;
  }
  return tooDeep(btf, id);
}

/** The type past any modifiers and typedefs. */
export function resolveType(btf: Btf, id: number): BtfType {
  return btf.type(skipModsAndTypedefs(btf, id));
}

/** sizeof() of a type, as the C compiler (and libbpf's btf__resolve_size) sees it. */
export function sizeOf(btf: Btf, id: number): number {
  let current = id;
  let count = 1;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const type = btf.type(current);
    switch (type.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'STRUCT':
      case 'UNION':
      case 'DATASEC':
      case 'FLOAT':
        return checkedSize(btf, id, count * type.size);
      case 'PTR':
        return checkedSize(btf, id, count * POINTER_SIZE);
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'VAR':
      case 'DECL_TAG':
        current = type.type;
        break;
      case 'ARRAY':
        count *= type.nelems;
        current = type.type;
        break;
      default:
        throw new BtfError(`${describe(type)} has no size`, { ...btf.context, typeId: id });
    }
  }
  return tooDeep(btf, id);
}

function checkedSize(btf: Btf, id: number, size: number): number {
  if (size > 0xffffffff) throw new BtfError(`size ${size} does not fit in 32 bits`, { ...btf.context, typeId: id });
  return size;
}

/** Alignment of a type as libbpf computes it (btf__align_of): a packed struct aligns to 1. */
export function alignOf(btf: Btf, id: number, depth = 0): number {
  if (depth > MAX_RESOLVE_DEPTH) tooDeep(btf, id);
  const type = btf.type(id);
  switch (type.kind) {
    case 'INT':
    case 'ENUM':
    case 'ENUM64':
    case 'FLOAT':
      return Math.min(POINTER_SIZE, type.size);
    case 'PTR':
      return POINTER_SIZE;
    case 'TYPEDEF':
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT':
    case 'TYPE_TAG':
    case 'VAR':
      return alignOf(btf, type.type, depth + 1);
    case 'ARRAY':
      return alignOf(btf, type.type, depth + 1);
    case 'STRUCT':
    case 'UNION': {
      let max = 1;
      for (const member of type.members) {
        const align = alignOf(btf, member.type, depth + 1);
        // a member off its natural alignment means the struct is packed
        if (member.bitfieldSize === 0 && member.bitOffset % (8 * align) !== 0) return 1;
        max = Math.max(max, align);
      }
      return type.size % max === 0 ? max : 1;
    }
    default:
      throw new BtfError(`${describe(type)} has no alignment`, { ...btf.context, typeId: id });
  }
}

export interface MemberMatch {
  member: BtfMember;
  /** bit offset from the start of the outer struct, through any anonymous members on the way */
  bitOffset: number;
  /** member indices from the outer struct down, the last one the member's own */
  path: number[];
}

/**
 * A struct's or union's member by name, looking into anonymous struct/union
 * members as C does; undefined when there is none.
 */
export function findMember(btf: Btf, compositeId: number, name: string): MemberMatch | undefined {
  const composite = resolveType(btf, compositeId);
  if (composite.kind !== 'STRUCT' && composite.kind !== 'UNION') {
    throw new BtfError(`${describe(composite)} has no members`, { ...btf.context, typeId: compositeId });
  }
  return searchMembers(btf, composite, name, 0);
}

function searchMembers(btf: Btf, composite: BtfComposite, name: string, depth: number): MemberMatch | undefined {
  if (depth > MAX_RESOLVE_DEPTH) tooDeep(btf, composite.id);
  for (let index = 0; index < composite.members.length; index++) {
    const member = composite.members[index]!;
    if (member.name === name) return { member, bitOffset: member.bitOffset, path: [index] };
    if (member.name === '') {
      const inner = resolveType(btf, member.type);
      if (inner.kind !== 'STRUCT' && inner.kind !== 'UNION') continue;
      const found = searchMembers(btf, inner, name, depth + 1);
      if (found) return { member: found.member, bitOffset: member.bitOffset + found.bitOffset, path: [index, ...found.path] };
    }
  }
  return undefined;
}

/** `struct task_struct`, `typedef __u32`, `INT 'int'`, `anonymous UNION` …: how messages name a type. */
export function describe(type: BtfType): string {
  switch (type.kind) {
    case 'STRUCT':
    case 'UNION':
    case 'ENUM':
    case 'ENUM64':
      return type.name ? `${type.kind === 'ENUM64' ? 'enum' : type.kind.toLowerCase()} ${type.name}` : `anonymous ${type.kind}`;
    case 'FWD':
      return `${type.union ? 'union' : 'struct'} ${type.name} (forward declaration)`;
    case 'VOID':
      return 'void';
    default:
      return type.name ? `${type.kind} '${type.name}'` : type.kind;
  }
}
