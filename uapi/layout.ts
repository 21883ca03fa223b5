/**
 * A struct the kernel reads or writes, declared once as its fields in C order:
 * the offsets follow from C's natural alignment (u64 and pointers, the
 * kernel's __aligned_u64, on 8 bytes), so no offset is written by hand. A
 * layout is plain data, in no byte order: the encoders in syscall/ take the
 * order (the host's, for the kernel) and read and write the fields by name.
 */

/** u8..u64 unsigned, s32 signed, ptr an address in a u64, char/bytes a fixed array of `length` bytes */
export type FieldKind = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 'ptr' | 'char' | 'bytes';

export interface FieldLayout {
  readonly name: string;
  readonly kind: FieldKind;
  readonly offset: number;
  readonly size: number;
}

export interface StructLayout<N extends string = string> {
  /** as in the kernel's headers: `bpf_attr.map_create`, `bpf_map_info` */
  readonly name: string;
  readonly fields: { readonly [K in N]: FieldLayout };
  /** offsetofend(the last field): what a bpf(2) command is given as its attr's size */
  readonly end: number;
  /** sizeof(struct): `end` rounded up to the struct's alignment */
  readonly size: number;
}

/** One field: [name, kind] or, for char and bytes, [name, kind, length]. A leading `pad` keeps a hole explicit. */
export type FieldDecl = readonly [name: string, kind: FieldKind, length?: number];

const SCALAR_SIZE: Record<Exclude<FieldKind, 'char' | 'bytes'>, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8, ptr: 8 };

function sizeAndAlignment(kind: FieldKind, length: number | undefined): [number, number] {
  if (kind === 'char' || kind === 'bytes') return [length ?? 1, 1];
  const size = SCALAR_SIZE[kind];
  return [size, size];
}

/** A struct's layout from its fields in order; `base` continues another layout (a union member after common fields). */
export function struct<const D extends readonly FieldDecl[], B extends string = never>(
  name: string,
  decls: D,
  base?: StructLayout<B>,
): StructLayout<B | Exclude<D[number][0], `pad${string}`>> {
  const fields: Record<string, FieldLayout> = base ? { ...base.fields } : {};
  let offset = base ? base.end : 0;
  let alignment = base ? alignmentOf(base) : 1;
  for (const [fieldName, kind, length] of decls) {
    const [size, align] = sizeAndAlignment(kind, length);
    offset = roundUp(offset, align);
    alignment = Math.max(alignment, align);
    if (!fieldName.startsWith('pad')) {
      if (fieldName in fields) throw new Error(`${name}: field ${fieldName} declared twice`);
      fields[fieldName] = Object.freeze({ name: fieldName, kind, offset, size });
    }
    offset += size;
  }
  return Object.freeze({ name, fields: Object.freeze(fields), end: offset, size: roundUp(offset, alignment) }) as StructLayout<B | Exclude<D[number][0], `pad${string}`>>;
}

function alignmentOf(layout: StructLayout): number {
  let alignment = 1;
  for (const field of Object.values(layout.fields) as FieldLayout[]) alignment = Math.max(alignment, sizeAndAlignment(field.kind, field.size)[1]);
  return alignment;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
