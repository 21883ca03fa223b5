import {
  BTF_ARRAY_SIZE, BTF_DECL_TAG_SIZE, BTF_ENUM64_SIZE, BTF_ENUM_SIZE, BTF_HEADER_SIZE, BTF_INT_BOOL, BTF_INT_CHAR,
  BTF_INT_SIGNED, BTF_INT_SIZE, BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM,
  BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_FWD, BTF_KIND_INT, BTF_KIND_MAX,
  BTF_KIND_PTR, BTF_KIND_RESTRICT, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_TYPE_TAG, BTF_KIND_UNION,
  BTF_KIND_VAR, BTF_KIND_VOLATILE, BTF_MAGIC, BTF_MEMBER_SIZE, BTF_PARAM_SIZE, BTF_TYPE_SIZE, BTF_VAR_SECINFO_SIZE,
  BTF_VAR_SIZE, BTF_VERSION, btfInfoKind, btfInfoKindFlag, btfInfoVlen, btfIntBits, btfIntEncoding, btfIntOffset,
  btfMemberBitOffset, btfMemberBitfieldSize,
} from '../../uapi/btf.js';
import { decodeUtf8, isAscii } from '../byteReader.js';
import { BtfError, type BtfErrorContext } from './errors.js';
import {
  BTF_KIND_NAMES, type BtfEnum64Value, type BtfEnumValue, type BtfKind, type BtfMember, type BtfOfKind, type BtfParam,
  type BtfType, type BtfVarSecinfo,
} from './types.js';

export interface BtfHeader {
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

export interface ParseBtfOptions {
  /** the base of a split BTF (a module's BTF is split over vmlinux's): ids and string offsets continue its own */
  base?: Btf;
  /** for messages: the file the BTF came from */
  file?: string;
  /** for messages: the section (`.BTF`), when it came from an object */
  section?: string;
}

const VOID = Object.freeze({ id: 0, kind: 'VOID', name: '' }) as BtfOfKind<'VOID'>;

/**
 * Parse BTF bytes: the header and the string table are checked and every
 * type's extent is found (one pass over the type section, a few milliseconds
 * for a kernel's BTF); each type is decoded, and checked, the first time it is
 * asked for. Throws BtfError naming the type id and what is wrong.
 */
export function parseBtf(bytes: Uint8Array, options: ParseBtfOptions = {}): Btf {
  return new Btf(bytes, options);
}

/**
 * One BTF: a base (an object's `.BTF`, vmlinux) or a split BTF over a base.
 * Types are plain data keyed by id; `type(0)` is void.
 */
export class Btf {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
  readonly header: BtfHeader;
  readonly base: Btf | undefined;
  /** the first id this BTF defines: 1, or the base's `typeCount` for split BTF */
  readonly firstId: number;
  /** one past the last id (ids of the base included): every valid reference is below it */
  readonly typeCount: number;
  /** bytes of string table below this BTF's own (the base's, for split BTF) */
  readonly stringBase: number;
  readonly context: BtfErrorContext;

  readonly #view: DataView;
  /** byte offset in `bytes` of each own type, by id - firstId */
  readonly #offsets: Uint32Array;
  readonly #strings: Uint8Array;
  readonly #decoded: (BtfType | undefined)[];
  /** the whole string section as one JS string when it is ASCII (byte offsets are then character offsets) */
  #asciiStrings: string | undefined | null = null;
  #names: Map<string, number[]> | undefined;

