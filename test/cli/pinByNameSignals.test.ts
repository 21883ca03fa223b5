import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { objGet, objectIdOf } from '../../syscall/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI, sleep, startNode } from '../support/processes.js';

/**
 * libbpf's pin by name under a signal: a load with `--set NAME=VALUE` (a `.rodata` variable
 * edited before the load) and `--pin-root DIR`, whose BTF maps are all LIBBPF_PIN_BY_NAME,
 * interrupted by SIGTERM (and SIGINT) at moments spread over the whole run, leaves in DIR every
 * map's pin or none: first on an empty DIR, then over pins a finished load left (reused, so they
 * must stay the very same maps).
 */

const MAPS = 1500;

/** An object of MAPS array maps pinned by name, and a `const volatile` variable for --set. Needs clang. */
function buildByNameObject(): string {
  const directory = mkdtempSync(join(tmpdir(), 'bpfload-byname-'));
  const maps = Array.from({ length: MAPS }, (_, i) =>
    `struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); ` +
    `__uint(pinning, LIBBPF_PIN_BY_NAME); } m${i} SEC(".maps");`);
  const source = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
${maps.join('\n')}
const volatile __u32 step = 1;
SEC("socket")
int prog(struct __sk_buff *skb)
{
	__u32 key = 0, *a = bpf_map_lookup_elem(&m0, &key), *b = bpf_map_lookup_elem(&m${MAPS - 1}, &key);
	return (a ? *a : 0) + (b ? *b : 0) + step;
}
char _license[] SEC("license") = "GPL";
`;
  const c = join(directory, 'by_name.bpf.c');
  const o = join(directory, 'by_name.bpf.o');
  writeFileSync(c, source);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-idirafter', `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '-c', c, '-o', o]);
  return o;
}

/** map name → id of what is pinned in DIR. */
function pinnedIds(directory: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const name of existsSync(directory) ? readdirSync(directory) : []) {
    const fd = objGet(join(directory, name));
    try {
      ids.set(name, objectIdOf(fd.fd));
    } finally {
      fd.close();
    }
  }
  return ids;
}

/** A deterministic spread of moments over the whole load. */
function moments(count: number, seed: number, spanMs: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * spanMs);
  });
}

describe('cli: a --set --pin-root load (pins by name) interrupted by SIGTERM/SIGINT pins every map or none', function () {
  this.timeout(180000);
  let object: string | undefined;
  let root: string | undefined;

  before(function () {
    requireKernel(this);
    requireTool(this, 'clang');
    object = buildByNameObject();
  });
  beforeEach(() => {
    root = freshPinRoot('byname_sig');
  });
  afterEach(() => removePinRoot(root));
  after(() => {
    if (object) rmSync(join(object, '..'), { recursive: true, force: true });
  });

  async function interrupted(signal: NodeJS.Signals, delay: number): Promise<string> {
    const run = startNode([CLI, object!, '--set', 'step=7', '--pin-root', root!]);
    await sleep(delay);
    run.child.kill(signal);
    const { code, signal: died } = await run.exited;
    const where = `${signal} at ${delay} ms (exit ${code ?? died}); stderr: ${run.stderr()}`;
    // the CLI says what it was doing and exits 128 + signal, or it had finished; before Node ran the CLI, the signal ended it
    if (died === null) expect([0, signal === 'SIGINT' ? 130 : 143], where).to.include(code);
    else expect(died, where).to.equal(signal);
    return where;
  }

  it(`6 signals at moments spread over a fresh load of ${MAPS} by-name maps: 0 partial pin sets`, async () => {
    const outcomes: string[] = [];
    for (const [i, delay] of moments(6, 13, 3000).entries()) {
      removePinRoot(root);
      root = freshPinRoot('byname_sig');
      const where = await interrupted(i % 2 ? 'SIGINT' : 'SIGTERM', delay);
      const pinned = pinnedIds(root);
      expect([0, MAPS], `${where}: ${pinned.size} of ${MAPS} maps pinned`).to.include(pinned.size);
      if (pinned.size === MAPS) expect([...pinned.keys()].sort(), where).to.deep.equal(Array.from({ length: MAPS }, (_, k) => `m${k}`).sort());
      outcomes.push(pinned.size === 0 ? 'none' : 'all');
    }
    expect(outcomes).to.have.length(6);
  });

  it('6 signals over a load that reuses the pins a finished one left: still every pin, the very same maps', async () => {
    const first = startNode([CLI, object!, '--set', 'step=7', '--pin-root', root!]);
    expect((await first.exited).code, first.stderr()).to.equal(0);
    const before = pinnedIds(root!);
    expect(before.size).to.equal(MAPS);
    for (const [i, delay] of moments(6, 41, 3000).entries()) {
      const where = await interrupted(i % 2 ? 'SIGTERM' : 'SIGINT', delay);
      expect(pinnedIds(root!), where).to.deep.equal(before);
    }
  });
});
