import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { withSignalsBlocked } from '../../syscall/index.js';

/** This thread's blocked-signal mask as /proc shows it (the main thread is the thread group leader). */
function blockedMask(): string {
  return /^SigBlk:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
}

describe('withSignalsBlocked: the mask BPF_PROG_LOAD runs under', () => {
  it('blocks every signal for the step, nested calls run inside the outer mask, and the old mask comes back, after a throw too', () => {
    const before = blockedMask();
    const seen: string[] = [];
    expect(() =>
      withSignalsBlocked(() => {
        seen.push(blockedMask());
        withSignalsBlocked(() => seen.push(blockedMask()));
        seen.push(blockedMask());
        throw new Error('step failed');
      }),
    ).to.throw('step failed');
    expect(blockedMask()).to.equal(before);
    // SIGINT (bit 1), SIGTERM (bit 14) and SIGPROF (bit 26) among them
    for (const mask of seen) {
      const bits = BigInt(`0x${mask}`);
      for (const signal of [2, 15, 27]) expect((bits >> BigInt(signal - 1)) & 1n, `signal ${signal} in ${mask}`).to.equal(1n);
    }
    expect(new Set(seen).size).to.equal(1);
    expect(withSignalsBlocked(() => 42)).to.equal(42);
    expect(blockedMask()).to.equal(before);
  });
});
