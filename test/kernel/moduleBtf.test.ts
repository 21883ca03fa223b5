import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  forgetKernelBtf, kernelBtf, kernelBtfObjects, listBtfObjects, openModuleBtf, ProgramLoadFds, SYS_KERNEL_BTF, VMLINUX,
} from '../../loader/btf/index.js';
import { loadBpfFile, LoadError } from '../../loader/index.js';
import { btfGetData, btfGetFdById } from '../../syscall/index.js';
import { bpftoolJson } from '../support/bpftool.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { runNodeUnprivileged } from '../support/processes.js';

/**
 * Module BTF as libbpf finds it: the kernel's BTF objects walked by id, the kernel's own
 * (kernel_btf) named vmlinux or after their module, their bytes split over vmlinux. On the real
 * kernel the walk must agree with /sys/kernel/btf and bpftool (here: vmlinux alone, as the
 * kernel is built without modules) and skip the BTF of programs. What needs a module (kfuncs,
 * typed ksyms, attach targets in one) is checked over a fake kernel: test/loader-fake/moduleBtf.test.ts.
 */

describe('module BTF: the kernel\'s BTF objects walked by id', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  it('finds the kernel\'s own BTF objects: those /sys/kernel/btf lists and bpftool calls kernel, with the same bytes', function () {
    requireTool(this, 'bpftool');
    const kernel = kernelBtfObjects();
    const names = kernel.map((o) => o.name);
    expect(names).to.include(VMLINUX);
    expect([...names].sort()).to.deep.equal(readdirSync(SYS_KERNEL_BTF).sort());
    const theirs = bpftoolJson<{ id: number; kernel?: boolean; name?: string }[]>('btf', 'show').filter((b) => b.kernel);
    expect(kernel.map((o) => o.id)).to.include.members(theirs.map((b) => b.id));
    for (const object of kernel) {
      const fd = btfGetFdById(object.id);
      try {
        const bytes = btfGetData(fd.fd);
        expect(bytes.byteLength).to.equal(object.btfSize);
        expect(Buffer.from(bytes).equals(readFileSync(join(SYS_KERNEL_BTF, object.name))), object.name).to.equal(true);
      } finally {
        fd.close();
      }
    }
  });

  it('skips the BTF objects of programs and maps (kernel_btf 0, no name): a loaded object\'s is listed, not taken', async () => {
    const obj = await loadBpfFile(fixturePath('modern/minimal.bpf.o'));
    try {
      const ownBtfId = obj.programs[0]!.info.btf_id;
      expect(ownBtfId).to.be.greaterThan(0);
      const all = listBtfObjects();
      expect(all.find((o) => o.id === ownBtfId)).to.deep.include({ kernelBtf: false, name: '' });
      expect(kernelBtfObjects().map((o) => o.id)).to.not.include(ownBtfId);
    } finally {
      obj.close();
    }
  });

  it("the running kernel's module names come from the walk (none beside vmlinux on a kernel without modules)", () => {
    forgetKernelBtf();
    try {
      const expected = kernelBtfObjects().map((o) => o.name).filter((n) => n !== VMLINUX);
      expect(kernelBtf().moduleNames()).to.deep.equal(expected);
      const modulesBuiltIn = /^# CONFIG_MODULES is not set$/m.test(kernelConfig());
      if (modulesBuiltIn) expect(expected).to.deep.equal([]);
    } finally {
      forgetKernelBtf();
    }
  });

  it('without the privilege to walk BTF objects (no capabilities), module names come from /sys/kernel/btf instead', function () {
    requireTool(this, 'setpriv');
    const script = `import { kernelBtf, kernelBtfObjects } from ${JSON.stringify(join(repoRoot, 'dist', 'loader', 'btf', 'index.js'))};
let walk = 'allowed';
try { kernelBtfObjects(); } catch (error) { walk = error.message; }
console.log(JSON.stringify({ walk, modules: kernelBtf().moduleNames() }));`;
    const run = runNodeUnprivileged('no-capabilities', ['--input-type=module', '-e', script], { cwd: repoRoot });
    expect(run.status, run.stderr).to.equal(0);
    const { walk, modules } = JSON.parse(run.stdout) as { walk: string; modules: string[] };
    expect(walk).to.match(/^BPF_BTF_GET_NEXT_ID .*: EPERM/);
    expect(modules).to.deep.equal(readdirSync(SYS_KERNEL_BTF).filter((n) => n !== VMLINUX).sort());
  });

  it('opening the BTF of a module that has none is a LoadError naming it', () => {
    expect(() => openModuleBtf('no_such_module_here')).to.throw(LoadError, "module 'no_such_module_here': no BTF object of the kernel has this name")
      .with.property('code', 'BPF_LOAD_SYSTEM');
    const fds = new ProgramLoadFds();
    expect(() => fds.moduleBtfFd('no_such_module_here')).to.throw(LoadError);
    fds.close();
  });
});

function kernelConfig(): string {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString();
  } catch {
    return '';
  }
}
