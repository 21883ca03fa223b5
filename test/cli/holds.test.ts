import { expect } from 'chai';
import { bpftoolLinks, bpftoolRun } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI, sleep, startNode, waitUntil } from '../support/processes.js';

/** Program ids the kernel has a bpf_link for, from bpftool (an independent view). */
function linkedProgramIds(): number[] {
  return bpftoolLinks().map((link) => link.prog_id);
}

function programExists(id: number): boolean {
  try {
    bpftoolRun('prog', 'show', 'id', String(id));
    return true;
  } catch {
    return false;
  }
}

describe('cli: --attach holds until a signal or --duration (real processes)', function () {
  this.timeout(30000);
  before(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`--attach stays attached (2 s later still), and ${signal} detaches everything and exits 0`, async () => {
      const run = startNode([CLI, fixturePath('tracing_kern.o'), '--attach', '--json']);
      try {
        await run.waitFor(/press Ctrl-C to detach and exit/);
        const ids = (JSON.parse(run.stdout()) as { programs: { id: number }[] }).programs.map((p) => p.id);
        expect(ids).to.have.length(2);
        await sleep(2000);
        expect(run.child.exitCode, `stderr: ${run.stderr()}`).to.equal(null);
        expect(linkedProgramIds(), 'both programs attached through links').to.include.members(ids);
        run.child.kill(signal);
        const { code } = await run.exited;
        expect(code, run.stderr()).to.equal(0);
        const linked = linkedProgramIds();
        expect(ids.filter((id) => linked.includes(id)), 'nothing of it attached').to.deep.equal([]);
        expect(ids.filter(programExists), 'nothing of it loaded').to.deep.equal([]);
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  }

  it('--attach --duration 1 exits 0 by itself after about a second, detached', async () => {
    const started = Date.now();
    const run = startNode([CLI, fixturePath('tracing_kern.o'), '--attach', '--duration', '1', '--json']);
    const { code } = await run.exited;
    expect(code, run.stderr()).to.equal(0);
    expect(Date.now() - started).to.be.at.least(1000);
    const ids = (JSON.parse(run.stdout()) as { programs: { id: number }[] }).programs.map((p) => p.id);
    expect(ids.filter(programExists)).to.deep.equal([]);
  });

  it('SIGKILL of a holding process leaves nothing attached: links end with their process', async () => {
    const run = startNode([CLI, fixturePath('tracing_kern.o'), '--attach', '--json']);
    try {
      await run.waitFor(/press Ctrl-C to detach and exit/);
      const ids = (JSON.parse(run.stdout()) as { programs: { id: number }[] }).programs.map((p) => p.id);
      run.child.kill('SIGKILL');
      await run.exited;
      // the kernel frees links and programs after an RCU grace period
      await waitUntil(() => `programs ${ids.filter(programExists).join()} to be freed`, () => !ids.some(programExists));
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
