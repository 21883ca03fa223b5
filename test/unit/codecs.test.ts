import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { array, bytes, codecByName, cstring, i8, i32, i64, struct, u16, u32, u64, u8, type Codec } from '../../loader/maps/codecs.js';
import { parseCpuList, perCpuStride, perCpuValues } from '../../loader/maps/perCpu.js';
import { requireTool } from '../support/kernel.js';
import { LoadError } from '../../loader/errors.js';

function encode<T, In>(codec: Codec<T, In>, value: In): Buffer {
  const out = Buffer.alloc(codec.size, 0xaa); // poison: padding must be overwritten
  codec.encode(value, out, new DataView(out.buffer, out.byteOffset, out.byteLength), 0);
  return out;
}

function decode<T, In>(codec: Codec<T, In>, data: Buffer, offset = 0): T {
  return codec.decode(data, new DataView(data.buffer, data.byteOffset, data.byteLength), offset);
}

const inner = struct({ x: u16, y: u8 });
const packedTriple = struct({ a: u8, b: u32, c: u64 }, { packed: true });
/** [name, codec, value]: the same structs and values as LAYOUT_C */
const LAYOUT_CASES: [string, Codec<any, any>, unknown][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  ['s1', struct({ a: u8, b: u32, c: u16 }), { a: 1, b: 2, c: 3 }],
  ['s2', struct({ proto: u8, port: u16, addr: u32 }), { proto: 6, port: 443, addr: 0x0a000001 }],
  ['s3', struct({ a: u8, b: u64, c: u8 }), { a: 1, b: 0x0102030405060708n, c: 3 }],
  ['s4', struct({ t: u8, i: inner, arr: array(u32, 3), z: u8 }), { t: 1, i: { x: 2, y: 3 }, arr: [4, 5, 6], z: 7 }],
  ['p1', packedTriple, { a: 1, b: 2, c: 3n }],
  ['s5', struct({ a: u8, p: packedTriple, z: u16 }), { a: 1, p: { a: 2, b: 3, c: 4n }, z: 5 }],
  ['s6', struct({ a: array(u8, 3), b: array(u16, 2), c: i64, d: i8 }), { a: [1, 2, 3], b: [4, 5], c: -6n, d: -7 }],
  ['s7', struct({ arr: array(inner, 3), q: u8 }), { arr: [{ x: 1, y: 2 }, { x: 3, y: 4 }, { x: 5, y: 6 }], q: 7 }],
  ['s8', struct({ name: cstring(5), v: u32, tail: bytes(3) }), { name: 'eth0', v: 9, tail: Buffer.from([1, 2, 3]) }],
];
const LAYOUT_C = `#include <stdint.h>
#include <stdio.h>
#include <string.h>
struct in { uint16_t x; uint8_t y; };
struct __attribute__((packed)) p1 { uint8_t a; uint32_t b; uint64_t c; };
struct s1 { uint8_t a; uint32_t b; uint16_t c; };
struct s2 { uint8_t proto; uint16_t port; uint32_t addr; };
struct s3 { uint8_t a; uint64_t b; uint8_t c; };
struct s4 { uint8_t t; struct in i; uint32_t arr[3]; uint8_t z; };
struct s5 { uint8_t a; struct p1 p; uint16_t z; };
struct s6 { uint8_t a[3]; uint16_t b[2]; int64_t c; int8_t d; };
struct s7 { struct in arr[3]; uint8_t q; };
struct s8 { char name[5]; uint32_t v; uint8_t tail[3]; };
static void show(const char *name, const void *p, size_t n) {
  printf("%s %zu ", name, n);
  for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *)p)[i]);
  printf("\\n");
}
#define SHOW(T, ...) do { struct T v; memset(&v, 0, sizeof v); { __VA_ARGS__ } show(#T, &v, sizeof v); } while (0)
int main(void) {
  SHOW(s1, v.a = 1; v.b = 2; v.c = 3;);
  SHOW(s2, v.proto = 6; v.port = 443; v.addr = 0x0a000001;);
  SHOW(s3, v.a = 1; v.b = 0x0102030405060708ull; v.c = 3;);
  SHOW(s4, v.t = 1; v.i.x = 2; v.i.y = 3; v.arr[0] = 4; v.arr[1] = 5; v.arr[2] = 6; v.z = 7;);
  SHOW(p1, v.a = 1; v.b = 2; v.c = 3;);
  SHOW(s5, v.a = 1; v.p.a = 2; v.p.b = 3; v.p.c = 4; v.z = 5;);
  SHOW(s6, v.a[0] = 1; v.a[1] = 2; v.a[2] = 3; v.b[0] = 4; v.b[1] = 5; v.c = -6; v.d = -7;);
  SHOW(s7, for (int k = 0; k < 3; k++) { v.arr[k].x = 2 * k + 1; v.arr[k].y = 2 * k + 2; } v.q = 7;);
  SHOW(s8, strcpy(v.name, "eth0"); v.v = 9; v.tail[0] = 1; v.tail[1] = 2; v.tail[2] = 3;);
  return 0;
}
`;

