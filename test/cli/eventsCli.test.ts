import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fixturePath } from '../support/fixtures.js';
import { CLI, sleep, startNode, waitUntil, type Running } from '../support/processes.js';
import { requireKernel, requireTracefs } from '../support/kernel.js';

/** `load-kern-object events` as a real process: it must stay alive on its pending read, and end on --duration or SIGINT. */
const TRACE_OUTPUT = fixturePath('trace_output_kern.o');

function start(...args: string[]): Running {
  return startNode([CLI, 'events', ...args]);
}

/** Run /bin/true: its execve() is a record of trace_output_kern.o, with its pid first. */
function execTrue(): number {
  return spawnSync('/bin/true').pid!;
}

function pidsOf(jsonLines: string): number[] {
  return jsonLines.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    const record = JSON.parse(l) as { data: string };
    return Buffer.from(record.data, 'hex').readUInt32LE(0);
  });
}

describe('cli: events FILE --map NAME', function () {
  this.timeout(20000);
  before(function () {
    requireKernel(this);
    requireTracefs(this);
  });

  it('--json --duration 1: prints the records as they come, then the count, and exits 0 on its own', async () => {
    const run = start(TRACE_OUTPUT, '--map', 'my_map', '--json', '--duration', '1');
    await waitUntil('the reader to start', () => run.stderr().includes('reading map'), 10_000);
    const pids = [execTrue(), execTrue(), execTrue()];
    await waitUntil('the records of the three execs', () => pids.every((pid) => pidsOf(run.stdout()).includes(pid)), 10_000);
    const started = Date.now();
    expect((await run.exited).code, run.stderr()).to.equal(0);
    expect(Date.now() - started).to.be.below(1500);
    const count = Number(/(\d+) records, 0 lost/.exec(run.stderr())?.[1]);
    expect(count).to.equal(pidsOf(run.stdout()).length);
    const record = JSON.parse(run.stdout().split('\n').find((l) => l.includes(`"size":28`))!) as Record<string, unknown>;
    expect(Object.keys(record)).to.deep.equal(['cpu', 'size', 'data']);
  });

  it('hex by default, held open by its pending read until SIGINT, which ends it with the count', async () => {
    const run = start(TRACE_OUTPUT, '--map', 'my_map');
    try {
      await waitUntil('the reader to start', () => run.stderr().includes('Ctrl-C to stop'), 10_000);
      // no timer, no signal yet: only the pending read keeps it alive
      await sleep(300);
      expect(run.child.exitCode).to.equal(null);
      const pid = execTrue();
      const hexPid = Buffer.from(new Uint32Array([pid]).buffer).toString('hex').replace(/(..)(?!$)/g, '$1 ');
      await waitUntil('the record of the exec', () => run.stdout().includes(`: ${hexPid} `), 10_000);
      expect(run.stdout()).to.match(/^cpu \d+: ([0-9a-f]{2} ){27}[0-9a-f]{2}$/m);
      run.child.kill('SIGINT');
      expect((await run.exited).code, run.stderr()).to.equal(0);
      expect(run.stderr()).to.match(/\n[1-9]\d* records, 0 lost\n$/);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('a map that is not a perf event array or ring buffer: exit 2, naming it', async () => {
    const run = start(fixturePath('events_kern.o'), '--map', 'config');
    expect((await run.exited).code, run.stderr()).to.equal(2);
    expect(run.stderr()).to.match(/map 'config': events reads perf_event_array and ringbuf maps, not array/);
  });
});
