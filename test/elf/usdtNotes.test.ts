import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ElfSymbolTables } from '../../elf/funcOffset.js';
import { USDT_ARG, USDT_SPEC_SIZE, encodeUsdtSpec, parseUsdtArgs, usdtProbes } from '../../elf/usdtNotes.js';
import { requireTool } from '../support/kernel.js';
import { buildUprobeTarget, type UprobeTarget } from '../support/uprobeTarget.js';

/**
 * USDT notes and argument specs, pure: the probes of the test program against readelf -n and
 * its segments, x86-64 argument strings as libbpf's usdt.c reads them, and the spec's bytes as
 * usdt.bpf.h's struct __bpf_usdt_spec lays them out.
 */

describe('elf: USDT probes and their argument specs', function () {
  this.timeout(60000);

  describe('notes', () => {
    let target: UprobeTarget;
    before(function () {
      requireTool(this, 'cc');
      requireTool(this, 'readelf');
      target = buildUprobeTarget();
    });
    after(() => target?.remove());

    it('the test program\'s bpf_load:tick: its file offset, its semaphore\'s, its arguments, as readelf -n and the segments say', () => {
      const notes = execFileSync('readelf', ['-nW', target.path], { encoding: 'utf8' });
      const location = /Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)/.exec(notes)!;
      const args = /Arguments: (.*)/.exec(notes)![1]!.trim();
      const segments = execFileSync('readelf', ['-lW', target.path], { encoding: 'utf8' }).split('\n')
        .map((l) => l.trim().split(/\s+/)).filter((f) => f[0] === 'LOAD')
        .map((f) => ({ offset: parseInt(f[1]!, 16), vaddr: parseInt(f[2]!, 16), memsz: parseInt(f[5]!, 16) }));
      const fileOffset = (address: number): number => {
        const s = segments.find((seg) => address >= seg.vaddr && address < seg.vaddr + seg.memsz)!;
        return address - s.vaddr + s.offset;
      };
      const tables = new ElfSymbolTables(readFileSync(target.path), target.path);
      expect(usdtProbes(tables)).to.deep.equal([{
        provider: 'bpf_load', name: 'tick', offset: fileOffset(parseInt(location[1]!, 16)),
        semaphoreOffset: fileOffset(parseInt(location[3]!, 16)), args,
      }]);
      expect(usdtProbes(tables, 'bpf_load', 'tock')).to.deep.equal([]);
      expect(usdtProbes(tables, 'other', 'tick')).to.deep.equal([]);
    });
  });

  it('x86-64 argument strings: registers (any width), memory at a register plus an offset, constants; signed when the size is negative', () => {
    const result = parseUsdtArgs('-4@%edi 8@-16(%rbp) 2@(%r12) 1@$-5 8@%rip 4@0x10(%rsp) 8@%r9d');
    expect(result).to.deep.equal({
      specs: [
        { type: USDT_ARG.REG, valOff: 0n, regOff: 112, signed: true, bitshift: 32 },
        { type: USDT_ARG.REG_DEREF, valOff: 2n ** 64n - 16n, regOff: 32, signed: false, bitshift: 0 },
        { type: USDT_ARG.REG_DEREF, valOff: 0n, regOff: 24, signed: false, bitshift: 48 },
        { type: USDT_ARG.CONST, valOff: 2n ** 64n - 5n, regOff: 0, signed: false, bitshift: 56 },
        { type: USDT_ARG.REG, valOff: 0n, regOff: 128, signed: false, bitshift: 0 },
        { type: USDT_ARG.REG_DEREF, valOff: 16n, regOff: 152, signed: false, bitshift: 32 },
        { type: USDT_ARG.REG, valOff: 0n, regOff: 64, signed: false, bitshift: 0 },
      ],
    });
    expect(parseUsdtArgs('')).to.deep.equal({ specs: [] });
    expect(parseUsdtArgs('3@%eax')).to.deep.equal({ error: "'3@%eax': size 3 is not 1, 2, 4 or 8 bytes" });
    expect(parseUsdtArgs('4@%xmm0')).to.deep.equal({ error: "'4@%xmm0': unknown register %xmm0" });
    expect('error' in parseUsdtArgs('8@(%rax,%rdx,8)')).to.equal(true);
    expect(parseUsdtArgs('eax')).to.deep.equal({ error: "'eax' is not SIZE@LOCATION" });
    expect(parseUsdtArgs(Array(13).fill('4@%eax').join(' '))).to.deep.equal({ error: "13 arguments, more than usdt.bpf.h's 12" });
  });

  it("a spec's bytes: 12 argument specs of 16 bytes (val_off, arg_type, reg_off, arg_signed, arg_bitshift), the cookie, the count", () => {
    const { specs } = parseUsdtArgs('-4@%edi 8@-16(%rbp)') as { specs: never[] };
    const bytes = Buffer.from(encodeUsdtSpec(specs, 0x1234n, true));
    expect(bytes.length).to.equal(USDT_SPEC_SIZE);
    expect([bytes.readBigUInt64LE(0), bytes.readUInt32LE(8), bytes.readInt16LE(12), bytes[14], bytes.readInt8(15)]).to.deep.equal([0n, 1, 112, 1, 32]);
    expect([bytes.readBigUInt64LE(16), bytes.readUInt32LE(24), bytes.readInt16LE(28), bytes[30], bytes.readInt8(31)]).to.deep.equal([2n ** 64n - 16n, 2, 32, 0, 0]);
    expect(bytes.subarray(32, 192).every((b) => b === 0)).to.equal(true);
    expect([bytes.readBigUInt64LE(192), bytes.readInt16LE(200)]).to.deep.equal([0x1234n, 2]);
    const big = Buffer.from(encodeUsdtSpec(specs, 0x1234n, false));
    expect([big.readInt16BE(12), big.readBigUInt64BE(192), big.readInt16BE(200)]).to.deep.equal([112, 0x1234n, 2]);
  });
});
