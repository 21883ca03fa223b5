import {
  datasecVariables, sizeOf, skipModsAndTypedefs, type Btf, type BtfKind, type DatasecVariable,
} from '../../elf/btf/index.js';
import { typeName } from '../maps/btfCodec.js';
import { btfFormatted, formattedJson, type Formatted } from '../maps/btfFormat.js';
import type { Codec } from '../maps/codecs.js';
import { LoadError } from '../errors.js';

// The CLI's view of values by their BTF types: bpftool's "formatted" shape
// (structs as objects, enums by name, char arrays as strings), for dump and
// events, and a data section's variables by name.

/** A decode-only codec giving BTF type `typeId` in bpftool's formatted shape: what dump walks a map with. */
export function formattedCodec(btf: Btf, typeId: number): Codec<Formatted, never> {
  return {
    name: typeName(btf, typeId),
    size: sizeOf(btf, typeId),
    align: 1,
    decode: (b, _v, o) => btfFormatted(btf, typeId, b, o),
    encode: () => {
      throw new LoadError('a formatted view only reads', {}, { code: 'BPF_LOAD_ARGUMENT' });
    },
  };
}

/** A value of BTF type on one line: JSON, 64-bit integers as plain digits (as bpftool prints them). */
export function formattedText(value: Formatted): string {
  return formattedJson(value);
}

/** A variable of a data section, with its type's name. */
export interface SectionVariable extends DatasecVariable {
  type: string;
}

/** The data section a map's value is (`.bss`, `.rodata`, `.data.NAME`, …), or undefined when its value type is no DATASEC. */
export function dataSectionOf(btf: Btf, valueTypeId: number): { name: string; variables: SectionVariable[] } | undefined {
  if (valueTypeId === 0) return undefined;
  const id = skipModsAndTypedefs(btf, valueTypeId);
  if (btf.kindOf(id) !== 'DATASEC') return undefined;
  const datasec = btf.typeOfKind(id, 'DATASEC');
  // the kernel's (and the loader's) DATASEC has the offsets and sizes the symbols gave: no symbol table needed
  const variables = datasecVariables(btf, datasec).map((v) => ({ ...v, type: typeName(btf, v.typeId) }));
  return { name: datasec.name, variables };
}

/** Each variable of a data section's value, formatted, in offset order. */
export function formattedVariables(btf: Btf, variables: readonly SectionVariable[], value: Uint8Array): { variable: SectionVariable; value: Formatted }[] {
  return variables.map((variable) => ({ variable, value: btfFormatted(btf, variable.typeId, value, variable.offset) }));
}

/** Kinds a value can have: what `--btf-type NAME` may name. */
const VALUE_KINDS: readonly BtfKind[] = ['STRUCT', 'UNION', 'TYPEDEF', 'INT', 'ENUM', 'ENUM64', 'FLOAT'];

const KEYWORDS: Record<string, BtfKind[]> = { struct: ['STRUCT'], union: ['UNION'], enum: ['ENUM', 'ENUM64'] };

/**
 * The id of the type `name` names in `btf`: `struct event`, `union u`,
 * `enum e`, or a bare name (a typedef, struct, union, enum or int of that
 * name; `struct` is assumed when a struct and its typedef share the name). A
 * name that matches nothing, or several types, is a usage error naming what
 * there is.
 */
export function findValueType(btf: Btf, name: string, what: string): number {
  const words = name.trim().split(/\s+/);
  const keyword = words.length === 2 ? KEYWORDS[words[0]!] : undefined;
  if (words.length > 2 || (words.length === 2 && !keyword) || words[words.length - 1] === '') {
    throw argumentError(`${what} ${name}: give a type name, as in C: 'struct event', 'union value', 'enum state' or a typedef`);
  }
  const bare = words[words.length - 1]!;
  const kinds = keyword ?? VALUE_KINDS;
  const ids = btf.byName(bare).filter((id) => kinds.includes(btf.kindOf(id)));
  // `typedef struct event event_t`-style pairs share a name: the struct is the value
  const structs = ids.filter((id) => btf.kindOf(id) === 'STRUCT');
  const chosen = ids.length === 1 ? ids : structs.length === 1 && keyword === undefined ? structs : ids;
  if (chosen.length === 1) {
    if (sizeOf(btf, chosen[0]!) === 0) throw argumentError(`${what} ${name}: ${typeName(btf, chosen[0]!)} has no size (only declared)`);
    return chosen[0]!;
  }
  if (chosen.length > 1) {
    throw argumentError(`${what} ${name}: ${chosen.length} types have that name (${chosen.map((id) => `${typeName(btf, id)} [${id}]`).join(', ')}): say which, e.g. 'struct ${bare}'`);
  }
  const named = [...btf.names()]
    .filter(([, typeIds]) => typeIds.some((id) => btf.kindOf(id) === 'STRUCT' || btf.kindOf(id) === 'UNION'))
    .map(([, typeIds]) => typeName(btf, typeIds.find((id) => btf.kindOf(id) === 'STRUCT' || btf.kindOf(id) === 'UNION')!))
    .sort();
  throw argumentError(`${what} ${name}: the object's BTF has no such type (structs and unions: ${named.join(', ') || 'none'})`);
}

function argumentError(message: string): LoadError {
  return new LoadError(message, {}, { code: 'BPF_LOAD_ARGUMENT' });
}
