import { expect } from 'chai';
import { array, bytes, codecByName, cstring, i32, i64, struct, u16, u32, u64, u8, type Codec } from '../../loader/codecs.js';
import { parseCpuList, perCpuStride, perCpuValues } from '../../loader/perCpu.js';

function encode<T, In>(codec: Codec<T, In>, value: In): Buffer {
  const out = Buffer.alloc(codec.size, 0xaa); // poison: padding must be overwritten
  codec.encode(value, out, new DataView(out.buffer, out.byteOffset, out.byteLength), 0);
  return out;
}

function decode<T, In>(codec: Codec<T, In>, data: Buffer, offset = 0): T {
  return codec.decode(data, new DataView(data.buffer, data.byteOffset, data.byteLength), offset);
}

describe('codecs: integers, bytes and C structs', function () {
  it('integers are host order (little-endian here) and range-checked', () => {
    expect(encode(u32, 0x01020304).toString('hex')).to.equal('04030201');
    expect(encode(u16, 0xbeef).toString('hex')).to.equal('efbe');
    expect(encode(i32, -2).toString('hex')).to.equal('feffffff');
    expect(encode(u64, 0x0102030405060708n).toString('hex')).to.equal('0807060504030201');
    expect(decode(u64, Buffer.from('ffffffffffffffff', 'hex'))).to.equal(2n ** 64n - 1n);
    expect(decode(i64, Buffer.from('ffffffffffffffff', 'hex'))).to.equal(-1n);
    expect(() => encode(u8, 256)).to.throw(RangeError, /u8: 256/);
    expect(() => encode(u32, -1)).to.throw(RangeError);
    expect(() => encode(u32, 1.5)).to.throw(RangeError);
    expect(() => encode(u64, 2n ** 64n)).to.throw(RangeError);
    expect(() => encode(u64, 5 as unknown as bigint)).to.throw(RangeError, /not a bigint/);
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
    expect(() => struct({ a: u64 }, { size: 4 })).to.throw(RangeError, /smaller/);
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
    expect(() => encode(s, { a: 1 } as never)).to.throw(TypeError, /field 'b' is missing/);
    expect(() => encode(bytes(4), Buffer.alloc(3))).to.throw(RangeError, /got 3 bytes/);
    const name = cstring(8);
    expect(encode(name, 'eth0').toString('hex')).to.equal(Buffer.from('eth0\0\0\0\0').toString('hex'));
    expect(decode(name, Buffer.from('eth0\0xyz'))).to.equal('eth0');
    expect(() => encode(name, 'much too long')).to.throw(RangeError);
    expect(decode(bytes(2), Buffer.from([9, 8, 7]), 1)).to.deep.equal(Buffer.from([8, 7]));
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
    expect(() => encode(codec, [1, 2])).to.throw(RangeError, /one value per possible CPU \(3\), got an array of 2/);
  });
});