describe('codecs: integers, bytes and C structs', function () {
  it('integers are host order (little-endian here) and range-checked', () => {
    expect(encode(u32, 0x01020304).toString('hex')).to.equal('04030201');
    expect(encode(u16, 0xbeef).toString('hex')).to.equal('efbe');
    expect(encode(i32, -2).toString('hex')).to.equal('feffffff');
    expect(encode(u64, 0x0102030405060708n).toString('hex')).to.equal('0807060504030201');
    expect(decode(u64, Buffer.from('ffffffffffffffff', 'hex'))).to.equal(2n ** 64n - 1n);
    expect(decode(i64, Buffer.from('ffffffffffffffff', 'hex'))).to.equal(-1n);
    expect(() => encode(u8, 256)).to.throw(LoadError, /u8: 256/);
    expect(() => encode(u32, -1)).to.throw(LoadError);
    expect(() => encode(u32, 1.5)).to.throw(LoadError);
    expect(() => encode(u64, 2n ** 64n)).to.throw(LoadError);
    expect(() => encode(u64, 5 as unknown as bigint)).to.throw(LoadError, /u64: expected a bigint, got number 5 \(write 5n/);
    // a wrong type is named as such, not as an integer out of range
    expect(() => encode(u32, '5' as unknown as number)).to.throw(LoadError, /^u32: expected a number, got string '5'$/);
    expect(() => encode(u32, 5n as unknown as number)).to.throw(LoadError, /^u32: expected a number, got bigint 5n \(u32 takes a number; u64 and i64 take bigints\)$/);
  });

  it('struct follows C alignment: fields at multiples of their alignment, size a multiple of the largest', () => {
    // struct { __u8 a; __u32 b; __u16 c; } is 12 bytes: a@0, b@4, c@8, 2 bytes tail padding
    const s = struct({ a: u8, b: u32, c: u16 });
    expect(s.size).to.equal(12);
    expect(s.align).to.equal(4);
    const out = encode(s, { a: 1, b: 0x02030405, c: 0x0607 });
    expect(out.toString('hex')).to.equal('01000000' + '05040302' + '0706' + '0000');
    expect(decode(s, out)).to.deep.equal({ a: 1, b: 0x02030405, c: 0x0607 });
    // a u64 member makes the struct 8-aligned
    expect(struct({ x: u32, y: u64 }).size).to.equal(16);
    expect(struct({ y: u64, x: u32 }).size).to.equal(16);
  });

  it('packed structs have no padding; size pads the tail; nested structs and arrays align by their members', () => {
    const packed = struct({ a: u8, b: u32, c: u16 }, { packed: true });
    expect(packed.size).to.equal(7);
    expect(encode(packed, { a: 1, b: 2, c: 3 }).toString('hex')).to.equal('01020000000300');
    const padded = struct({ a: u32 }, { size: 16 });
    expect(encode(padded, { a: 1 }).toString('hex')).to.equal('01' + '00'.repeat(15));
    expect(() => struct({ a: u64 }, { size: 4 })).to.throw(LoadError, /struct: options\.size must be an integer of at least 8/).with.property('code', 'BPF_LOAD_ARGUMENT');
    const flow = struct({ proto: u8, addrs: array(u32, 2), port: u16 });
    expect(flow.size).to.equal(16);
    expect(encode(flow, { proto: 6, addrs: [1, 2], port: 80 }).toString('hex')).to.equal(
      '06000000' + '01000000' + '02000000' + '5000' + '0000',
    );
    const nested = struct({ tag: u8, inner: struct({ v: u64 }) });
    expect(nested.size).to.equal(16);
  });

  it('a struct refuses a missing field, bytes() refuses the wrong length, cstring pads with NULs', () => {
    const s = struct({ a: u32, b: u32 });
    expect(() => encode(s, { a: 1 } as never)).to.throw(LoadError, /field 'b' is missing/);
    expect(() => encode(bytes(4), Buffer.alloc(3))).to.throw(LoadError, /got 3 bytes/);
    const name = cstring(8);
    expect(encode(name, 'eth0').toString('hex')).to.equal(Buffer.from('eth0\0\0\0\0').toString('hex'));
    expect(decode(name, Buffer.from('eth0\0xyz'))).to.equal('eth0');
    expect(() => encode(name, 'much too long')).to.throw(LoadError);
    // UTF-8, and what does not fit is refused, never stored as other bytes
    expect(encode(cstring(8), '日本').toString('hex')).to.equal('e697a5e69cac0000');
    expect(decode(cstring(8), Buffer.from('e697a5e69cac0000', 'hex'))).to.equal('日本');
    expect(() => encode(cstring(2), '日本')).to.throw(LoadError, /char\[2\]: '日本' is 6 bytes in UTF-8, more than the 2 that fit/);
    expect(() => encode(cstring(8), 'a\0b')).to.throw(LoadError, /contains a NUL/);
    for (const bad of [() => cstring(0), () => bytes(-1), () => array(u32, 1.5), () => array(null as never, 2), () => struct({ a: null as never })]) {
      expect(bad).to.throw(LoadError).with.property('code', 'BPF_LOAD_ARGUMENT');
    }
    expect(decode(bytes(2), Buffer.from([9, 8, 7]), 1)).to.deep.equal(Buffer.from([8, 7]));
  });

  it('struct layouts are the C compiler\'s: the same bytes as cc gives for the same values, padding zeroed', function () {
    // the compiler is the authority on C layout: compile structs with cc, print their bytes, compare
    requireTool(this, 'cc');
    const directory = mkdtempSync(join(tmpdir(), 'bpf-load-layout-'));
    try {
      writeFileSync(join(directory, 'layout.c'), LAYOUT_C);
      const built = spawnSync('cc', ['-o', join(directory, 'layout'), join(directory, 'layout.c')], { encoding: 'utf8' });
      expect(built.status, built.stderr).to.equal(0);
      const fromC = execFileSync(join(directory, 'layout'), { encoding: 'utf8' }).trim().split('\n');
      const fromCodecs = LAYOUT_CASES.map(([name, codec, value]) => `${name} ${codec.size} ${encode(codec, value).toString('hex')}`);
      expect(fromCodecs).to.deep.equal(fromC);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('codecByName knows the CLI names', () => {
    expect(codecByName('u32')).to.equal(u32);
    expect(codecByName('hex', 6)?.size).to.equal(6);
    expect(codecByName('string', 16)?.name).to.equal('char[16]');
    expect(codecByName('float')).to.equal(undefined);
  });
});

describe('per-CPU layout', function () {
  it('parses the kernel cpu list format', () => {
    expect(parseCpuList('0\n')).to.equal(1);
    expect(parseCpuList('0-1\n')).to.equal(2);
    expect(parseCpuList('0,2-5')).to.equal(5);
    expect(parseCpuList('0-3,8-11')).to.equal(8);
    expect(() => parseCpuList('zero')).to.throw(/cannot parse/);
    expect(() => parseCpuList('3-1')).to.throw(/backwards/);
  });

  it('one slot per CPU, each value_size rounded up to 8 bytes, padding zeroed', () => {
    expect(perCpuStride(4)).to.equal(8);
    expect(perCpuStride(12)).to.equal(16);
    expect(perCpuStride(16)).to.equal(16);
    const codec = perCpuValues(u32, 3, perCpuStride(4));
    expect(codec.size).to.equal(24);
    const out = encode(codec, [1, 2, 3]);
    expect(out.toString('hex')).to.equal('0100000000000000' + '0200000000000000' + '0300000000000000');
    expect(decode(codec, out)).to.deep.equal([1, 2, 3]);
    expect(() => encode(codec, [1, 2])).to.throw(LoadError, /one value per possible CPU \(3\), got an array of 2/);
  });
});
