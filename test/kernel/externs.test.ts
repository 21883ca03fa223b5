import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { objectBtf } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { kernelBtf, resolveObjectExterns } from '../../loader/btf/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolBytes, bpftoolJson } from '../support/bpftool.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireFeature, requireKernel } from '../support/kernel.js';
import { libbpfOracleMissing, loadWithLibbpf } from '../support/libbpfOracle.js';

/**
 * Externs resolved against this kernel, checked against libbpf 1.x: the .kconfig map libbpf
 * created holds the bytes bpf-load computes, an untyped __ksym is the address libbpf patched in,
 * and kfuncs resolve to the BTF ids libbpf's log names.
 */

function resolve(name: string): ReturnType<typeof resolveObjectExterns> {
  const path = fixturePath(`modern/${name}`);
  const elf = readElf(fixtureBytes(`modern/${name}`), path);
  return resolveObjectExterns(elf.symbols, objectBtf(elf, path), {}, path);
}

/** libbpf's debug lines about externs for an object (`bpftool -d prog loadall`). */
function libbpfExternLog(path: string): string[] {
  const root = freshPinRoot('externs_log');
  try {
    const result = spawnSync('bpftool', ['-d', 'prog', 'loadall', path, join(root, 'progs')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.startsWith('libbpf: extern'));
  } finally {
    removePinRoot(root);
  }
}

describe('externs against the running kernel, with libbpf as the oracle', function () {
  this.timeout(60_000);
  beforeEach(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle', libbpfOracleMissing());
  });

  it('the .kconfig map bytes equal those of the map libbpf made', async () => {
    const ours = resolve('kconfig.bpf.o');
    await using libbpf = await loadWithLibbpf(fixturePath('modern/kconfig.bpf.o'));
    const map = libbpf.map('kconfig.kconfig');
    expect(map.value_size).to.equal(ours.externs.kconfigSize);
    const dump = bpftoolJson<{ value: string[] }[]>('map', 'dump', 'id', String(map.id));
    expect(Buffer.from(ours.kconfig!).toString('hex')).to.equal(bpftoolBytes(dump[0]!.value).toString('hex'));
  });

  it("an untyped __ksym is the address libbpf patched into the program", async () => {
    const ours = resolve('kconfig.bpf.o');
    expect(ours.ksyms).to.have.length(1);
    const schedule = ours.ksyms[0]!;
    expect(schedule).to.include({ name: 'schedule', kind: 'address', resolved: true });
    await using libbpf = await loadWithLibbpf(fixturePath('modern/kconfig.bpf.o'));
    const loads = libbpf.xlated('read_externs').map((i) => i.disasm).filter((d) => /^\(18\) r\d = 0x/.test(d));
    expect(loads).to.deep.equal([`(18) r2 = 0x${(schedule as { address: bigint }).address.toString(16)}`]);
  });

  it('kfuncs resolve to the vmlinux BTF ids libbpf resolves them to', () => {
    const ours = resolve('ksym.bpf.o');
    const log = libbpfExternLog(fixturePath('modern/ksym.bpf.o'));
    const theirs = log.flatMap((line) => {
      const m = /^libbpf: extern \(func ksym\) '(\w+)': resolved to (?:kernel|vmlinux) \[(\d+)\]$/.exec(line);
      return m ? [`${m[1]} vmlinux [${m[2]}]`] : [];
    });
    expect(theirs).to.have.length(2);
    expect(ours.ksyms.map((k) => `${k.name} ${k.kind === 'kfunc' ? `${k.object} [${k.btfId}]` : '?'}`)).to.deep.equal(theirs.sort());
    expect(ours.fdArraySlots.size).to.equal(0);
  });

  it("the running kernel's BTF is read once, and lookups by name are indexed", () => {
    const kernel = kernelBtf();
    expect(kernelBtf()).to.equal(kernel);
    expect(kernel.source).to.equal('/sys/kernel/btf/vmlinux');
    expect(kernel.findOne('task_struct', 'STRUCT')?.object).to.equal('vmlinux');
  });
});
