import { expect } from 'chai';
import { join } from 'node:path';
import { bpftoolLinks } from '../support/bpftool.js';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { variablesOfMap } from '../support/libbpfOracle.js';
import { CLI, startNode } from '../support/processes.js';
import { TARGET_NAME, buildUprobeTarget, withPath, type UprobeTarget } from '../support/uprobeTarget.js';

/**
 * `load-kern-object OBJ --attach` on uprobes named by section (`uprobe/NAME:FUNCTION`), as a user
 * runs it: the binary found in the PATH it was started with, the probes hold until SIGINT and
 * count the target's calls meanwhile, then nothing is left attached; without the binary in
 * PATH, exit 2 and one line naming the binary and the function.
 */

const UPROBE = join(repoRoot, 'fixtures', 'modern', 'uprobe.bpf.o');
const USDT = join(repoRoot, 'fixtures', 'modern', 'uprobe_usdt.bpf.o');

describe('cli: --attach on uprobes and USDT probes named by section (real processes)', function () {
  this.timeout(30000);
  let target: UprobeTarget;

  before(function () {
    requireKernel(this);
    requireTool(this, 'cc');
    requireTool(this, 'bpftool');
    target = buildUprobeTarget();
  });

  after(() => target?.remove());

  it('attaches uprobe/NAME:FUNCTION with NAME from PATH, counts calls while held, and SIGINT detaches', async () => {
    const run = await withPath(target.dir, () => startNode([CLI, UPROBE, '--attach', '--json']));
    try {
      await run.waitFor(/press Ctrl-C to detach and exit/);
      const printed = JSON.parse(run.stdout()) as { maps: { name: string; id: number }[]; programs: { name: string; id: number }[] };
      expect(run.stderr()).to.include(`on_named_entry -> uprobe ${target.path}:target_add`);
      expect(run.stderr()).to.include(`on_offset -> uprobe ${target.path}:target_mul+0x1`);
      const attachedIds = printed.programs.filter((p) => p.name.startsWith('on_named') || p.name === 'on_offset').map((p) => p.id);
      expect(bpftoolLinks().map((l) => l.prog_id)).to.include.members(attachedIds);
      target.run(7);
      const bss = variablesOfMap(printed.maps.find((m) => m.name === 'uprobe.bss')!.id) as Record<string, number>;
      expect([bss['named_entry_calls'], bss['named_return_calls'], bss['offset_calls'], bss['named_return_value']]).to.deep.equal([7, 7, 7, 1006]);
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code, run.stderr()).to.equal(0);
      const linked = bpftoolLinks().map((l) => l.prog_id);
      expect(attachedIds.filter((id) => linked.includes(id))).to.deep.equal([]);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('attaches usdt/NAME:PROVIDER:PROBE too: the held probe reads the arguments, --duration ends it', async () => {
    const run = await withPath(target.dir, () => startNode([CLI, USDT, '--attach', '--json', '--duration', '3']));
    try {
      await run.waitFor(/detaching in 3 s/);
      expect(run.stderr()).to.include(`on_tick -> usdt ${target.path}:bpf_load:tick`);
      const printed = JSON.parse(run.stdout()) as { maps: { name: string; id: number }[] };
      target.run(3);
      const bss = variablesOfMap(printed.maps.find((m) => m.name === 'uprobe_u.bss')!.id) as Record<string, number>;
      expect([bss['tick_calls'], bss['tick_index'], bss['tick_arg_count']]).to.deep.equal([3, 2, 2]);
      const { code } = await run.exited;
      expect(code, run.stderr()).to.equal(0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('without the binary in PATH: exit 2, one line naming the section, the binary and the function', async () => {
    const run = startNode([CLI, UPROBE, '--attach']);
    const { code } = await run.exited;
    expect(code).to.equal(2);
    const lines = run.stderr().trim().split('\n');
    expect(lines, run.stderr()).to.have.length(1);
    expect(lines[0]).to.match(new RegExp(`sec 'uprobe/${TARGET_NAME}:target_add': prog 'on_named_entry': attach uprobe to ${TARGET_NAME}:target_add: no binary '${TARGET_NAME}' in `));
  });
});
