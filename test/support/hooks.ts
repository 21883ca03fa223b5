import { openBpfFdCount, openBpfFds } from '../../syscall/index.js';

/**
 * Root hooks: every test must leave as many BpfFd objects open as it found.
 * A leak fails the test that caused it, with creation stacks when the run
 * has BPF_LOAD_TRACE_FDS=1.
 */
let before = 0;

export const mochaHooks = {
  beforeEach(): void {
    before = openBpfFdCount();
  },
  afterEach(this: Mocha.Context): void {
    const after = openBpfFdCount();
    if (after > before && this.currentTest?.state === 'passed') {
      const stacks = openBpfFds()
        .map(({ fd, stack }) => `  fd ${fd}${stack ? `\n${stack}` : ''}`)
        .join('\n');
      throw new Error(`'${this.currentTest.fullTitle()}' leaked ${after - before} bpf fd(s):\n${stacks}\n(set BPF_LOAD_TRACE_FDS=1 for stacks)`);
    }
  },
};
