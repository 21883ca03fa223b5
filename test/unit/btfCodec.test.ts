import { expect } from 'chai';
import { readElf } from '../../elf/elfFile.js';
import { objectBtf, objectDataSections, parseBtf, sizeOf, skipModsAndTypedefs, type Btf } from '../../elf/btf/index.js';
import { btfCodec, btfVariablesCodec, enumName, type BtfValue } from '../../loader/maps/btfCodec.js';
import { btfFormatted, formattedJson } from '../../loader/maps/btfFormat.js';
import { fixtureBytes } from '../support/fixtures.js';
import { KIND, StringTable, btfBytes, info, btfFixtures } from '../btf/builder.js';

function fixtureBtf(name: string): Btf {
  const elf = readElf(fixtureBytes(name), name);
  return objectBtf(elf, name)!;
}

function byName(btf: Btf, kind: string, name: string): number {
  for (const id of btf.ids()) {
    const type = btf.type(id);
    if (type.kind === kind && type.name === name) return id;
  }
  throw new Error(`no ${kind} ${name}`);
}

function encode(btf: Btf, id: number, value: unknown): Buffer {
  const codec = btfCodec(btf, id);
  const bytes = Buffer.alloc(codec.size);
  codec.encode(value, bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
  return bytes;
}

function decode(btf: Btf, id: number, bytes: Buffer): BtfValue {
  return btfCodec(btf, id).decode(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
}

/** Deterministic bytes, different for every type and position. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const INT_SIGNED = 1;
const INT_BOOL = 4;

/** Hand-made BTF with what clang's fixtures lack: bitfields, unions, enums, floats, bool, 128-bit ints, pointers. */
function handMade(): Btf {
  const s = new StringTable();
  return parseBtf(btfBytes([
    /* 1 */ s.add('int'), info(KIND.INT), 4, (INT_SIGNED << 24) | 32,
    /* 2 */ s.add('unsigned int'), info(KIND.INT), 4, 32,
    /* 3 */ s.add('_Bool'), info(KIND.INT), 1, (INT_BOOL << 24) | 8,
    /* 4 */ s.add('char'), info(KIND.INT), 1, (INT_SIGNED << 24) | 8,
    /* 5 */ s.add('long long'), info(KIND.INT), 8, (INT_SIGNED << 24) | 64,
    /* 6 */ s.add('__int128 unsigned'), info(KIND.INT), 16, 128,
    /* 7 */ s.add('double'), info(KIND.FLOAT), 8,
    /* 8 */ s.add('color'), info(KIND.ENUM, 2), 4, s.add('RED'), 0, s.add('BLUE'), 7,
    /* 9 */ 0, info(KIND.PTR), 1,
    /* 10 */ 0, info(KIND.ARRAY), 0, 4, 2, 6,
    // struct bits { unsigned a:3; int b:5; _Bool c:1; unsigned :0; long long d; }: kind_flag set, bitfield sizes in offsets
    /* 11 */ s.add('bits'), info(KIND.STRUCT, 4, true), 16,
    s.add('a'), 2, (3 << 24) | 0,
    s.add('b'), 1, (5 << 24) | 3,
    s.add('c'), 3, (1 << 24) | 8,
    s.add('d'), 5, 64,
    // union u { unsigned int word; char bytes[4]... as u8 array; }
    /* 12 */ s.add('u8'), info(KIND.INT), 1, 8,
    /* 13 */ 0, info(KIND.ARRAY), 0, 12, 2, 4,
    /* 14 */ s.add('u'), info(KIND.UNION, 2), 4, s.add('word'), 2, 0, s.add('raw'), 13, 0,
    // struct all { char name[6]; enum color c; double f; void *p; __int128 w; union u u; struct { int x; }; }
    /* 15 */ 0, info(KIND.STRUCT, 1), 4, s.add('x'), 1, 0,
    /* 16 */ s.add('all'), info(KIND.STRUCT, 7), 64,
    s.add('name'), 10, 0,
    s.add('c'), 8, 64,
    s.add('f'), 7, 128,
    s.add('p'), 9, 192,
    s.add('w'), 6, 256,
    s.add('u'), 14, 384,
    0, 15, 416,
    /* 17 */ s.add('flag'), info(KIND.TYPEDEF), 3,
    /* 18 */ 0, info(KIND.CONST), 17,
    /* 19 */ s.add('enum64'), info(KIND.ENUM64, 1), 8, s.add('BIG'), 0, 1,
  ], s.bytes()));
}

describe('BTF codecs: keys, values and variables decoded by their BTF types', () => {
  const btf = handMade();

  it('ints by size and sign, bool through typedef and const, 128-bit as bigint', () => {
    expect(btfCodec(btf, 1).name).to.equal('int');
    expect(decode(btf, 1, Buffer.from([0xff, 0xff, 0xff, 0xff]))).to.equal(-1);
    expect(decode(btf, 2, Buffer.from([0xff, 0xff, 0xff, 0xff]))).to.equal(0xffffffff);
    expect(decode(btf, 18, Buffer.from([1]))).to.equal(true);
    expect(encode(btf, 18, false)).to.deep.equal(Buffer.from([0]));
    expect(decode(btf, 5, encode(btf, 5, -2n))).to.equal(-2n);
    const wide = (1n << 127n) | 5n;
    expect(decode(btf, 6, encode(btf, 6, wide))).to.equal(wide);
    expect(() => encode(btf, 5, 3)).to.throw(/takes bigints/).with.property('code', 'BPF_LOAD_MAP_ENCODE');
    expect(() => encode(btf, 2, -1)).to.throw(/\[0, 4294967295\]/);
  });

  it('bitfields read and written in place, neighbours kept, padding zeroed', () => {
    const value = { a: 5, b: -3, c: true, d: 1n << 40n };
    const bytes = encode(btf, 11, value);
    // a=5 in bits 0-2, b=-3 (0b11101) in bits 3-7, c in bit 8
    expect(bytes[0]).to.equal(5 | (0b11101 << 3));
    expect(bytes[1]).to.equal(1);
    expect(decode(btf, 11, bytes)).to.deep.equal(value);
    expect(() => encode(btf, 11, { ...value, a: 8 })).to.throw(/does not fit in \[0, 7\]/);
    // bpftool prints bitfields unsigned, as hex strings
    expect(btfFormatted(btf, 11, bytes)).to.deep.equal({ a: '0x5', b: '0x1d', c: '0x1', d: 2 ** 40 });
  });

  it('char arrays as strings, other arrays as arrays, enums, floats, pointers, unions and anonymous members', () => {
    const value = { name: 'hi', c: 7, f: 1.5, p: 0xffff0000n, w: 3n, u: { word: 0x04030201, raw: [1, 2, 3, 4] }, x: -9 };
    const bytes = encode(btf, 16, value);
    expect(bytes.subarray(0, 6)).to.deep.equal(Buffer.from('hi\0\0\0\0'));
    expect(decode(btf, 16, bytes)).to.deep.equal(value);
    expect(decode(btf, 16, encode(btf, 16, { ...value, c: 'BLUE' }))).to.deep.equal(value);
    expect(enumName(btf, 8, 7)).to.equal('BLUE');
    expect(enumName(btf, 19, 1n << 32n)).to.equal('BIG');
    expect(() => encode(btf, 16, { ...value, c: 'GREEN' })).to.throw(/no enumerator 'GREEN' \(it has RED, BLUE\)/);
    expect(() => encode(btf, 16, { ...value, extra: 1 })).to.throw(/has no member 'extra'/);
    expect(() => encode(btf, 16, { ...value, name: 'too long' })).to.throw(/more than the 6/);
    // a union takes any one member
    expect(decode(btf, 14, encode(btf, 14, { raw: [1, 0, 0, 0] }))).to.deep.equal({ word: 1, raw: [1, 0, 0, 0] });
    expect(() => encode(btf, 14, {})).to.throw(/give one of its members \(word, raw\)/);
    const formatted = btfFormatted(btf, 16, bytes);
    expect(formatted).to.deep.include({ name: 'hi', c: 'BLUE', f: 1.5, p: 0xffff0000, w: '0x3' });
    expect(formatted).to.have.property('').that.deep.equals({ x: -9 });
  });

  it('types without a value are refused with BPF_LOAD_BTF', () => {
    expect(() => btfCodec(btf, 0)).to.throw(/VOID/).with.property('code', 'BPF_LOAD_BTF');
  });

  it('formattedJson writes 64-bit integers as JSON numbers, as bpftool does', () => {
    expect(formattedJson({ a: 18446744073709551615n, b: [1n, 'x'] })).to.equal('{"a":18446744073709551615,"b":[1,"x"]}');
  });

  for (const fixture of btfFixtures()) {
    it(`${fixture}: every sized type round-trips (decode, encode, decode) and plain structs byte for byte`, () => {
      const fbtf = fixtureBtf(fixture);
      let checked = 0;
      for (const id of fbtf.ids()) {
        const type = fbtf.type(id);
        if (!['INT', 'STRUCT', 'UNION', 'ARRAY', 'ENUM', 'ENUM64', 'TYPEDEF', 'PTR', 'FLOAT'].includes(type.kind)) continue;
        const resolved = fbtf.type(skipModsAndTypedefs(fbtf, id));
        if (resolved.kind === 'VOID' || resolved.kind === 'FWD' || resolved.kind === 'FUNC_PROTO') continue;
        if (type.kind === 'PTR' && fbtf.type(type.type).kind === 'FUNC_PROTO') continue;
        // map definitions of `.maps`: pointers to arrays, decodable like any struct
        const codec = btfCodec(fbtf, id);
        expect(codec.size, `[${id}]`).to.equal(sizeOf(fbtf, id));
        const bytes = pattern(codec.size, id);
        const view = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
        let first: BtfValue;
        try {
          first = codec.decode(bytes, view(bytes), 0);
        } catch (error) {
          throw new Error(`[${id}] ${codec.name}: ${(error as Error).message}`);
        }
        const again = Buffer.alloc(codec.size);
        let encodable = true;
        try {
          codec.encode(first, again, view(again), 0);
        } catch (error) {
          // pattern bytes in a char array are not always text: the string codec refuses them whole
          if (!/char\[|contains a NUL/.test((error as Error).message)) throw error;
          encodable = false;
        }
        if (encodable) expect(codec.decode(again, view(again), 0), `[${id}] ${codec.name}`).to.deep.equal(first);
        checked++;
      }
      expect(checked).to.be.greaterThan(0);
    });
  }

  it('globals.bpf.o: the variables of each data section by name at their offsets', () => {
    const name = 'modern/globals.bpf.o';
    const elf = readElf(fixtureBytes(name), name);
    const gbtf = objectBtf(elf, name)!;
    const sections = objectDataSections(elf, gbtf);
    const rodata = sections.find((s) => s.name === '.rodata')!;
    const size = elf.sections.find((s) => s.name === '.rodata')!.size;
    const codec = btfVariablesCodec(gbtf, '.rodata', rodata.variables, size);
    const bytes = Buffer.from(elf.sections.find((s) => s.name === '.rodata')!.data);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(codec.decode(bytes, view, 0)).to.deep.equal({ target_tgid: 0, step: 1n, greeting: 'hello', enabled: true });
    codec.encode({ target_tgid: 42, greeting: 'bye' }, bytes, view, 0);
    expect(codec.decode(bytes, view, 0)).to.deep.equal({ target_tgid: 42, step: 1n, greeting: 'bye', enabled: true });
    const bss = sections.find((s) => s.name === '.bss')!;
    const last = bss.variables.find((v) => v.name === 'last')!;
    expect(decode(gbtf, last.typeId, encode(gbtf, last.typeId, { pid: 1, tgid: 2, comm: 'node' }))).to.deep.equal({ pid: 1, tgid: 2, comm: 'node' });
    expect(byName(gbtf, 'STRUCT', 'caller')).to.equal(skipModsAndTypedefs(gbtf, last.typeId));
  });
});
