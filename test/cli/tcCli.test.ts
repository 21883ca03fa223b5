import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { receiveMaps } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { CLI, sleep, startNode, waitUntil } from '../support/processes.js';
import { tcxLinks } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { qdiscKinds, tcFilters } from '../support/net.js';
import { requireFeature, requireKernel, requireRoot, requireTool, tcxMissing } from '../support/kernel.js';


interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a real process; `during` runs (and is awaited) while it is still running. */
async function cli(args: string[], during?: (output: { stdout: () => string }) => Promise<void>): Promise<Run> {
  const run = startNode([CLI, ...args]);
  try {
    if (during) await during(run);
  } catch (error) {
    run.child.kill('SIGKILL');
    throw error;
  }
  const { code } = await run.exited;
  return { status: code, stdout: run.stdout(), stderr: run.stderr() };
}

function tcFilterIds(dev: string, direction: 'ingress' | 'egress'): number[] {
  return tcFilters(dev, direction).flatMap((f) => (f.options?.prog ? [f.options.prog.id] : []));
}

function tcxLinkProgIds(): number[] {
  return tcxLinks().map((link) => link.prog_id);
}

describe('cli: tc objects (--convention tc, --tc, --type, --export)', function () {
  this.timeout(30000);
  let dev: string;
  let root: string | undefined;
  before(function () {
    requireKernel(this);
    requireRoot(this);
    requireTool(this, 'tc');
  });
  beforeEach(() => {
    dev = `tcc${process.pid % 1000}${randomInt(10000)}`;
    execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
    root = freshPinRoot('tccli');
  });
  afterEach(() => {
    spawnSync('ip', ['link', 'del', dev]);
    removePinRoot(root);
  });

  it('--tc-mode netlink: both directions attached while it holds (--duration), nothing left after', async () => {
    const result = await cli(
      ['--convention', 'tc', '--bpffs', root!, fixturePath('tc_sections_kern.o'), '--tc', `${dev}:ingress:ingress`,
        '--tc', `${dev}:egress:tc_egress`, '--tc-mode', 'netlink', '--duration', '1'],
      async () => {
        await waitUntil('both filters to show', () => tcFilterIds(dev, 'ingress').length === 1 && tcFilterIds(dev, 'egress').length === 1);
      },
    );
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(new RegExp(`attached: tc_ingress -> tc ${dev} ingress \\(clsact prio \\d+ handle 0x1\\), tc_egress -> tc ${dev} egress`));
    expect(result.stdout).to.include('detaching in 1 s');
    expect(tcFilterIds(dev, 'ingress')).to.deep.equal([]);
    expect(qdiscKinds(dev)).to.not.include('clsact');
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`--tc holds until ${signal}, then removes its filter and the qdisc it made`, async () => {
      const run = startNode([CLI, '--convention', 'tc', '--bpffs', root!, fixturePath('tc_maps_kern.o'),
        '--tc', `${dev}:ingress`, '--tc-mode', 'netlink']);
      try {
        await run.waitFor(/press Ctrl-C to detach and exit/);
        // still there a while later: the hold does not end by itself
        await sleep(300);
        expect(tcFilterIds(dev, 'ingress')).to.have.length(1);
        run.child.kill(signal);
        expect((await run.exited).code, run.stderr()).to.equal(0);
        expect(tcFilterIds(dev, 'ingress')).to.deep.equal([]);
        expect(qdiscKinds(dev)).to.not.include('clsact');
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  }

  it('--tc without a program takes the only one; a TCX link holds while it runs, gone after', async function () {
    requireTool(this, 'bpftool');
    requireFeature(this, 'TCX (Linux >= 6.6)', tcxMissing());
    let progId = 0;
    const result = await cli(
      ['--convention', 'tc', '--bpffs', root!, '--json', fixturePath('tc_maps_kern.o'), '--tc', `${dev}:ingress`, '--duration', '1'],
      async ({ stdout }) => {
        await waitUntil('the JSON to be out', () => stdout().trim().endsWith('}'));
        progId = (JSON.parse(stdout()) as { programs: { id: number }[] }).programs[0]!.id;
        await waitUntil('the link to show', () => tcxLinkProgIds().includes(progId));
      },
    );
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(new RegExp(`attached: cls_count -> tc ${dev} ingress \\(tcx\\)`));
    expect(tcxLinkProgIds()).to.not.include(progId);
  });

  it('--tc on an object with several programs asks which one (exit 2); a bad --tc is a usage error', async () => {
    const ambiguous = await cli(['--convention', 'tc', fixturePath('tc_bytes_kern.o'), '--tc', `${dev}:ingress`]);
    expect(ambiguous.status).to.equal(2);
    expect(ambiguous.stderr).to.match(new RegExp(`--tc ${dev}:ingress: say which program: ${dev}:ingress:PROGRAM \\(programs: count_ingress \\(sec 'ingress'\\), count_egress`));
    const bad = await cli(['--convention', 'tc', fixturePath('tc_bytes_kern.o'), '--tc', `${dev}:inbound`]);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/--tc takes IFNAME:DIRECTION\[:PROGRAM\] with DIRECTION ingress or egress, not '.*:inbound'/);
  });

  it('--type types the free-named sections; a type that is none is a usage error', async () => {
    const act = await cli(['--convention', 'tc', '--json', fixturePath('tc_bytes_kern.o'), '--type', 'act']);
    expect(act.status, act.stderr).to.equal(0);
    expect((JSON.parse(act.stdout) as { programs: { type: string }[] }).programs.map((p) => p.type)).to.deep.equal(['sched_act', 'sched_act']);
    const bogus = await cli(['--convention', 'tc', fixturePath('tc_bytes_kern.o'), '--type', 'bogus']);
    expect(bogus.status).to.equal(2);
    expect(bogus.stderr).to.match(/--type 'bogus' is no program type/);
  });

  it('a load that skipped sections says so in a summary line; naming one with --type loads it', async () => {
    const partial = await cli([fixturePath('free_sections_kern.o')]);
    expect(partial.status, partial.stderr).to.equal(0);
    expect(partial.stdout).to.match(/^skipped 1 executable section\(s\) that are no program here: 'filter' \(load them with --convention tc, or name one: --programs NAME --type TYPE\)$/m);
    // --dry-run says so too, and --json carries the list (the summary line goes to stderr there)
    for (const extra of [['--dry-run'], ['--json'], ['--dry-run', '--json']]) {
      const run = await cli([fixturePath('free_sections_kern.o'), ...extra]);
      expect(run.status, run.stderr).to.equal(0);
      if (extra.includes('--json')) {
        expect((JSON.parse(run.stdout) as { skipped_sections: string[] }).skipped_sections).to.deep.equal(['filter']);
        expect(run.stderr).to.match(/^skipped 1 executable section\(s\)/m);
      } else {
        expect(run.stdout).to.match(/^skipped 1 executable section\(s\) that are no program here: 'filter'/m);
      }
    }
    const named = await cli([fixturePath('free_sections_kern.o'), '--programs', 'filter', '--type', 'socket_filter', '--json']);
    expect(named.status, named.stderr).to.equal(0);
    const programs = (JSON.parse(named.stdout) as { programs: { section: string; type: string }[] }).programs;
    expect(programs.map((p) => [p.section, p.type])).to.deep.equal([['filter', 'socket_filter']]);
    expect((JSON.parse(named.stdout) as { skipped_sections: string[] }).skipped_sections).to.deep.equal([]);
    expect(named.stderr).to.not.include('skipped');
  });

  it('--export sends the maps to a receiver (receiveMaps): the same map ids', async () => {
    const path = join(tmpdir(), `bpf-load-cli-export-${process.pid}-${randomInt(1e9)}.sock`);
    const pending = receiveMaps(path, { timeoutMs: 10000 });
    let taken = false;
    try {
      const result = await cli(['--convention', 'tc', '--bpffs', root!, '--json', fixturePath('tc_sections_kern.o'), '--export', path]);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stderr).to.include(`exported 7 map fd(s) to ${path}`);
      taken = true;
      using received = await pending;
      const ids = (JSON.parse(result.stdout) as { maps: { id: number }[] }).maps.map((m) => m.id);
      expect(received.maps.map((m) => m.map.id)).to.deep.equal(ids);
    } finally {
      // a failure before the receiver was taken: settle it (it times out if nothing came) and close what it got
      if (!taken) (await pending.catch(() => undefined))?.[Symbol.dispose]();
    }
  });
});
