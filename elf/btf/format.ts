// BTF as text, in `bpftool btf dump file X` raw format: one line per type
// (`[id] KIND 'name' …`) and one tab-indented line per member, value,
// parameter or variable. The same text bpftool prints, so the two can be
// compared line for line, and a readable dump of any type for messages.

import type { Btf } from './btf.js';
import type { BtfType } from './types.js';

const LINKAGE = ['static', 'global', 'extern'];

function quoted(name: string): string {
  return `'${name || '(anon)'}'`;
}

/** One type in bpftool's raw format (several lines for a type with members). */
export function formatBtfType(btf: Btf, type: BtfType): string {
  const head = `[${type.id}] ${type.kind} ${quoted(type.name)}`;
  switch (type.kind) {
    case 'VOID':
      return head;
    case 'INT': {
      const encoding = type.signed ? 'SIGNED' : type.char ? 'CHAR' : type.bool ? 'BOOL' : '(none)';
      return `${head} size=${type.size} bits_offset=${type.bitOffset} nr_bits=${type.bits} encoding=${encoding}`;
    }
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
      return `${head} type_id=${type.type}`;
    case 'ARRAY':
      return `${head} type_id=${type.type} index_type_id=${type.indexType} nr_elems=${type.nelems}`;
    case 'STRUCT':
    case 'UNION':
      return [
        `${head} size=${type.size} vlen=${type.members.length}`,
        ...type.members.map((m) =>
          `\t${quoted(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`),
      ].join('\n');
    case 'ENUM':
    case 'ENUM64': {
      const suffix = type.kind === 'ENUM64' ? (type.signed ? 'LL' : 'ULL') : '';
      return [
        `${head} encoding=${type.signed ? 'SIGNED' : 'UNSIGNED'} size=${type.size} vlen=${type.values.length}`,
        ...type.values.map((v) => `\t${quoted(v.name)} val=${v.value}${suffix}`),
      ].join('\n');
    }
    case 'FWD':
      return `${head} fwd_kind=${type.union ? 'union' : 'struct'}`;
    case 'FUNC':
      return `${head} type_id=${type.type} linkage=${LINKAGE[type.linkage]}`;
    case 'FUNC_PROTO':
      return [
        `${head} ret_type_id=${type.returnType} vlen=${type.params.length}`,
        ...type.params.map((p) => `\t${quoted(p.name)} type_id=${p.type}`),
      ].join('\n');
    case 'VAR':
      return `${head} type_id=${type.type}, linkage=${LINKAGE[type.linkage]}`;
    case 'DATASEC':
      return [
        `${head} size=${type.size} vlen=${type.vars.length}`,
        ...type.vars.map((v) => {
          const target = btf.type(v.type);
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${target.kind} ${quoted(target.name)})`;
        }),
      ].join('\n');
    case 'FLOAT':
      return `${head} size=${type.size}`;
    case 'DECL_TAG':
      return `${head} type_id=${type.type} component_idx=${type.componentIdx}`;
  }
}

/** Every type this BTF defines (not its base's), as `bpftool btf dump file X` prints them. */
export function formatBtf(btf: Btf): string {
  const lines: string[] = [];
  for (const id of btf.ids()) lines.push(formatBtfType(btf, btf.type(id)));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
