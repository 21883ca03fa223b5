import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  BpfObject, attachTracepoint, loadBpfFile, openPerfEventReader, openRingBufferReader, u32, type Attachment,
} from '../../loader/index.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTracefs } from '../support/kernel.js';

/**
 * close() racing the shared epoll wait: records flowing or not, a wait
 * pending, just returned or cut short by a signal (EINTR on the waiting
 * thread), one reader or two sharing the wait, close() from a timer or a
 * microtask. Every pending read must settle; a lost wake-up would leave it
 * pending forever (and the process alive).
 */
const BASE = 1_000_000_000;
const ROUNDS = 150;
const SETTLE_MS = 3000;

describe('events: close() racing the wait', function () {
  this.timeout(120_000);
  let object: BpfObject;
  let attachment: Attachment;
  let emitter: ChildProcess;
  let stuckWait = false;

  before(async function () {
    requireKernel(this);
    requireTracefs(this);
    object = await loadBpfFile(fixturePath('events_kern.o'));
    attachment = attachTracepoint(object.program('emit_on_close'), 'syscalls', 'sys_enter_close');
    // a child that sends records as fast as it can, for as long as the test runs
    const script = `const { closeSync } = require('node:fs'); for (let i = 0; ; i = (i + 1) % 1000) { try { closeSync(${BASE} + i); } catch {} }`;
    emitter = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    object.map('config').typed(u32, u32).update(0, emitter.pid!);
  });

  after(() => {
    // a wait nobody can wake keeps Node alive after mocha has reported: end the run instead of hanging it
    if (stuckWait) setTimeout(() => process.exit(1), 5000).unref();
    emitter?.kill('SIGKILL');
    attachment?.close();
    object?.close();
  });

  it(`settles every pending read in ${ROUNDS} rounds of close() at random moments, with signals interrupting the wait`, async () => {
    const config = object.map('config').typed(u32, u32);
    process.on('SIGUSR2', ignore);
    // signals to this process land on any of its threads, the waiting one included
    const signals = setInterval(() => process.kill(process.pid, 'SIGUSR2'), 1);
    const stuck: string[] = [];
    let delivered = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // records to the perf buffer, the ring buffer, both or neither
        config.update(1, round % 4);
        const readers = [openPerfEventReader(object.map('perf_events')), openRingBufferReader(object.map('ring'))];
        if (round % 2) readers.reverse();
        const reading = readers.map(async (reader) => {
          for (;;) {
            const batch = Math.random() < 0.5 ? await reader.readBatch(1 + (round % 300)) : [await reader.read()].filter((r) => r !== undefined);
            if (batch.length === 0) return;
            delivered += batch.length;
          }
        });
        for (const reader of readers) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
          if (Math.random() < 0.3) queueMicrotask(() => reader.close());
          else reader.close();
        }
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          Promise.all(reading).then(() => 'settled'),
          new Promise<string>((resolve) => (timer = setTimeout(() => resolve('stuck'), SETTLE_MS))),
        ]);
        clearTimeout(timer);
        if (outcome !== 'settled') {
          stuck.push(`round ${round}`);
          stuckWait = true;
          break;
        }
      }
    } finally {
      clearInterval(signals);
      process.off('SIGUSR2', ignore);
      config.update(1, 0);
    }
    expect(stuck, 'reads still pending after close()').to.deep.equal([]);
    // the rounds did read records: the race was with real wake-ups, not only with an idle wait
    expect(delivered).to.be.greaterThan(0);
  });
});

function ignore(): void {}
