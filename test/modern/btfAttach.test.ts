import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { attachBtfProgram, loadBpfFile, readIterator, LoadError, type Attachment } from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

/**
 * Programs loaded against a kernel BTF id: tp_btf (loaded and attached, it fires), iter (a
 * link, then read as a stream), fentry and lsm (refused here before verification: the error
 * says so).
 */

const MODERN = join(repoRoot, 'fixtures', 'modern');
const zero = Buffer.alloc(4);

describe('BTF attach targets', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  it('tp_btf: loaded with the tracepoint\'s BTF id, attached by section name, it counts getppid() calls', async () => {
    const obj = await loadBpfFile(join(MODERN, 'tp_btf.bpf.o'), { attach: true });
    try {
      expect((obj.attachments as Attachment[]).map((a) => `${a.kind} ${a.target} ${a.via}`)).to.have.members(['tracing sys_enter link', 'tracing sched_process_exec link']);
      const bss = obj.map('tp_btf.bss');
      const before = bss.lookup(zero)!.readBigUInt64LE(0);
      for (let i = 0; i < 5; i++) void process.ppid;
      const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString();
      const value = bss.lookup(zero)!;
      expect(value.readBigUInt64LE(0) - before >= 5n, `getppid_calls went from ${before} to ${value.readBigUInt64LE(0)}`).to.equal(true);
      // sched_process_exec fired too: the last exec is at least as recent as our child's (other processes exec too)
      expect(value.readUInt32LE(8)).to.be.greaterThan(0);
      expect(Number(child)).to.be.greaterThan(0);
    } finally {
      obj.close();
    }
  });

  it('iter/task: attached with a link and read as a stream, it lists this process', async () => {
    const obj = await loadBpfFile(join(MODERN, 'btf_targets.bpf.o'), { programs: ['dump_task'] });
    try {
      using attachment = attachBtfProgram(obj.program('dump_task'));
      expect(attachment.kind).to.equal('iter');
      const text = (await readIterator(attachment)).toString();
      const lines = text.trim().split('\n');
      expect(lines).to.include(`${process.pid} ${process.pid}`);
      // each run iterates afresh
      expect((await readIterator(attachment)).toString()).to.contain(`${process.pid} ${process.pid}`);
    } finally {
      obj.close();
    }
  });

  it('fentry refused before verification: the error names the program type and attach type refused', async () => {
    let error: unknown;
    try {
      (await loadBpfFile(join(MODERN, 'btf_targets.bpf.o'), { programs: ['fentry_unlinkat'] })).close();
    } catch (e) {
      error = e;
    }
    if (error === undefined) return; // a kernel that allows fentry loads it: nothing refused to describe
    expect(error).to.be.instanceOf(LoadError);
    expect((error as LoadError).message).to.contain('the kernel refused tracing programs (trace_fentry) before verification');
  });

  it('a BTF target the kernel lacks is refused before BPF_PROG_LOAD, naming it', async () => {
    const { copySpec, loadObject, readObjectSpec } = await import('../../loader/index.js');
    const spec = copySpec(await readObjectSpec(join(MODERN, 'tp_btf.bpf.o')));
    spec.programs['count_getppid_btf']!.section = 'tp_btf/no_such_tracepoint_here';
    let error: unknown;
    try {
      loadObject(spec, { programs: ['count_getppid_btf'] }).close();
    } catch (e) {
      error = e;
    }
    expect((error as LoadError).code).to.equal('BPF_LOAD_INPUT');
    expect((error as Error).message).to.contain("the kernel has no BTF-enabled tracepoint 'no_such_tracepoint_here' (no TYPEDEF 'btf_trace_no_such_tracepoint_here' in its BTF)");
  });
});