  constructor(bytes: Uint8Array, options: ParseBtfOptions) {
    this.bytes = bytes;
    this.base = options.base;
    this.context = {
      ...(options.file !== undefined && { file: options.file }),
      ...(options.section !== undefined && { section: options.section }),
    };
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < BTF_HEADER_SIZE) this.#fail(`${bytes.byteLength} bytes is shorter than the ${BTF_HEADER_SIZE}-byte header`);
    const magicLe = this.#view.getUint16(0, true);
    if (magicLe === BTF_MAGIC) this.littleEndian = true;
    else if (this.#view.getUint16(0, false) === BTF_MAGIC) this.littleEndian = false;
    else this.#fail(`magic is 0x${magicLe.toString(16)}, not 0x${BTF_MAGIC.toString(16)}`);
    if (this.base && this.base.littleEndian !== this.littleEndian) this.#fail('split BTF and its base differ in byte order');
    const header: BtfHeader = {
      version: bytes[2]!,
      flags: bytes[3]!,
      hdrLen: this.u32(4),
      typeOff: this.u32(8),
      typeLen: this.u32(12),
      strOff: this.u32(16),
      strLen: this.u32(20),
    };
    this.header = header;
    if (header.version !== BTF_VERSION) this.#fail(`version ${header.version}, only ${BTF_VERSION} exists`);
    if (header.flags !== 0) this.#fail(`header flags 0x${header.flags.toString(16)} are not 0`);
    if (header.hdrLen < BTF_HEADER_SIZE || header.hdrLen > bytes.byteLength) {
      this.#fail(`header length ${header.hdrLen} is not between ${BTF_HEADER_SIZE} and the ${bytes.byteLength} bytes there are`);
    }
    // a longer header (a newer kernel's) is fine as long as what we do not know is zero, as the kernel requires
    for (let i = BTF_HEADER_SIZE; i < header.hdrLen; i++) {
      if (bytes[i] !== 0) this.#fail(`header byte ${i} past the ${BTF_HEADER_SIZE} known ones is not zero`);
    }
    const body = bytes.byteLength - header.hdrLen;
    if (header.typeOff % 4 !== 0) this.#fail(`type section offset ${header.typeOff} is not 4-byte aligned`);
    if (header.typeOff + header.typeLen > body) this.#fail(`type section [${header.typeOff}, +${header.typeLen}) is past the ${body} bytes after the header`);
    if (header.strOff + header.strLen > body) this.#fail(`string section [${header.strOff}, +${header.strLen}) is past the ${body} bytes after the header`);
    if (header.typeOff < header.strOff + header.strLen && header.strOff < header.typeOff + header.typeLen) {
      this.#fail('the type and string sections overlap');
    }
    this.#strings = bytes.subarray(header.hdrLen + header.strOff, header.hdrLen + header.strOff + header.strLen);
    if (!this.base && (this.#strings.length === 0 || this.#strings[0] !== 0)) this.#fail('the string section does not start with the empty string');
    if (this.#strings.length > 0 && this.#strings[this.#strings.length - 1] !== 0) this.#fail('the string section does not end with a NUL');
    this.stringBase = this.base ? this.base.stringBase + this.base.#strings.length : 0;
    this.firstId = this.base ? this.base.typeCount : 1;
    this.#offsets = this.#scanTypes(header.hdrLen + header.typeOff, header.typeLen);
    this.typeCount = this.firstId + this.#offsets.length;
    this.#decoded = new Array<BtfType | undefined>(this.#offsets.length);
  }

  /** How many types this BTF itself defines (not its base, not void). */
  get ownTypeCount(): number {
    return this.#offsets.length;
  }

  /** This BTF's own string section (without its base's). */
  get stringTable(): Uint8Array {
    return this.#strings;
  }

  /** The ids this BTF itself defines, in order (its base's not included). */
  *ids(): IterableIterator<number> {
    for (let id = this.firstId; id < this.typeCount; id++) yield id;
  }

  /** Every type id this BTF and its base define, void excluded, in order. */
  *allIds(): IterableIterator<number> {
    for (let id = 1; id < this.typeCount; id++) yield id;
  }

  /** The type with this id, decoded and checked on first use; a BtfError when there is none. */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    if (!Number.isInteger(id) || id < 0 || id >= this.typeCount) {
      throw new BtfError(`no type with id ${id} (${this.typeCount - 1} types)`, this.context);
    }
    if (id < this.firstId) return this.base!.type(id);
    const index = id - this.firstId;
    return (this.#decoded[index] ??= this.#decode(id, this.#offsets[index]!));
  }

  /** The type with this id, which must be of this kind (a BtfError saying what it is otherwise). */
  typeOfKind<K extends BtfKind>(id: number, kind: K, what?: string): BtfOfKind<K> {
    const type = this.type(id);
    if (type.kind !== kind) {
      throw new BtfError(`${what ?? 'type'} is ${type.kind}${type.name ? ` '${type.name}'` : ''}, not ${kind}`, { ...this.context, typeId: id });
    }
    return type as BtfOfKind<K>;
  }

  /** The kind of a type without decoding it. */
  kindOf(id: number): BtfKind {
    if (id === 0) return 'VOID';
    if (id < this.firstId && id > 0) return this.base!.kindOf(id);
    return this.type(id).kind;
  }

  /** The string at this offset of the string table (offsets below `stringBase` are the base's). */
  string(offset: number, typeId?: number): string {
    if (offset < this.stringBase) return this.base!.string(offset, typeId);
    const local = offset - this.stringBase;
    if (local >= this.#strings.length) {
      throw new BtfError(`name offset ${offset} is past the ${this.stringBase + this.#strings.length}-byte string table`, {
        ...this.context, ...(typeId !== undefined && { typeId }),
      });
    }
    const ascii = this.#asciiStrings === null ? this.#decodeStrings() : this.#asciiStrings;
    // the table ends with a NUL (checked above), so there is one
    if (ascii !== undefined) return ascii.slice(local, ascii.indexOf('\0', local));
    const end = this.#strings.indexOf(0, local);
    return local === end ? '' : decodeUtf8(this.#strings.subarray(local, end));
  }

  /** One decode of the whole table when every byte is ASCII, as in every BTF a compiler or pahole writes. */
  #decodeStrings(): string | undefined {
    this.#asciiStrings = isAscii(this.#strings) ? decodeUtf8(this.#strings) : undefined;
    return this.#asciiStrings;
  }

  /** Ids of the types with this name, the base's first, in id order. */
  byName(name: string): readonly number[] {
    const own = this.#nameIndex().get(name) ?? [];
    if (!this.base) return own;
    const inBase = this.base.byName(name);
    return inBase.length === 0 ? own : own.length === 0 ? inBase : [...inBase, ...own];
  }

  /** Every name this BTF itself defines (not its base's), with the ids that carry it. */
  names(): IterableIterator<[string, readonly number[]]> {
    return this.#nameIndex().entries();
  }

  /** The one type with this name and kind; undefined when there is none, a BtfError when there are several. */
  find<K extends BtfKind>(name: string, kind: K): BtfOfKind<K> | undefined {
    const matches = this.byName(name).filter((id) => this.kindOf(id) === kind);
    if (matches.length > 1) throw new BtfError(`${matches.length} ${kind} types are named '${name}' (ids ${matches.join(', ')})`, this.context);
    return matches.length === 0 ? undefined : (this.type(matches[0]!) as BtfOfKind<K>);
  }

  /** Decode every type (the checks a lazy reader would leave for later run now). */
  validate(): void {
    for (const id of this.ids()) this.type(id);
  }

  u32(offset: number): number {
    return this.#view.getUint32(offset, this.littleEndian);
  }

  #nameIndex(): Map<string, number[]> {
    if (this.#names) return this.#names;
    const names = new Map<string, number[]>();
    for (let index = 0; index < this.#offsets.length; index++) {
      const nameOff = this.u32(this.#offsets[index]!);
      if (nameOff === 0) continue;
      const id = this.firstId + index;
      const name = this.string(nameOff, id);
      const list = names.get(name);
      if (list) list.push(id);
      else names.set(name, [id]);
    }
    this.#names = names;
    return names;
  }

  #fail(message: string, typeId?: number): never {
    throw new BtfError(message, { ...this.context, ...(typeId !== undefined && { typeId }) });
  }

  /** Find where each type starts: the only pass over the whole section; decoding waits for use. */
  #scanTypes(start: number, length: number): Uint32Array {
    const end = start + length;
    let offsets = new Uint32Array(Math.max(16, length >>> 5));
    let count = 0;
    let position = start;
    while (position < end) {
      const id = this.firstId + count;
      if (position + BTF_TYPE_SIZE > end) this.#fail(`the ${end - position} bytes left in the type section do not hold a type`, id);
      const info = this.u32(position + 4);
      const kind = btfInfoKind(info);
      const vlen = btfInfoVlen(info);
      if (kind === 0 || kind > BTF_KIND_MAX) this.#fail(`unknown kind ${kind}`, id);
      if ((info & 0x60ff0000) !== 0) this.#fail(`info 0x${info.toString(16)} has reserved bits set`, id);
      const extra = recordBytes(kind, vlen);
      if (extra < 0) this.#fail(`${BTF_KIND_NAMES[kind]} with vlen ${vlen} (it has no records)`, id);
      if (position + BTF_TYPE_SIZE + extra > end) this.#fail(`${BTF_KIND_NAMES[kind]} with vlen ${vlen} runs past the type section`, id);
      if (count === offsets.length) {
        const grown = new Uint32Array(offsets.length * 2);
        grown.set(offsets);
        offsets = grown;
      }
      offsets[count++] = position;
      position += BTF_TYPE_SIZE + extra;
    }
    if (this.firstId + count > 0x7fffffff) this.#fail(`${count} types are more than BTF can number`);
    return offsets.slice(0, count);
  }

  #ref(id: number, value: number, what: string): number {
    if (value >= this.typeCount) this.#fail(`${what} refers to type ${value}, past the last id ${this.typeCount - 1}`, id);
    return value;
  }

  #decode(id: number, at: number): BtfType {
    const info = this.u32(at + 4);
    const kind = btfInfoKind(info);
    const vlen = btfInfoVlen(info);
    const kindFlag = btfInfoKindFlag(info);
    const sizeOrType = this.u32(at + 8);
    const name = this.string(this.u32(at), id);
    const records = at + BTF_TYPE_SIZE;
    const noFlag = (): void => {
      if (kindFlag) this.#fail(`${BTF_KIND_NAMES[kind]} '${name}' has kind_flag set`, id);
    };
    switch (kind) {
      case BTF_KIND_INT: {
        noFlag();
        const data = this.u32(records);
        const encoding = btfIntEncoding(data);
        const bitOffset = btfIntOffset(data);
        const bits = btfIntBits(data);
        if (sizeOrType === 0 || sizeOrType > 16 || (sizeOrType & (sizeOrType - 1)) !== 0) this.#fail(`INT '${name}' has size ${sizeOrType}`, id);
        if (bits === 0 || bits > 128 || bitOffset + bits > sizeOrType * 8) {
          this.#fail(`INT '${name}' has ${bits} bits at bit ${bitOffset} in ${sizeOrType} bytes`, id);
        }
        if ((encoding & ~(BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL)) !== 0 || (data & 0xf0000000) !== 0 || (data & 0xff00) !== 0) {
          this.#fail(`INT '${name}' has an unknown encoding (0x${data.toString(16)})`, id);
        }
        return {
          id, kind: 'INT', name, size: sizeOrType, signed: (encoding & BTF_INT_SIGNED) !== 0, char: (encoding & BTF_INT_CHAR) !== 0,
          bool: (encoding & BTF_INT_BOOL) !== 0, bitOffset, bits,
        };
      }
      case BTF_KIND_PTR:
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG: {
        if (kind !== BTF_KIND_TYPE_TAG) noFlag();
        const refKind = BTF_KIND_NAMES[kind] as 'PTR' | 'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG';
        return { id, kind: refKind, name, type: this.#ref(id, sizeOrType, refKind), kindFlag };
      }
      case BTF_KIND_ARRAY:
        noFlag();
        return {
          id, kind: 'ARRAY', name, type: this.#ref(id, this.u32(records), 'element type'),
          indexType: this.#ref(id, this.u32(records + 4), 'index type'), nelems: this.u32(records + 8),
        };
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        const members: BtfMember[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = records + i * BTF_MEMBER_SIZE;
          const offset = this.u32(m + 8);
          members[i] = {
            name: this.string(this.u32(m), id),
            type: this.#ref(id, this.u32(m + 4), `member ${i}`),
            bitOffset: kindFlag ? btfMemberBitOffset(offset) : offset,
            bitfieldSize: kindFlag ? btfMemberBitfieldSize(offset) : 0,
          };
        }
        return { id, kind: kind === BTF_KIND_STRUCT ? 'STRUCT' : 'UNION', name, size: sizeOrType, kindFlag, members };
      }
      case BTF_KIND_ENUM: {
        if (![1, 2, 4, 8].includes(sizeOrType)) this.#fail(`ENUM '${name}' has size ${sizeOrType}`, id);
        const values: BtfEnumValue[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = records + i * BTF_ENUM_SIZE;
          const raw = this.u32(e + 4);
          values[i] = { name: this.string(this.u32(e), id), value: kindFlag ? raw | 0 : raw };
        }
        return { id, kind: 'ENUM', name, size: sizeOrType, signed: kindFlag, values };
      }
      case BTF_KIND_ENUM64: {
        if (![1, 2, 4, 8].includes(sizeOrType)) this.#fail(`ENUM64 '${name}' has size ${sizeOrType}`, id);
        const values: BtfEnum64Value[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = records + i * BTF_ENUM64_SIZE;
          const raw = (BigInt(this.u32(e + 8)) << 32n) | BigInt(this.u32(e + 4));
          values[i] = { name: this.string(this.u32(e), id), value: kindFlag ? BigInt.asIntN(64, raw) : raw };
        }
        return { id, kind: 'ENUM64', name, size: sizeOrType, signed: kindFlag, values };
      }
      case BTF_KIND_FWD:
        if (sizeOrType !== 0) this.#fail(`FWD '${name}' has size_or_type ${sizeOrType}, not 0`, id);
        return { id, kind: 'FWD', name, union: kindFlag };
      case BTF_KIND_FUNC:
        noFlag();
        if (vlen > 2) this.#fail(`FUNC '${name}' has linkage ${vlen}`, id);
        return { id, kind: 'FUNC', name, type: this.#ref(id, sizeOrType, 'FUNC'), linkage: vlen };
      case BTF_KIND_FUNC_PROTO: {
        noFlag();
        const params: BtfParam[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const p = records + i * BTF_PARAM_SIZE;
          params[i] = { name: this.string(this.u32(p), id), type: this.#ref(id, this.u32(p + 4), `parameter ${i}`) };
        }
        return { id, kind: 'FUNC_PROTO', name, returnType: this.#ref(id, sizeOrType, 'return type'), params };
      }
      case BTF_KIND_VAR: {
        noFlag();
        const linkage = this.u32(records);
        if (linkage > 2) this.#fail(`VAR '${name}' has linkage ${linkage}`, id);
        return { id, kind: 'VAR', name, type: this.#ref(id, sizeOrType, 'VAR'), linkage };
      }
      case BTF_KIND_DATASEC: {
        noFlag();
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = records + i * BTF_VAR_SECINFO_SIZE;
          vars[i] = { type: this.#ref(id, this.u32(v), `variable ${i}`), offset: this.u32(v + 4), size: this.u32(v + 8) };
        }
        return { id, kind: 'DATASEC', name, size: sizeOrType, vars };
      }
      case BTF_KIND_FLOAT:
        noFlag();
        if (![2, 4, 8, 12, 16].includes(sizeOrType)) this.#fail(`FLOAT '${name}' has size ${sizeOrType}`, id);
        return { id, kind: 'FLOAT', name, size: sizeOrType };
      case BTF_KIND_DECL_TAG: {
        const componentIdx = this.#view.getInt32(records, this.littleEndian);
        if (componentIdx < -1) this.#fail(`DECL_TAG '${name}' has component index ${componentIdx}`, id);
        return { id, kind: 'DECL_TAG', name, type: this.#ref(id, sizeOrType, 'DECL_TAG'), componentIdx, kindFlag };
      }
      default:
        // #scanTypes let no other kind through
        return this.#fail(`unknown kind ${kind}`, id);
    }
  }
}

/** Bytes of records after the btf_type of this kind; -1 when the kind has none but vlen says otherwise. */
function recordBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND_INT:
      return vlen === 0 ? BTF_INT_SIZE : -1;
    case BTF_KIND_ARRAY:
      return vlen === 0 ? BTF_ARRAY_SIZE : -1;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      return vlen * BTF_MEMBER_SIZE;
    case BTF_KIND_ENUM:
      return vlen * BTF_ENUM_SIZE;
    case BTF_KIND_ENUM64:
      return vlen * BTF_ENUM64_SIZE;
    case BTF_KIND_FUNC_PROTO:
      return vlen * BTF_PARAM_SIZE;
    case BTF_KIND_DATASEC:
      return vlen * BTF_VAR_SECINFO_SIZE;
    case BTF_KIND_VAR:
      return vlen === 0 ? BTF_VAR_SIZE : -1;
    case BTF_KIND_DECL_TAG:
      return vlen === 0 ? BTF_DECL_TAG_SIZE : -1;
    case BTF_KIND_FUNC:
      // vlen is the linkage
      return 0;
    default:
      return vlen === 0 ? 0 : -1;
  }
}
