// A type of an object's BTF named as C names it: `struct event`, `union
// value`, `enum state`, a typedef, or a bare name. What `events --btf-type`
// decodes records by and what `gen-types --type` types them with.

import { sizeOf, skipModsAndTypedefs, type Btf, type BtfKind } from '../../elf/btf/index.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import { typeName } from './btfCodec.js';

/** Kinds a value can have: what a type name may name. */
const VALUE_KINDS: readonly BtfKind[] = ['STRUCT', 'UNION', 'TYPEDEF', 'INT', 'ENUM', 'ENUM64', 'FLOAT'];

/** C's keywords before a name, and `typedef NAME` for a typedef that shares its name with a struct, union or enum. */
const KEYWORDS: Record<string, BtfKind[]> = { struct: ['STRUCT'], union: ['UNION'], enum: ['ENUM', 'ENUM64'], typedef: ['TYPEDEF'] };

/** A type as it is named with its keyword (`struct x`, `typedef x`): what tells apart types of one name. */
export function qualifiedName(btf: Btf, id: number): string {
  return btf.kindOf(id) === 'TYPEDEF' ? `typedef ${btf.type(id).name}` : typeName(btf, id);
}

/** What each kind that is not a value's is, in a message. */
const NOT_A_VALUE: Partial<Record<BtfKind, string>> = {
  FUNC: 'a function', VAR: 'a variable (give its type)', DATASEC: 'a data section', FWD: 'a forward declaration, with no members',
};

export interface NamedTypeOptions {
  /** how the caller names what it looks up, first in every message: `--btf-type event`, `types: event` */
  what: string;
  /** where: the object file */
  context?: LoadErrorContext;
  /** said when the object's BTF has no type of that name */
  missingHint?: string;
}

/**
 * The id of the type `name` names in `btf`: `struct event`, `union u`,
 * `enum e`, `typedef t` (where a struct shares the typedef's name), or a bare name (a struct, union, enum, typedef, int or float of
 * that name; a struct or union and typedefs of the same name that stand for
 * it are one type). A name that matches nothing, only a function, variable or
 * forward declaration, or several different types, is a BPF_LOAD_ARGUMENT
 * error naming what there is.
 */
export function findNamedType(btf: Btf, name: string, options: NamedTypeOptions): number {
  const refuse = (message: string, hint?: string): LoadError =>
    new LoadError(`${options.what} ${name}: ${message}`, options.context ?? {}, { code: 'BPF_LOAD_ARGUMENT', ...(hint === undefined ? {} : { hint }) });
  const words = name.trim().split(/\s+/);
  const keyword = words.length === 2 ? KEYWORDS[words[0]!] : undefined;
  if (words.length > 2 || (words.length === 2 && !keyword) || words[words.length - 1] === '' || (words.length === 1 && KEYWORDS[words[0]!])) {
    throw refuse("give a type name, as in C: 'struct event', 'union value', 'enum state' or a typedef's name");
  }
  const bare = words[words.length - 1]!;
  if (bare === 'void') throw refuse('void has no bytes to decode');
  const all = btf.byName(bare);
  const kinds = keyword ?? VALUE_KINDS;
  const ids = all.filter((id) => kinds.includes(btf.kindOf(id)));
  // `typedef struct event event`-style pairs share a name: one type
  const composites = ids.filter((id) => btf.kindOf(id) === 'STRUCT' || btf.kindOf(id) === 'UNION');
  const sameThing = composites.length === 1 && ids.every((id) => id === composites[0] || skipModsAndTypedefs(btf, id) === composites[0]);
  const chosen = sameThing ? composites : ids;
  if (chosen.length === 1) {
    if (sizeOf(btf, chosen[0]!) === 0) throw refuse(`${typeName(btf, chosen[0]!)} has no size`);
    return chosen[0]!;
  }
  if (chosen.length > 1) {
    const names = chosen.map((id) => qualifiedName(btf, id));
    throw refuse(`${chosen.length} types have that name (${chosen.map((id, i) => `${names[i]} [${id}]`).join(', ')}): say which: ${names.map((n) => `'${n}'`).join(' or ')}`);
  }
  const others = all.filter((id) => NOT_A_VALUE[btf.kindOf(id)] !== undefined && (keyword === undefined || btf.kindOf(id) === 'FWD'));
  if (others.length > 0) {
    const forward = others.some((id) => btf.kindOf(id) === 'FWD');
    throw refuse(
      `the object's BTF has it only as ${others.map((id) => `${NOT_A_VALUE[btf.kindOf(id)]!} [${id}]`).join(', ')}`,
      forward ? options.missingHint : undefined,
    );
  }
  const values = all.filter((id) => VALUE_KINDS.includes(btf.kindOf(id)));
  if (values.length > 0) {
    throw refuse(`the object's BTF has no ${name.trim().replace(/\s+/, ' ')}, but has ${values.map((id) => `${qualifiedName(btf, id)} [${id}]`).join(', ')}`);
  }
  const named = [...btf.names()]
    .filter(([, typeIds]) => typeIds.some((id) => btf.kindOf(id) === 'STRUCT' || btf.kindOf(id) === 'UNION'))
    .map(([, typeIds]) => typeName(btf, typeIds.find((id) => btf.kindOf(id) === 'STRUCT' || btf.kindOf(id) === 'UNION')!))
    .sort();
  throw refuse(`the object's BTF has no such type (structs and unions: ${named.join(', ') || 'none'})`, options.missingHint);
}
