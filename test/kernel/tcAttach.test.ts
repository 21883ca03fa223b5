import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { attachTc, isBpfLoadError, loadBpfFile, u32, u64, type Attachment, type BpfObject, type LoadError, type TcOptions } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolJson, tcxLinks } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { qdiscKinds, tcFilters } from '../support/net.js';
import { sleep, waitUntil } from '../support/processes.js';
import { requireFeature, requireKernel, requireRoot, requireTool, tcxMissing } from '../support/kernel.js';
import { uniqueName } from '../support/unique.js';

/**
 * A veth pair of its own: the host side here at 10.A.B.1, the peer in a
 * network namespace of its own at 10.A.B.2, both knowing the other's MAC and
 * without IPv6, so the only IPv4 UDP on it is what a test sends.
 */
interface Veth {
  host: string;
  namespace: string;
  hostAddress: string;
  peerAddress: string;
  remove(): void;
}

function run(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function makeVeth(): Veth {
  const host = uniqueName('tca');
  const peer = `${host}p`;
  const namespace = uniqueName('bpf-load-tc');
  const [a, b] = [100 + randomInt(100), randomInt(250)];
  const veth: Veth = {
    host, namespace, hostAddress: `10.${a}.${b}.1`, peerAddress: `10.${a}.${b}.2`,
    remove: () => {
      spawnSync('ip', ['netns', 'del', namespace]);
      spawnSync('ip', ['link', 'del', host]);
    },
  };
  try {
    run('ip', 'netns', 'add', namespace);
    run('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', namespace);
    run('sysctl', '-qw', `net.ipv6.conf.${host}.disable_ipv6=1`);
    run('ip', 'netns', 'exec', namespace, 'sysctl', '-qw', `net.ipv6.conf.${peer}.disable_ipv6=1`);
    run('ip', 'addr', 'add', `${veth.hostAddress}/24`, 'dev', host);
    run('ip', '-n', namespace, 'addr', 'add', `${veth.peerAddress}/24`, 'dev', peer);
    run('ip', 'link', 'set', host, 'up');
    run('ip', '-n', namespace, 'link', 'set', peer, 'up');
    const mac = (dev: string, ns?: string) =>
      (JSON.parse(ns ? run('ip', '-n', ns, '-j', 'link', 'show', dev) : run('ip', '-j', 'link', 'show', dev)) as { address: string }[])[0]!.address;
    run('ip', '-n', namespace, 'neigh', 'add', veth.hostAddress, 'lladdr', mac(host), 'dev', peer, 'nud', 'permanent');
    run('ip', 'neigh', 'add', veth.peerAddress, 'lladdr', mac(peer, namespace), 'dev', host, 'nud', 'permanent');
  } catch (error) {
    veth.remove();
    throw error;
  }
  return veth;
}

/** `count` UDP datagrams: from the namespace to the host side (its ingress), or from here to the peer (its egress). */
function sendUdp(veth: Veth, direction: 'ingress' | 'egress', count: number): void {
  const to = direction === 'ingress' ? veth.hostAddress : veth.peerAddress;
  const script = Array.from({ length: count }, () => `echo x > /dev/udp/${to}/9`).join('; ');
  if (direction === 'ingress') run('ip', 'netns', 'exec', veth.namespace, 'bash', '-c', script);
  else run('bash', '-c', script);
}

const UDP = 17;

/** tc_sections_kern's counters: packets per direction and protocol, tail calls taken, and the map-in-map's count. */
function counters(object: BpfObject): { udpIn: bigint; udpOut: bigint; allIn: bigint; allOut: bigint; tailIn: bigint; tailOut: bigint; inner: bigint } {
  const packets = object.map('tc_proto_packets', { key: u32, value: u64 });
  const hits = object.map('tc_tail_hits', { key: u32, value: u64 });
  let allIn = 0n;
  let allOut = 0n;
  for (const [key, value] of packets.entries()) {
    if (key < 256) allIn += value;
    else allOut += value;
  }
  const inner = object.map('tc_inner', { key: u32, value: u64 });
  return {
    udpIn: packets.lookup(UDP) ?? 0n, udpOut: packets.lookup(256 + UDP) ?? 0n, allIn, allOut,
    tailIn: hits.lookup(0) ?? 0n, tailOut: hits.lookup(1) ?? 0n, inner: inner.lookup(0) ?? 0n,
  };
}

/** Packets go through softirq: wait until the expected count shows, for a second at most. */
async function settle(read: () => bigint, expected: bigint): Promise<void> {
  await waitUntil(() => `${expected} packets counted (${read()} so far)`, () => read() >= expected, 1000);
}


function netTcEntries(dev: string): { kind: string; id: number }[] {
  return bpftoolJson<{ tc: { kind: string; id: number }[] }[]>('net', 'show', 'dev', dev)[0]!.tc;
}

describe('kernel: attachTc', function () {
  this.timeout(30000);
  let veth: Veth | undefined;
  let root: string | undefined;
  let object: BpfObject | undefined;
  const attachments: Attachment[] = [];
  before(function () {
    requireKernel(this);
    requireRoot(this);
    requireTool(this, 'tc');
    requireTool(this, 'bpftool');
  });
  beforeEach(async function () {
    veth = makeVeth();
    root = freshPinRoot('tcattach');
    object = await loadBpfFile(fixturePath('tc_sections_kern.o'), { convention: 'tc', bpffs: root });
  });
  afterEach(() => {
    for (const attachment of attachments.splice(0)) attachment.close();
    object?.close();
    veth?.remove();
    removePinRoot(root);
  });

  for (const via of ['link', 'netlink'] as const) {
    it(`via ${via}: ingress and egress counts are exact, the tail calls run for every packet, and detaching leaves nothing`, async function () {
      if (via === 'link') requireFeature(this, 'TCX (Linux >= 6.6)', tcxMissing());
      const ingress = attachTc(object!.program('ingress'), veth!.host, 'ingress', { via });
      const egress = attachTc(object!.program('egress'), veth!.host, 'egress', { via });
      attachments.push(ingress, egress);
      expect(ingress.kind).to.equal('tc');
      const ids = [object!.program('ingress').id, object!.program('egress').id];
      if (via === 'link') {
        expect(tcxLinks().map((l) => l.prog_id).filter((id) => ids.includes(id)).sort()).to.deep.equal([...ids].sort());
      } else {
        expect(netTcEntries(veth!.host).map((e) => [e.kind, e.id])).to.deep.equal([['clsact/ingress', ids[0]], ['clsact/egress', ids[1]]]);
        const [filter] = tcFilters(veth!.host, 'ingress').filter((f) => f.options);
        expect(filter?.options?.prog?.id).to.equal(ids[0]);
        expect(filter?.options?.['direct-action']).to.equal(true);
        expect(filter?.options?.bpf_name).to.equal('tc_sections_kern.o:[ingress]');
      }

      sendUdp(veth!, 'ingress', 5);
      sendUdp(veth!, 'egress', 3);
      await settle(() => counters(object!).udpIn + counters(object!).udpOut, 8n);
      await sleep(100);
      const seen = counters(object!);
      expect([seen.udpIn, seen.udpOut]).to.deep.equal([5n, 3n]);
      // every packet took its tail call (and the map-in-map path): counts of all protocols match
      expect(seen.tailIn).to.equal(seen.allIn);
      expect(seen.tailOut).to.equal(seen.allOut);
      expect(seen.inner).to.equal(seen.allIn);

      ingress.close();
      egress.close();
      expect(ingress.closed).to.equal(true);
      expect(tcxLinks().filter((l) => ids.includes(l.prog_id))).to.deep.equal([]);
      expect(netTcEntries(veth!.host)).to.deep.equal([]);
      expect(tcFilters(veth!.host, 'ingress')).to.deep.equal([]);
      expect(qdiscKinds(veth!.host)).to.not.include('clsact');
      // detached means no more counting
      sendUdp(veth!, 'ingress', 2);
      await sleep(100);
      expect(counters(object!).udpIn).to.equal(5n);
    });
  }

  it('netlink: a clsact qdisc that was there before, and others\' filters on it, stay', async () => {
    run('tc', 'qdisc', 'add', 'dev', veth!.host, 'clsact');
    const ours = attachTc(object!.program('ingress'), veth!.host, 'ingress', { via: 'netlink', priority: 7, handle: 3 });
    const theirs = attachTc(object!.program('ingress'), veth!.host, 'ingress', { via: 'netlink', priority: 9 });
    attachments.push(theirs);
    expect(ours.target).to.match(/clsact prio 7 handle 0x3/);
    expect(tcFilters(veth!.host, 'ingress').filter((f) => f.options).map((f) => f.pref).sort()).to.deep.equal([7, 9]);
    ours.close();
    expect(tcFilters(veth!.host, 'ingress').filter((f) => f.options).map((f) => f.pref)).to.deep.equal([9]);
    theirs.close();
    expect(qdiscKinds(veth!.host)).to.include('clsact');
  });

  it('netlink: a filter at a priority and handle that is taken is refused with EEXIST, and the qdisc it made goes again', () => {
    const first = attachTc(object!.program('ingress'), veth!.host, 'ingress', { priority: 5, handle: 1 });
    attachments.push(first);
    const error = (() => {
      try {
        attachTc(object!.program('egress'), veth!.host, 'ingress', { priority: 5, handle: 1 }).close();
      } catch (e) {
        return e as LoadError;
      }
      return undefined;
    })();
    expect(error?.errnoName).to.equal('EEXIST');
    expect(error?.message).to.match(/attach tc program to tca\S+ ingress: add the bpf filter: RTM_NEWTFILTER bpf: EEXIST/);
    first.close();
    attachments.splice(0);
    expect(qdiscKinds(veth!.host)).to.not.include('clsact');
  });

  it('the real tc attaches a program bpf-load pinned (object-pinned), and it runs our tail calls', async () => {
    const pinned = await loadBpfFile(fixturePath('tc_sections_kern.o'), { convention: 'tc', bpffs: root!, pinDir: join(root!, 'pins') });
    try {
      const path = pinned.program('ingress').pinPath!;
      run('tc', 'qdisc', 'add', 'dev', veth!.host, 'clsact');
      run('tc', 'filter', 'add', 'dev', veth!.host, 'ingress', 'bpf', 'da', 'object-pinned', path);
      expect(netTcEntries(veth!.host).map((e) => e.id)).to.deep.equal([pinned.program('ingress').id]);
      sendUdp(veth!, 'ingress', 4);
      await settle(() => counters(pinned).udpIn, 4n);
      const seen = counters(pinned);
      expect(seen.udpIn).to.equal(4n);
      // the shared tc/globals PROG_ARRAY now holds the pinned load's 1/0: its tail calls were taken
      expect(seen.tailIn).to.equal(seen.allIn);
      run('tc', 'qdisc', 'del', 'dev', veth!.host, 'clsact');
    } finally {
      pinned.close();
    }
  });

  describe('bad arguments are BPF_LOAD_ARGUMENT errors naming the argument', () => {
    const cases: [string, string, 'ingress' | 'egress', TcOptions, RegExp][] = [
      ['a direction', 'lo', 'sideways' as 'ingress', {}, /direction must be 'ingress' or 'egress', not 'sideways'/],
      ['a via', 'lo', 'ingress', { via: 'qdisc' as 'link' }, /options.via must be one of 'link', 'netlink', not 'qdisc'/],
      ['a mode (the former name of via)', 'lo', 'ingress', { mode: 'qdisc' as 'tcx' }, /options.mode must be one of 'tcx', 'netlink', not 'qdisc'/],
      ['via and mode both', 'lo', 'ingress', { via: 'link', mode: 'tcx' }, /options.mode is the former name of options.via: give via alone/],
      ['a priority', 'lo', 'ingress', { priority: 70000 }, /options.priority must be an integer from 1 to 65535, not 70000/],
      ['a TCX link with a handle', 'lo', 'ingress', { via: 'link', handle: 2 }, /cls_bpf filter settings, which a TCX link has none of/],
      ['mode tcx with a handle', 'lo', 'ingress', { mode: 'tcx', handle: 2 }, /cls_bpf filter settings, which a TCX link has none of/],
    ];
    for (const [what, dev, direction, options, message] of cases) {
      it(what, () => {
        try {
          attachTc(object!.program('ingress'), dev, direction, options).close();
          expect.fail('attached');
        } catch (error) {
          expect(isBpfLoadError(error)).to.equal(true);
          expect((error as LoadError).code).to.equal('BPF_LOAD_ARGUMENT');
          expect((error as Error).message).to.match(message);
        }
      });
    }

    it('an interface that does not exist', () => {
      expect(() => attachTc(object!.program('ingress'), 'nosuchdev0', 'ingress')).to.throw(/attach tc program to nosuchdev0 ingress: no such interface/);
    });
  });
});
