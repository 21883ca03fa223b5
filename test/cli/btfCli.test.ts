import { expect } from 'chai';
import { EXIT_OK, EXIT_USAGE, main } from '../../loader/cli/main.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';
import { captureIo } from '../support/captureIo.js';

describe('cli: --btf FILE', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  it('a CO-RE object loads with the BTF file given (here the kernel\'s own, read as a file)', async () => {
    const io = captureIo();
    expect(await main([fixturePath('modern/core_task.bpf.o'), '--btf', '/sys/kernel/btf/vmlinux'], io), io.stderr).to.equal(EXIT_OK);
    expect(io.stdout).to.match(/report_task\s+tracepoint/);
  });

  it('a BTF file that cannot be read is an input error naming it (exit 2)', async () => {
    const io = captureIo();
    expect(await main([fixturePath('modern/core_task.bpf.o'), '--btf', '/nonexistent/vmlinux.btf'], io)).to.equal(EXIT_USAGE);
    expect(io.stderr).to.contain('cannot read the BTF file /nonexistent/vmlinux.btf');
  });
});
