import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { loadBpfFile } from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

/**
 * `.kconfig` and `__ksym` externs resolved in the load: the program reads what the loader put
 * in the `.kconfig` map (the running kernel's version, its config) and the address the
 * untyped ksym got from /proc/kallsyms.
 */

const MODERN = join(repoRoot, 'fixtures', 'modern');
const zero = Buffer.alloc(4);

/** libbpf's LINUX_KERNEL_VERSION: KERNEL_VERSION(major, minor, min(patch, 255)) of uname's release. */
function kernelVersionCode(): number {
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release()) ?? []).slice(1).map((n) => Number(n ?? 0));
  return (major << 16) + (minor << 8) + Math.min(patch, 255);
}

describe('modern objects: externs', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  it('kconfig.bpf.o: the program sees the kernel version, the config and the address of schedule', async () => {
    const obj = await loadBpfFile(join(MODERN, 'kconfig.bpf.o'), { attach: true });
    try {
      const bss = obj.map('kconfig.bss');
      for (let i = 0; i < 3; i++) void process.ppid;
      const seen = bss.lookup(zero)!;
      expect(seen.readUInt32LE(0), 'LINUX_KERNEL_VERSION').to.equal(kernelVersionCode());
      expect(seen.readUInt32LE(8), 'CONFIG_BPF_SYSCALL').to.equal(1);
      expect(seen.readUInt32LE(20), 'CONFIG_NOT_A_REAL_OPTION (weak)').to.equal(0);
      const kallsyms = readFileSync('/proc/kallsyms', 'utf8').split('\n').find((l) => / [Tt] schedule$/.test(l));
      const address = seen.readBigUInt64LE(56);
      expect(address, 'schedule').to.not.equal(0n);
      // kallsyms shows zeros to a reader without CAP_SYSLOG: compare only when it shows addresses
      if (kallsyms && !/^0+ /.test(kallsyms)) expect(address).to.equal(BigInt(`0x${kallsyms.split(' ')[0]}`));
      // the `.kconfig` map is libbpf's: named after the object, frozen with the values
      const kconfig = obj.map('kconfig.kconfig').lookup(zero)!;
      expect(kconfig.length).to.equal(47);
    } finally {
      obj.close();
    }
  });
});
