import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseObject } from '../../loader/index.js';
import { openBpfFdCount, openBpfFds } from '../../syscall/index.js';
import { fixturePath } from './fixtures.js';

/**
 * libbpf (bpftool prog loadall, in the tests that take libbpf as the oracle) pins a modern
 * fixture's LIBBPF_PIN_BY_NAME maps at /sys/fs/bpf/<name> whatever directory it is given:
 * the pins this run made there are removed at its end, so a run leaves bpffs as it found it.
 */
function byNamePins(): string[] {
  const dir = fixturePath('modern');
  return readdirSync(dir).filter((name) => name.endsWith('.bpf.o')).flatMap((name) => {
    try {
      const spec = parseObject(readFileSync(join(dir, name)), { file: name });
      return Object.values(spec.maps).filter((map) => map.pinning === 'byName').map((map) => join('/sys/fs/bpf', map.name));
    } catch {
      // an object bpf-load cannot read yet pins nothing through bpf-load; the tests that load it say why
      return [];
    }
  });
}

let pinsFoundBefore = new Set<string>();


/**
 * Root hooks: every test must leave as many BpfFd objects open as it found.
 * A leak fails the test that caused it, with creation stacks when the run
 * has BPF_LOAD_TRACE_FDS=1.
 */
let before = 0;

export const mochaHooks = {
  beforeAll(): void {
    pinsFoundBefore = new Set(byNamePins().filter((path) => existsSync(path)));
  },
  afterAll(): void {
    for (const path of byNamePins()) if (!pinsFoundBefore.has(path)) rmSync(path, { force: true });
  },
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
