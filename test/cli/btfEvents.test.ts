import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTracefs } from '../support/kernel.js';
import { CLI, startNode, waitUntil } from '../support/processes.js';

/**
 * `load-kern-object events --btf-type NAME` as a real process: each record of
 * typed_values.bpf.o's ring buffer and perf event array decoded as the
 * object's `struct event`, for the getppid() calls of one child whose tgid
 * goes in with --set.
 */

const TYPED = fixturePath('modern/typed_values.bpf.o');
/** 0x1122334455667788: the stamp of every record, past 2**53, so it must come out as exact digits */
const STAMP = '1234605616436508552';

/**
 * A node child that calls getppid() `count` times once it reads a line, then
 * exits; resolved once it has started (whatever its start-up does is over
 * before the program is attached, so its records are exactly these).
 */
async function caller(count: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `process.stdin.once('data', () => { for (let i = 0; i < ${count}; i++) void process.ppid; process.exit(0); }); process.stdout.write('ready\\n');`], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the caller exited (${code}) before it was ready`)));
  });
  return child;
}

describe('cli: events --btf-type', function () {
  this.timeout(30000);
  before(function () {
    requireKernel(this);
    requireTracefs(this);
  });

  for (const map of ['ring', 'perf']) {
    it(`${map}: --json records as the object's struct event, members by name, enums by name, 64-bit integers exact`, async () => {
      const child = await caller(3);
      try {
        const run = startNode([CLI, 'events', TYPED, '--map', map, '--btf-type', 'struct event', '--json', '--set', `target_tgid=${child.pid}`, '--duration', '20']);
        await run.waitFor(/reading map/);
        child.stdin!.write('go\n');
        await waitUntil(() => `three records; stdout: ${run.stdout()} stderr: ${run.stderr()}`, () => run.stdout().split('\n').filter((l) => l.startsWith('{')).length >= 3, 15_000);
        run.child.kill('SIGINT');
        expect((await run.exited).code, run.stderr()).to.equal(0);
        const lines = run.stdout().split('\n').filter((l) => l.startsWith('{'));
        for (const line of lines) expect(line).to.contain(`"stamp":${STAMP}}`);
        const records = lines.map((l) => JSON.parse(l) as { size: number; data: string; value: { pid: number; seq: number; state: string; comm: string } });
        expect(records.map((r) => r.value.seq)).to.deep.equal(records.map((_, i) => i + 1));
        for (const record of records) {
          expect(record.value).to.deep.include({ pid: child.pid, state: 'STATE_DONE' });
          expect(record.value.comm).to.be.a('string').and.not.equal('');
          // a perf record is padded to 8 bytes; the type reads its first 40
          expect(record.size).to.equal(map === 'ring' ? 40 : 44);
          expect(Buffer.from(record.data, 'hex').readUInt32LE(0)).to.equal(child.pid);
        }
        expect(run.stderr()).to.match(/\n3 records, 0 lost\n$/);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  it('text: one record per line as compact JSON; a bare name finds the struct', async () => {
    const child = await caller(1);
    try {
      const run = startNode([CLI, 'events', TYPED, '--map', 'ring', '--btf-type', 'event', '--set', `target_tgid=${child.pid}`, '--duration', '20']);
      await run.waitFor(/reading map/);
      child.stdin!.write('go\n');
      await run.waitFor(/"stamp":/);
      run.child.kill('SIGINT');
      expect((await run.exited).code, run.stderr()).to.equal(0);
      expect(run.stdout()).to.match(new RegExp(`^\\{"pid":${child.pid},"seq":1,"state":"STATE_DONE","comm":"[^"]+","stamp":${STAMP}\\}\\n$`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a type the object lacks, or an object without BTF: exit 2 before anything is loaded, naming what there is', () => {
    const missing = spawnSync(process.execPath, [CLI, 'events', TYPED, '--map', 'ring', '--btf-type', 'struct nope'], { encoding: 'utf8' });
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/--btf-type struct nope: the object's BTF has no such type \(structs and unions: .*struct event.*struct typed_key/);
    expect(missing.stderr).not.to.contain('reading map');
    const noBtf = spawnSync(process.execPath, [CLI, 'events', fixturePath('trace_output_kern.o'), '--map', 'my_map', '--btf-type', 'struct event'], { encoding: 'utf8' });
    expect(noBtf.status).to.equal(2);
    expect(noBtf.stderr).to.contain('--btf-type struct event: the object has no BTF (build it with clang -g)');
    const both = spawnSync(process.execPath, [CLI, 'events', TYPED, '--map', 'ring', '--btf-type', 'event', '--value', 'u32'], { encoding: 'utf8' });
    expect(both.status).to.equal(2);
    expect(both.stderr).to.match(/Arguments btf-type and value are mutually exclusive/);
  });
});
