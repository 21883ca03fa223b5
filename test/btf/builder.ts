import { readdirSync } from 'node:fs';
import { fixturePath } from '../support/fixtures.js';

// Hand-made BTF for tests: types as raw u32 words and a string table, laid out
// as the kernel expects (header, types, strings), so malformed variants can be
// written field by field.

export const KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

export function info(kind: number, vlen = 0, kindFlag = false): number {
  return ((kindFlag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
}

export class StringTable {
  readonly #offsets = new Map<string, number>([['', 0]]);
  #text = '\0';
  add(name: string): number {
    let offset = this.#offsets.get(name);
    if (offset === undefined) {
      offset = Buffer.byteLength(this.#text);
      this.#text += `${name}\0`;
      this.#offsets.set(name, offset);
    }
    return offset;
  }
  bytes(): Buffer {
    return Buffer.from(this.#text, 'utf8');
  }
}

/** Header + types + strings, little-endian; `patch` edits the header before it is written. */
export function btfBytes(types: readonly number[], strings: Uint8Array, patch: Partial<Record<'magic' | 'version' | 'flags' | 'hdrLen' | 'typeOff' | 'typeLen' | 'strOff' | 'strLen', number>> = {}): Buffer {
  const typeLen = types.length * 4;
  const out = Buffer.alloc(24 + typeLen + strings.length);
  out.writeUInt16LE(patch.magic ?? 0xeb9f, 0);
  out.writeUInt8(patch.version ?? 1, 2);
  out.writeUInt8(patch.flags ?? 0, 3);
  out.writeUInt32LE(patch.hdrLen ?? 24, 4);
  out.writeUInt32LE(patch.typeOff ?? 0, 8);
  out.writeUInt32LE(patch.typeLen ?? typeLen, 12);
  out.writeUInt32LE(patch.strOff ?? typeLen, 16);
  out.writeUInt32LE(patch.strLen ?? strings.length, 20);
  types.forEach((word, i) => out.writeUInt32LE(word >>> 0, 24 + i * 4));
  out.set(strings, 24 + typeLen);
  return out;
}

/** Every committed fixture built with -g: the *_g_kern.o stand-ins and the libbpf-style modern/ objects. */
export function btfFixtures(): string[] {
  return [
    ...readdirSync(fixturePath('')).filter((f) => f.endsWith('_g_kern.o')),
    ...readdirSync(fixturePath('modern')).filter((f) => f.endsWith('.bpf.o')).map((f) => `modern/${f}`),
  ].sort();
}
