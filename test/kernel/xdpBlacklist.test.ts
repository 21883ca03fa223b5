import { expect } from 'chai';
import { runSample } from '../support/samples.js';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBpfFile } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';
import { bpftoolBytes, bpftoolJson, type BpftoolEntry } from '../support/bpftool.js';

const XDP_DROP = 1;
const XDP_PASS = 2;

function cmdline(pinDir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return runSample('xdp_blacklist_cmdline', '--pin', pinDir, ...args);
}

/** An Ethernet + IPv4 header from `source`, as the XDP program parses it. */
function ipv4Packet(source: number[]): Buffer {
  const ethernet = Buffer.from([...Array(6).fill(0xff), ...Array(6).fill(0x02), 0x08, 0x00]);
  const ip = Buffer.from([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, ...source, 10, 0, 0, 1]);
  return Buffer.concat([ethernet, ip, Buffer.alloc(20)]);
}

describe('sample: the XDP blacklist and its command-line tool, sharing pinned maps', function () {
  this.timeout(30000);
  let root: string | undefined;
  const packetFile = join(tmpdir(), `bpf-load-blacklist-${process.pid}.pkt`);

  before(function () {
    requireKernel(this);
  });

  beforeEach(function () {
    root = freshPinRoot('blacklist');
  });

  afterEach(function () {
    removePinRoot(root);
    rmSync(packetFile, { force: true });
  });

  /** BPF_PROG_TEST_RUN through bpftool: the verdict of the pinned, running program for one packet. */
  function verdictFor(pinDir: string, source: number[]): number {
    writeFileSync(packetFile, ipv4Packet(source));
    return bpftoolJson<{ retval: number }>('prog', 'run', 'pinned', join(pinDir, 'progs/xdp_blacklist'), 'data_in', packetFile).retval;
  }

  it('--add / --del change what the program drops; --list shows the per-CPU drop counts summed; --stats its verdicts', async () => {
    const dir = join(root!, 'xdp_blacklist');
    // what `load-kern-object fixtures/xdp_blacklist_kern.o --pin DIR` does; the pins outlive the object
    (await loadBpfFile(fixturePath('xdp_blacklist_kern.o'), { pinDir: dir })).close();
    expect(verdictFor(dir, [192, 0, 2, 1])).to.equal(XDP_PASS);

    const added = cmdline(dir, '--add', '192.0.2.1');
    expect(added.status, added.stderr).to.equal(0);
    expect(added.stdout).to.contain('192.0.2.1 added');
    // bpftool sees the key in network byte order and one zeroed counter per possible CPU
    const dump = bpftoolJson<BpftoolEntry[]>('map', 'dump', 'pinned', join(dir, 'maps/blacklist'));
    expect(dump).to.have.length(1);
    expect(bpftoolBytes(dump[0]!.key)).to.deep.equal(Buffer.from([192, 0, 2, 1]));
    expect(dump[0]!.values!.map((slot) => bpftoolBytes(slot.value))).to.deep.equal(
      dump[0]!.values!.map(() => Buffer.alloc(8)),
    );

    expect(verdictFor(dir, [192, 0, 2, 1])).to.equal(XDP_DROP);
    expect(verdictFor(dir, [192, 0, 2, 1])).to.equal(XDP_DROP);
    expect(verdictFor(dir, [192, 0, 2, 2])).to.equal(XDP_PASS);
    const again = cmdline(dir, '--add', '192.0.2.1');
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('already in the blacklist');
    const listed = cmdline(dir, '--list');
    expect(listed.status, listed.stderr).to.equal(0);
    expect(listed.stdout.trim()).to.equal('192.0.2.1 2');
    const stats = cmdline(dir, '--stats');
    expect(stats.stdout).to.match(/^XDP_DROP 2$/m).and.to.match(/^XDP_PASS 2$/m);

    const removed = cmdline(dir, '--del', '192.0.2.1');
    expect(removed.status, removed.stderr).to.equal(0);
    expect(verdictFor(dir, [192, 0, 2, 1])).to.equal(XDP_PASS);
    expect(bpftoolJson<BpftoolEntry[]>('map', 'dump', 'pinned', join(dir, 'maps/blacklist'))).to.deep.equal([]);
    const missing = cmdline(dir, '--del', '192.0.2.1');
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.contain('not in the blacklist');
  });

  it('refuses a bad address (exit 2) and says which pin is missing (exit 1)', () => {
    const bad = cmdline(root!, '--add', '192.0.2');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.contain("'192.0.2' is not an IPv4 address");
    const none = cmdline(join(root!, 'nothing'), '--list');
    expect(none.status).to.equal(1);
    expect(none.stderr).to.contain(`cannot open pinned map '${join(root!, 'nothing/maps/blacklist')}'`).and.to.contain('ENOENT');
  });
});
