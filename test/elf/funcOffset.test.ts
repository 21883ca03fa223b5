import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfError } from '../../elf/errors.js';
import { ElfSymbolTables, findFunctionOffset, findFunctionsMatching, globMatch } from '../../elf/funcOffset.js';
import { requireFeature, requireTool } from '../support/kernel.js';
import { buildUprobeTarget, type UprobeTarget } from '../support/uprobeTarget.js';

/**
 * Where a function starts in its file, as a uprobe needs it: checked against binutils, which
 * gives the symbol's address (nm) and the segments that load the file (readelf -l), from which
 * the offset follows independently of the section the lookup goes through.
 */

/** The file offset of `address` by the PT_LOAD segment that holds it, as readelf -lW lists them. */
function offsetBySegments(path: string, address: number): number {
  const text = execFileSync('readelf', ['-lW', path], { encoding: 'utf8' });
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== 'LOAD') continue;
    const [offset, vaddr, , filesz] = fields.slice(1, 5).map((f) => parseInt(f, 16));
    if (address >= vaddr! && address < vaddr! + filesz!) return address - vaddr! + offset!;
  }
  throw new Error(`no PT_LOAD of ${path} holds 0x${address.toString(16)}`);
}

/** nm's address of a defined function (`nm -D` for the dynamic table). */
function nmAddress(path: string, name: string, dynamic = false): number {
  const text = execFileSync('nm', [...(dynamic ? ['-D'] : []), '--defined-only', path], { encoding: 'utf8' });
  const line = text.split('\n').find((l) => l.split(' ')[2] === name);
  if (!line) throw new Error(`nm finds no ${name} in ${path}`);
  return parseInt(line.split(' ')[0]!, 16);
}

