import { expect } from 'chai';
import { join } from 'node:path';
import { copySpec, loadBpfFile, loadObject, readObjectSpec, LoadError } from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

const MODERN = join(repoRoot, 'fixtures', 'modern');

describe('CO-RE in the load', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  it('a relocation that cannot be applied names the program, the instruction, the local type and the access string', async () => {
    const spec = copySpec(await readObjectSpec(join(MODERN, 'core_task.bpf.o')));
    const program = spec.programs['report_task']!;
    const relos = program.btfExt!.coreRelos!;
    expect(relos.length).to.be.greaterThan(0);
    const relo = relos[0]!;
    relo.accessString = '0:9999';
    let error: unknown;
    try {
      loadObject(spec).close();
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(LoadError);
    const failed = error as LoadError;
    expect(failed.code).to.equal('BPF_LOAD_BTF');
    expect(failed.message).to.contain("prog 'report_task'");
    expect(failed.message).to.contain(`insn #${relo.insnOff}`);
    expect(failed.message).to.match(/local type struct \w+ \[\d+\]/);
    expect(failed.message).to.contain("access string '0:9999'");
    // and why, in the message itself (the CLI prints the message, not the cause), without repeating where
    expect(failed.message).to.match(/cannot be applied: step 1 is member 9999 of struct task_struct, which has \d+$/);
  });

  it('a BTF file given as btfPath stands in for the kernel\'s (here: the kernel\'s own, read as a file)', async () => {
    const obj = await loadBpfFile(join(MODERN, 'core_task.bpf.o'), { btfPath: '/sys/kernel/btf/vmlinux' });
    try {
      expect(obj.programs.map((p) => p.name)).to.include('report_task');
    } finally {
      obj.close();
    }
  });

  it('a btfPath that does not exist is refused with a bpf-load error', async () => {
    let error: unknown;
    try {
      (await loadBpfFile(join(MODERN, 'core_task.bpf.o'), { btfPath: '/nonexistent/vmlinux.btf' })).close();
    } catch (e) {
      error = e;
    }
    expect((error as LoadError).code).to.equal('BPF_LOAD_INPUT');
    expect((error as Error).message).to.contain('/nonexistent/vmlinux.btf');
  });
});
