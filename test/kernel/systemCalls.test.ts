import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { PUBLIC_API } from '../support/processes.js';

/** The calls a load could make that matter here; the rest (futex, mmap of the JS heap) are Node's own. */
const TRACED = 'openat,open,statx,fstat,newfstatat,read,pread64,close,bpf,rt_sigprocmask,ioctl,fcntl,readlink,getppid';

/** libuv picks among these by kernel and libc: for this test they are one call */
const SAME_CALL: Record<string, string> = { statx: 'fstat', newfstatat: 'fstat', pread64: 'read', open: 'openat' };

/**
 * What one loadBpfFileSync() asks of the kernel, read with strace on the
 * thread that loads: between two getppid() markers (process.ppid), after
 * loads enough for V8 to have optimised it all.
 */
function callsOfOneLoad(object: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-load-strace-'));
  try {
    const script = join(dir, 'load.mjs');
    writeFileSync(script, `import { loadBpfFileSync } from ${JSON.stringify(PUBLIC_API)};
      const path = ${JSON.stringify(fixturePath(object))};
      for (let i = 0; i < 200; i++) loadBpfFileSync(path).close();
      process.ppid;
      loadBpfFileSync(path).close();
      process.ppid;`);
    const log = join(dir, 'trace');
    const child = spawnSync('strace', ['-f', '-qq', '-o', log, '-e', `trace=${TRACED}`, process.execPath, script], {
      encoding: 'utf8', timeout: 60_000,
    });
    expect(child.status, child.stderr).to.equal(0);
    const lines = readFileSync(log, 'utf8').split('\n');
    // strace -f starts each line with the thread id, padded to a width: `9549  getppid()`, `12345 bpf(…)`
    const calls = lines.flatMap((l) => {
      const match = /^(\d+)\s+(.*)$/.exec(l);
      return match ? [{ tid: match[1]!, call: match[2]! }] : [];
    });
    const main = calls[0]!.tid;
    const ofMain = calls.filter((c) => c.tid === main).map((c) => c.call);
    const markers = ofMain.flatMap((l, i) => (l.startsWith('getppid(') ? [i] : []));
    expect(markers.length, 'two getppid markers').to.be.at.least(2);
    return ofMain.slice(markers.at(-2)! + 1, markers.at(-1)!).map((l) => {
      // the call and its command, without the arguments that change from run to run
      const bpf = /^bpf\((BPF_\w+)/.exec(l);
      const name = l.slice(0, l.indexOf('('));
      return bpf ? `bpf ${bpf[1]}` : (SAME_CALL[name] ?? name);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('kernel: the system calls of a load are those of a C loader', function () {
  this.timeout(90_000);

  before(function () {
    requireKernel(this);
    requireTool(this, 'strace');
  });

  it('sockex1: the file read, one BPF_MAP_CREATE, one BPF_PROG_LOAD, a close per fd — no signal mask, no info queries', () => {
    expect(callsOfOneLoad('sockex1_kern.o')).to.deep.equal([
      'openat', 'fstat', 'read', 'close',
      'bpf BPF_MAP_CREATE',
      'bpf BPF_PROG_LOAD',
      'close', 'close',
    ]);
  });

  it('tailcall: tail-call slots are one BPF_MAP_UPDATE_ELEM each, after every program', () => {
    expect(callsOfOneLoad('tailcall_kern.o')).to.deep.equal([
      'openat', 'fstat', 'read', 'close',
      'bpf BPF_MAP_CREATE', 'bpf BPF_MAP_CREATE',
      'bpf BPF_PROG_LOAD', 'bpf BPF_PROG_LOAD', 'bpf BPF_PROG_LOAD',
      'bpf BPF_MAP_UPDATE_ELEM', 'bpf BPF_MAP_UPDATE_ELEM',
      'close', 'close', 'close', 'close', 'close',
    ]);
  });
});