describe('elf: function file offsets for uprobes', function () {
  this.timeout(60000);
  let target: UprobeTarget;

  before(function () {
    requireTool(this, 'cc');
    requireTool(this, 'nm');
    requireTool(this, 'readelf');
    target = buildUprobeTarget();
  });

  after(() => target?.remove());

  it('a non-PIE executable: .symtab functions, their address turned into the file offset', () => {
    const tables = new ElfSymbolTables(readFileSync(target.path), target.path);
    expect(tables.shared).to.equal(false);
    for (const name of ['target_add', 'target_mul', 'main']) {
      const address = nmAddress(target.path, name);
      const found = findFunctionOffset(tables, name);
      expect(found, name).to.deep.include({ found: true, offset: offsetBySegments(target.path, address), table: '.symtab' });
      // not the address: the executable is linked at 0x400000
      expect(address).to.be.greaterThan(0x400000);
    }
  });

  it('a missing function, an imported one, and a glob of several', () => {
    const tables = new ElfSymbolTables(readFileSync(target.path), target.path);
    expect(findFunctionOffset(tables, 'no_such_function')).to.deep.equal({
      found: false, reason: "no function 'no_such_function' in its symbol tables (.dynsym, .symtab)",
    });
    // printf is the C library's: undefined here
    const printf = findFunctionOffset(tables, 'printf');
    expect(printf.found).to.equal(false);
    expect((printf as { reason: string }).reason).to.match(/only imported here/);
    const matching = findFunctionsMatching(tables, 'target_*').map((f) => f.name).sort();
    expect(matching).to.deep.equal(['target_add', 'target_mul']);
    expect(findFunctionsMatching(tables, 'nothing_*')).to.deep.equal([]);
  });

  it('a shared library: .dynsym, versioned names (the default @@ and an older @ version), GNU indirect functions', function () {
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6', '/usr/lib/libc.so.6'].find(existsSync);
    requireFeature(this, 'the C library at a known path', libc ? undefined : 'no libc.so.6 found');
    const tables = new ElfSymbolTables(readFileSync(libc!), libc!);
    expect(tables.shared).to.equal(true);
    const malloc = findFunctionOffset(tables, 'malloc');
    expect(malloc).to.deep.include({ found: true, table: '.dynsym', offset: offsetBySegments(libc!, nmAddress(libc!, 'malloc@@GLIBC_2.2.5', true)) });
    expect(findFunctionOffset(tables, 'malloc@@GLIBC_2.2.5')).to.deep.equal(malloc);
    // memcpy has two versions; unversioned means the default one, an IFUNC
    const versions = execFileSync('nm', ['-D', '--defined-only', libc!], { encoding: 'utf8' }).split('\n').filter((l) => / memcpy@/.test(l));
    const fallback = versions.find((l) => /memcpy@[^@]/.test(l));
    const preferred = versions.find((l) => /memcpy@@/.test(l));
    if (fallback && preferred) {
      const [fallbackName, preferredName] = [fallback.split(' ')[2]!, preferred.split(' ')[2]!];
      expect(findFunctionOffset(tables, 'memcpy')).to.deep.include({ found: true, offset: offsetBySegments(libc!, parseInt(preferred, 16)) });
      expect(findFunctionOffset(tables, fallbackName)).to.deep.include({ found: true, offset: offsetBySegments(libc!, parseInt(fallback, 16)) });
      expect(findFunctionOffset(tables, preferredName)).to.deep.include({ found: true, offset: offsetBySegments(libc!, parseInt(preferred, 16)) });
    }
  });

  it('a PIE executable with exported functions: found in .dynsym', () => {
    const pie = join(target.dir, 'pie');
    execFileSync('cc', ['-O1', '-fPIE', '-pie', '-rdynamic', '-x', 'c', '-o', pie, '-'], {
      input: '__attribute__((noinline)) int exported(int a) { return a + 1; }\nint main(int c, char **v) { return exported(c); }\n',
    });
    const tables = new ElfSymbolTables(readFileSync(pie), pie);
    expect(tables.shared).to.equal(true);
    expect(findFunctionOffset(tables, 'exported')).to.deep.include({ found: true, table: '.dynsym', offset: offsetBySegments(pie, nmAddress(pie, 'exported', true)) });
  });

  it('one name at two places: ambiguous, unless all but one are weak (the other one wins)', () => {
    const dir = target.dir;
    const sources = {
      'a.c': 'static __attribute__((noinline, used)) int twice(int x) { return x + 1; }\nint call_a(int x) { return twice(x); }\n' +
        'static __attribute__((noinline, used)) int maybe(int x) { return x * 2; }\nint call_maybe(int x) { return maybe(x); }\n',
      'b.c': 'static __attribute__((noinline, used)) int twice(int x) { return x + 2; }\nint call_b(int x) { return twice(x); }\n' +
        '__attribute__((weak, noinline)) int maybe(int x) { return x * 3; }\n',
      'main.c': 'int call_a(int); int call_b(int); int call_maybe(int); int maybe(int);\n' +
        'int main(int c, char **v) { return call_a(c) + call_b(c) + call_maybe(c) + maybe(c); }\n',
    };
    for (const [name, text] of Object.entries(sources)) writeFileSync(join(dir, name), text);
    const binary = join(dir, 'twice');
    execFileSync('cc', ['-O1', '-no-pie', '-o', binary, ...Object.keys(sources).map((n) => join(dir, n))]);
    const tables = new ElfSymbolTables(readFileSync(binary), binary);
    const twice = findFunctionOffset(tables, 'twice');
    expect(twice.found).to.equal(false);
    expect((twice as { reason: string }).reason).to.match(/^'twice' is ambiguous: \.symtab has it at file offsets 0x[0-9a-f]+ and 0x[0-9a-f]+$/);
    // maybe(): a local one in a.c and a weak global one in b.c; the one that is not weak wins
    const local = execFileSync('nm', ['--defined-only', binary], { encoding: 'utf8' }).split('\n').find((l) => / t maybe$/.test(l))!;
    expect(execFileSync('nm', ['--defined-only', binary], { encoding: 'utf8' })).to.match(/ W maybe\n/);
    expect(findFunctionOffset(tables, 'maybe')).to.deep.include({ found: true, offset: offsetBySegments(binary, parseInt(local, 16)) });
  });

  it('refuses what is not a 64-bit ELF file, and a truncated one, with an ElfError naming the file', () => {
    expect(() => new ElfSymbolTables(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80)), '/tmp/script')).to.throw(ElfError, /\/tmp\/script: not an ELF file/);
    const bytes = readFileSync(target.path);
    const elf32 = Buffer.from(bytes);
    elf32[4] = 1;
    expect(() => new ElfSymbolTables(elf32, 'x32')).to.throw(ElfError, /x32: a 32-bit ELF file/);
    expect(() => findFunctionOffset(new ElfSymbolTables(bytes.subarray(0, 4096), 'cut'), 'main')).to.throw(ElfError, /^cut: .*past the end/);
  });

  it('a corrupt binary (random bytes set anywhere in its headers and tables): a result or an ElfError, nothing else', function () {
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6', '/usr/lib/libc.so.6'].find(existsSync);
    const originals = [readFileSync(target.path), ...(libc ? [readFileSync(libc)] : [])];
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const original of originals) {
      // where the tables are: the ELF header, the section headers (at the end) and, through them, anything
      const shoff = Number(original.readBigUInt64LE(40));
      for (let round = 0; round < 300; round++) {
        const bytes = Buffer.from(original);
        for (let k = 0; k < 4; k++) {
          const region = random(3);
          const at = region === 0 ? random(64) : region === 1 ? shoff + random(bytes.length - shoff) : random(bytes.length);
          bytes[at] = random(256);
        }
        try {
          const tables = new ElfSymbolTables(bytes, 'mutant');
          findFunctionOffset(tables, 'malloc');
          findFunctionOffset(tables, 'target_add');
          findFunctionsMatching(tables, 'target_*');
        } catch (error) {
          expect(error, (error as Error).stack).to.be.instanceOf(ElfError);
        }
      }
    }
  });

  it('globMatch: * and ? as libbpf glob_match()', () => {
    const cases: [string, string, boolean][] = [
      ['target_add', 'target_*', true], ['target_add', '*add', true], ['target_add', 't?rget_add', true], ['target_add', 'target_ad', false],
      ['abc', '*', true], ['', '*', true], ['', '?', false], ['aXbXc', 'a*b*c', true], ['abc', 'a*d', false], ['ab', 'ab*', true],
    ];
    for (const [text, pattern, expected] of cases) expect(globMatch(text, pattern), `${text} ~ ${pattern}`).to.equal(expected);
  });
});
