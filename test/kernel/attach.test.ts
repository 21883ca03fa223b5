import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PUBLIC_API, startNode, waitUntil, type Running } from '../support/processes.js';
import {
  Attachment, LoadError, attachCgroup, attachKprobe, attachRawTracepoint, attachSocketFilter, attachTracepoint, attachXdp, detachXdp,
  findCgroup2, kprobeSupport, loadBpfFile, loadBpfObject, openRawPacketSocket, parseObject, u32, u64, type BpfObject,
} from '../../loader/index.js';
import { localPort, sendto, sockaddrIn, udpSocket } from '../../syscall/index.js';
import { createVethPair, type VethPair } from '../../samples/vethPair.js';
import { bpftoolJson, bpftoolLinks, bpftoolRun, type BpftoolLink } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { networkNamespaces } from '../support/net.js';
import { processFdCount, requireFeature, requireKernel, requireRoot, requireTool, requireTracefs } from '../support/kernel.js';
import { cgroup2Mounts } from '../../loader/attach/cgroupMount.js';
import { uniqueName } from '../support/unique.js';

function run(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function counter(object: BpfObject, map: string, key: number): bigint {
  return object.map(map).typed(u32, u64).lookup(key) ?? 0n;
}

describe('kernel: attach and detach', function () {
  before(function () {
    requireKernel(this);
  });

  describe('socket filter', () => {
    it('on a UDP socket on loopback counts exactly the packets sent, and nothing once detached', async () => {
      const object = await loadBpfFile(fixturePath('socket_count_kern.o'));
      const receiver = udpSocket('127.0.0.1');
      const sender = udpSocket('127.0.0.1');
      try {
        const to = sockaddrIn('127.0.0.1', localPort(receiver.fd));
        const attachment = attachSocketFilter(object.programs[0]!, receiver);
        expect(attachment.kind).to.equal('socket');
        const payloads = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'g'];
        for (const payload of payloads) sendto(sender.fd, Buffer.from(payload), to);
        expect(counter(object, 'counts', 0)).to.equal(BigInt(payloads.length));
        // the filter sees each datagram with its 8-byte UDP header
        const bytes = payloads.reduce((sum, p) => sum + p.length + 8, 0);
        expect(counter(object, 'counts', 1)).to.equal(BigInt(bytes));
        attachment.close();
        attachment.close();
        sendto(sender.fd, Buffer.from('after'), to);
        expect(counter(object, 'counts', 0)).to.equal(BigInt(payloads.length));
      } finally {
        sender.close();
        receiver.close();
        object.close();
      }
    });

    it('given a bare fd number, close() detaches its own socket even after that number was closed and reused', async () => {
      const object = await loadBpfFile(fixturePath('socket_count_kern.o'));
      const other = await loadBpfFile(fixturePath('socket_count_kern.o'));
      const first = udpSocket('127.0.0.1');
      const sender = udpSocket('127.0.0.1');
      let second: ReturnType<typeof udpSocket> | undefined;
      try {
        const number = first.fd;
        const attachment = attachSocketFilter(object.programs[0]!, number);
        first.close();
        // the lowest free number: the one just closed
        second = udpSocket('127.0.0.1');
        expect(second.fd).to.equal(number);
        using _theirs = attachSocketFilter(other.programs[0]!, second);
        attachment.close();
        // the new socket's filter is still there and counting
        sendto(sender.fd, Buffer.from('x'), sockaddrIn('127.0.0.1', localPort(second.fd)));
        expect(counter(other, 'counts', 0)).to.equal(1n);
        expect(counter(object, 'counts', 0)).to.equal(0n);
      } finally {
        second?.close();
        sender.close();
        other.close();
        object.close();
      }
    });

    it('tail calls run: dispatch jumps to the socket/3 or socket/0 program by packet length parity', async () => {
      const object = await loadBpfFile(fixturePath('tailcall_kern.o'));
      const receiver = udpSocket('127.0.0.1');
      const sender = udpSocket('127.0.0.1');
      try {
        using _attachment = attachSocketFilter(object.program('dispatch'), receiver);
        const to = sockaddrIn('127.0.0.1', localPort(receiver.fd));
        // skb->len is the 8-byte UDP header plus the payload
        for (const payload of ['a', 'bbb', 'ccccc', 'dd']) sendto(sender.fd, Buffer.from(payload), to);
        expect([counter(object, 'counters', 3), counter(object, 'counters', 0)]).to.deep.equal([3n, 1n]);
      } finally {
        sender.close();
        receiver.close();
        object.close();
      }
    });

    it('bpf-to-bpf calls run: the .text functions each program reaches update their maps', async () => {
      const object = await loadBpfFile(fixturePath('calls_kern.o'));
      const receiver = udpSocket('127.0.0.1');
      const sender = udpSocket('127.0.0.1');
      try {
        const to = sockaddrIn('127.0.0.1', localPort(receiver.fd));
        for (const name of ['first', 'second']) {
          using _attachment = attachSocketFilter(object.program(name), receiver);
          sendto(sender.fd, Buffer.from('x'), to);
        }
        const totals = object.map('totals').typed(u32, u64);
        const lastLen = object.map('last_len').typed(u32, u64);
        // first: add_total(1) -> remember(1); second: only_second(2) -> remember(3, 7), add_total(2) -> remember(2)
        expect([...totals.keys()].sort()).to.deep.equal([1, 2]);
        expect([...lastLen.keys()].sort()).to.deep.equal([1, 2, 3]);
        expect(lastLen.lookup(3)).to.equal(7n);
        expect(lastLen.lookup(1)).to.equal(totals.lookup(1));
      } finally {
        sender.close();
        receiver.close();
        object.close();
      }
    });

    it('sockex1: a raw packet socket on lo counts the bytes of outgoing UDP packets', async () => {
      const object = await loadBpfFile(fixturePath('sockex1_kern.o'));
      const raw = openRawPacketSocket('lo');
      const sender = udpSocket('127.0.0.1');
      try {
        expect(raw.ifindex).to.be.greaterThan(0);
        using attachment = attachSocketFilter(object.programs[0]!, raw);
        const before = counter(object, 'my_map', 17);
        for (let i = 0; i < 3; i++) sendto(sender.fd, Buffer.alloc(100), sockaddrIn('127.0.0.1', 9));
        // each: 14 ethernet + 20 IPv4 + 8 UDP + 100 payload, seen once as PACKET_OUTGOING
        expect(Number(counter(object, 'my_map', 17) - before)).to.be.at.least(3 * 142);
        expect(attachment.closed).to.equal(false);
      } finally {
        sender.close();
        raw.close();
        object.close();
      }
    });

    it('refuses a program that is not a socket filter, naming what it attached where', async () => {
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      const socket = udpSocket('127.0.0.1');
      try {
        expect(() => attachSocketFilter(object.programs[0]!, socket)).to.throw(LoadError,
          /xdp1_kern\.o: sec 'xdp1': prog 'xdp_prog1': attach socket filter to socket fd \d+: the program is xdp, not socket_filter \(a socket runs SEC\("socket…"\) programs/);
      } finally {
        socket.close();
        object.close();
      }
    });

    it('openRawPacketSocket names an interface that does not exist', () => {
      expect(() => openRawPacketSocket('nope-bpfload0')).to.throw(LoadError, /no network interface 'nope-bpfload0'/);
    });
  });

  describe('XDP on a veth in a test-made network namespace', () => {
    const ns = uniqueName('bpfload-xdp');
    const host = uniqueName('blx');
    let pair: VethPair | undefined;

    before(function () {
      requireKernel(this);
      pair = createVethPair({ namespace: ns, host, subnet: 199 });
    });

    after(() => {
      pair?.remove();
      expect(networkNamespaces()).to.not.include(ns);
    });

    function xdpState(): { mode?: number; prog?: { id: number } } | undefined {
      return (JSON.parse(run('ip', '-j', 'link', 'show', host)) as { xdp?: { mode?: number; prog?: { id: number } } }[])[0]!.xdp;
    }

    function sendUdpFromNamespace(count: number): void {
      pair!.sendUdp(count);
    }

    function xdpLinks(): BpftoolLink[] {
      return bpftoolLinks().filter((link) => link.type === 'xdp');
    }

    // veth has native XDP: 'drv' runs in the driver, as the default does there
    for (const via of ['link', 'netlink'] as const)
    for (const mode of [undefined, 'skb', 'drv'] as const) {
      it(`xdp1 (${mode ?? 'default'} mode, via ${via}) counts the UDP packets sent through the veth; close() detaches`, async () => {
        const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
        try {
          const attachment = attachXdp(object.programs[0]!, host, { via, ...(mode ? { mode } : {}) });
          expect(attachment.via).to.equal(via);
          expect(xdpState()?.prog?.id).to.equal(object.programs[0]!.id);
          const linked = xdpLinks().filter((link) => link.prog_id === object.programs[0]!.id);
          expect(linked.map((link) => link.id), 'bpftool link show').to.deep.equal(via === 'link' ? [attachment.linkId] : []);
          // XDP_ATTACHED_SKB is 2, XDP_ATTACHED_DRV 1
          expect(xdpState()?.mode).to.equal(mode === 'skb' ? 2 : 1);
          sendUdpFromNamespace(5);
          const perCpu = object.map('rxcnt').perCpu(u32, u64).lookup(17)!;
          expect(perCpu.reduce((sum, n) => sum + n, 0n)).to.equal(5n);
          attachment.close();
          expect(xdpState()).to.equal(undefined);
        } finally {
          object.close();
        }
      });
    }

    it('a link never replaces: a second attach is EBUSY, replace is refused as an argument', async () => {
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      const other = await loadBpfFile(fixturePath('xdp1_kern.o'));
      try {
        using _first = attachXdp(object.programs[0]!, host);
        expect(() => attachXdp(other.programs[0]!, host)).to.throw(LoadError, /attach XDP program to '.*': BPF_LINK_CREATE: EBUSY.*already has an XDP program/);
        expect(() => attachXdp(other.programs[0]!, host, { via: 'netlink' })).to.throw(LoadError, /RTM_SETLINK IFLA_XDP: EBUSY/);
        expect(() => attachXdp(other.programs[0]!, host, { replace: true })).to.throw(LoadError, /options\.replace must be false with via: 'link'/)
          .with.property('code', 'BPF_LOAD_ARGUMENT');
        expect(xdpState()?.prog?.id).to.equal(object.programs[0]!.id);
      } finally {
        other.close();
        object.close();
      }
      expect(xdpState()).to.equal(undefined);
    });

    it('via netlink: a second attach is refused unless replace is asked for', async () => {
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      const other = await loadBpfFile(fixturePath('xdp1_kern.o'));
      try {
        using first = attachXdp(object.programs[0]!, host, { via: 'netlink' });
        expect(() => attachXdp(other.programs[0]!, host, { via: 'netlink' })).to.throw(LoadError, /attach XDP program to '.*': RTM_SETLINK IFLA_XDP: EBUSY.*already has an XDP program/);
        const replaced = attachXdp(other.programs[0]!, host, { via: 'netlink', replace: true });
        expect(xdpState()?.prog?.id).to.equal(other.programs[0]!.id);
        // closing the first attachment must not remove the program that replaced it
        first.close();
        expect(xdpState()?.prog?.id).to.equal(other.programs[0]!.id);
        replaced.close();
        expect(xdpState()).to.equal(undefined);
      } finally {
        other.close();
        object.close();
      }
    });

    it('generic and native XDP at once: the kernel\'s reason is shown, without advice to replace', async () => {
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      try {
        using _skb = attachXdp(object.programs[0]!, host, { mode: 'skb', via: 'netlink' });
        let error: unknown;
        try {
          attachXdp(object.programs[0]!, host, { mode: 'drv', via: 'netlink' });
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(LoadError);
        expect((error as Error).message).to.match(/RTM_SETLINK IFLA_XDP: EEXIST \(kernel: Native and generic XDP can't be active at the same time/);
        expect((error as Error).message).to.not.match(/replace/);
      } finally {
        object.close();
      }
      expect(xdpState()).to.equal(undefined);
    });

    it('close() after the program\'s fd was closed detaches it, and never a program that replaced it', async () => {
      const first = await loadBpfFile(fixturePath('xdp1_kern.o'));
      const firstId = first.programs[0]!.id;
      const attachment = attachXdp(first.programs[0]!, host, { via: 'netlink' });
      first.close(); // the interface still holds the program
      expect(xdpState()?.prog?.id).to.equal(firstId);
      attachment.close();
      expect(xdpState()).to.equal(undefined);

      const old = await loadBpfFile(fixturePath('xdp1_kern.o'));
      const other = await loadBpfFile(fixturePath('xdp1_kern.o'));
      try {
        const oldAttachment = attachXdp(old.programs[0]!, host, { via: 'netlink' });
        using _replaced = attachXdp(other.programs[0]!, host, { via: 'netlink', replace: true });
        old.close(); // the replaced program is gone from the kernel now
        oldAttachment.close();
        expect(xdpState()?.prog?.id).to.equal(other.programs[0]!.id);
      } finally {
        other.close();
        old.close();
      }
    });

    /** A child process that attaches xdp1 to the veth and waits to be killed. */
    async function attachInChild(via: 'link' | 'netlink'): Promise<{ id: number; run: Running }> {
      const script = join(mkdtempSync(join(tmpdir(), 'bpfload-xdp-')), 'attach.mjs');
      writeFileSync(script, `import { attachXdp, loadBpfFile } from ${JSON.stringify(PUBLIC_API)};
const object = await loadBpfFile(${JSON.stringify(fixturePath('xdp1_kern.o'))});
attachXdp(object.programs[0], ${JSON.stringify(host)}, { via: ${JSON.stringify(via)} });
console.log('attached ' + object.programs[0].id);
setInterval(() => {}, 1000);
`);
      const run = startNode([script]);
      void run.exited.then(() => rmSync(dirname(script), { recursive: true, force: true }));
      try {
        await run.waitFor(/attached \d+/);
      } catch (error) {
        run.child.kill('SIGKILL');
        throw error;
      }
      return { id: Number(/attached (\d+)/.exec(run.stdout())![1]), run };
    }

    it('a process SIGKILLed while attached through a link leaves nothing attached', async () => {
      const { id, run: child } = await attachInChild('link');
      try {
        expect(xdpState()?.prog?.id).to.equal(id);
        expect(xdpLinks().map((link) => link.prog_id)).to.include(id);
        child.child.kill('SIGKILL');
        await child.exited;
        await waitUntil(() => `XDP to be detached after SIGKILL (attached: ${JSON.stringify(xdpState())})`, () => xdpState() === undefined);
        expect(xdpLinks().map((link) => link.prog_id)).to.not.include(id);
      } finally {
        child.child.kill('SIGKILL');
      }
    });

    it("via: 'netlink' keeps the old semantics: the program stays after SIGKILL until someone removes it", async () => {
      const { id, run: child } = await attachInChild('netlink');
      child.child.kill('SIGKILL');
      await child.exited;
      try {
        expect(xdpState()?.prog?.id).to.equal(id);
      } finally {
        detachXdp(host);
      }
      expect(xdpState()).to.equal(undefined);
    });

    it('attachment.pin() keeps a link past close() and the object; removing the pin detaches', async () => {
      const pin = `/sys/fs/bpf/${uniqueName('bpfload-xdplink')}`;
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      const id = object.programs[0]!.id;
      try {
        const attachment = attachXdp(object.programs[0]!, host);
        attachment.pin(pin);
        const linkId = attachment.linkId;
        attachment.close();
        object.close();
        expect(xdpState()?.prog?.id).to.equal(id);
        expect(xdpLinks().map((link) => link.id)).to.include(linkId);
        expect(bpftoolJson<{ id: number }>('link', 'show', 'pinned', pin).id).to.equal(linkId);
      } finally {
        object.close();
        rmSync(pin, { force: true });
      }
      await waitUntil(() => `XDP to be detached once the pin is gone (attached: ${JSON.stringify(xdpState())})`, () => xdpState() === undefined);
    });

    it('attachment.pin() of an attachment that is not a link is refused, saying why', async () => {
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      try {
        using attachment = attachXdp(object.programs[0]!, host, { via: 'netlink' });
        expect(() => attachment.pin(`/sys/fs/bpf/${uniqueName('bpfload-nolink')}`)).to.throw(LoadError, /only a single bpf_link can be pinned, and this attachment is held by netlink/);
        expect(() => attachment.pin('')).to.throw(LoadError, /attachment\.pin: path must be a non-empty string, not ''/);
      } finally {
        object.close();
      }
    });

    it('an interface that does not exist is named', async () => {
      const object = await loadBpfFile(fixturePath('xdp1_kern.o'));
      try {
        expect(() => attachXdp(object.programs[0]!, 'nope-bpfload0')).to.throw(LoadError, /attach XDP program to 'nope-bpfload0': no such interface/);
      } finally {
        object.close();
      }
    });
  });

  describe('tracepoints', () => {
    before(function () {
      requireKernel(this);
      requireTracefs(this);
    });

    it('a tracepoint program counts getuid() calls while attached, and stops when detached', async () => {
      const object = await loadBpfFile(fixturePath('tracing_kern.o'));
      try {
        const attachment = attachTracepoint(object.program('on_getuid'), 'syscalls', 'sys_enter_getuid');
        const before = counter(object, 'hits', 0);
        for (let i = 0; i < 20; i++) process.getuid!();
        expect(Number(counter(object, 'hits', 0) - before)).to.be.at.least(20);
        attachment.close();
        const detached = counter(object, 'hits', 0);
        for (let i = 0; i < 20; i++) process.getuid!();
        expect(counter(object, 'hits', 0)).to.equal(detached);
      } finally {
        object.close();
      }
    });

    it('options.attach attaches tracepoint and raw tracepoint from the section names; close() detaches', async () => {
      const before = processFdCount();
      const object = await loadBpfFile(fixturePath('tracing_kern.o'), { attach: true });
      expect(object.attachments.map((a) => `${(a as Attachment).kind} ${(a as Attachment).target}`)).to.deep.equal([
        'tracepoint syscalls/sys_enter_getuid',
        'raw_tracepoint sys_enter',
      ]);
      const raw = counter(object, 'hits', 1);
      for (let i = 0; i < 5; i++) process.getuid!();
      expect(Number(counter(object, 'hits', 1) - raw)).to.be.greaterThan(0);
      object.close();
      expect(processFdCount()).to.equal(before);
    });

    it('a raw tracepoint attached by hand counts system calls', async () => {
      const object = await loadBpfFile(fixturePath('tracing_kern.o'));
      try {
        using _attachment = attachRawTracepoint(object.program('on_sys_enter'), 'sys_enter');
        const before = counter(object, 'hits', 1);
        for (let i = 0; i < 5; i++) process.getuid!();
        expect(Number(counter(object, 'hits', 1) - before)).to.be.at.least(5);
      } finally {
        object.close();
      }
    });

    it('an unknown tracepoint is named, with where to look', async () => {
      const object = await loadBpfFile(fixturePath('tracing_kern.o'));
      try {
        expect(() => attachTracepoint(object.program('on_getuid'), 'syscalls', 'sys_enter_nothing')).to.throw(
          LoadError,
          /attach to tracepoint syscalls\/sys_enter_nothing: no such tracepoint.*ENOENT.*available_events/,
        );
        expect(() => attachRawTracepoint(object.program('on_sys_enter'), 'no_such_tp')).to.throw(LoadError, /raw tracepoint no_such_tp.*ENOENT/);
      } finally {
        object.close();
      }
    });

    it('kprobes: loading works; attaching works where the kernel has kprobes, else says it lacks them and options.attach fails without leaks', async function () {
      const object = await loadBpfFile(fixturePath('kprobe_kern.o'));
      try {
        if (kprobeSupport().supported) {
          const attachment = attachKprobe(object.program('on_open'), 'do_sys_openat2');
          expect(attachment.via).to.equal('link');
          attachment.close();
          return;
        }
        expect(() => attachKprobe(object.program('on_open'), 'do_sys_openat2')).to.throw(LoadError, /this kernel has no kprobes/);
      } finally {
        object.close();
      }
      const before = processFdCount();
      let error: unknown;
      try {
        await loadBpfFile(fixturePath('kprobe_kern.o'), { attach: true });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(LoadError);
      expect((error as Error).message).to.match(/sec 'kprobe\/do_sys_openat2': prog 'on_open': attach kprobe to do_sys_openat2: this kernel has no kprobes/);
      expect((error as LoadError).errnoName).to.equal('EOPNOTSUPP');
      expect(processFdCount()).to.equal(before);
    });

    it('options.attach: a failure at the second attachment detaches the first and closes everything', () => {
      const before = processFdCount();
      const spec = parseObject(readFileSync(fixturePath('tracing_kern.o')), { file: 'tracing_kern.o' });
      const raw = Object.values(spec.programs)[1]!;
      (raw as { attachTarget: string | undefined }).attachTarget = 'no_such_tracepoint';
      let error: unknown;
      try {
        loadBpfObject(spec, { attach: true });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(LoadError);
      expect((error as Error).message).to.match(/raw tracepoint no_such_tracepoint/);
      expect(processFdCount()).to.equal(before);
    });
  });

  for (const layout of ['the system mount (from /proc/self/mountinfo)', 'a cgroup2 mounted by the test'] as const)
  describe(`cgroup v2 at ${layout}`, () => {
    let mountedHere: string | undefined;
    let cgroup = '';

    before(function () {
      requireKernel(this);
      requireTool(this, 'bpftool');
      if (layout === 'a cgroup2 mounted by the test') {
        requireRoot(this);
        // the same hierarchy seen through a mount point of its own: no path is assumed
        mountedHere = mkdtempSync(join(tmpdir(), 'bpfload-cg2-'));
        execFileSync('mount', ['-t', 'cgroup2', 'none', mountedHere]);
        expect(cgroup2Mounts()).to.include(mountedHere);
      }
      const root = mountedHere ?? findCgroup2();
      requireFeature(this, 'cgroup v2', root ? undefined : 'no cgroup2 in /proc/self/mountinfo');
      cgroup = join(root!, uniqueName('bpfload-cg'));
      mkdirSync(cgroup, { recursive: true });
    });

    after(() => {
      if (cgroup && existsSync(cgroup)) rmdirSync(cgroup);
      if (mountedHere) {
        execFileSync('umount', [mountedHere]);
        rmdirSync(mountedHere);
      }
    });

    function attachedIds(): number[] {
      const shown = bpftoolJson<{ id: number }[]>('cgroup', 'show', cgroup);
      return shown.map((entry) => entry.id);
    }

    it('an egress program counts the packets a process in the cgroup sends; close() detaches', async () => {
      const object = await loadBpfFile(fixturePath('cgroup_skb_kern.o'));
      try {
        const attachment = attachCgroup(object.program('count_egress'), cgroup);
        expect(attachment.target).to.equal(`${cgroup} (inet_egress)`);
        expect(attachedIds()).to.deep.equal([object.program('count_egress').id]);
        // a child that moves itself into the cgroup, then sends 4 datagrams
        run('bash', '-c', `echo $$ > ${cgroup}/cgroup.procs; for i in 1 2 3 4; do echo x > /dev/udp/127.0.0.1/9; done`);
        expect(Number(counter(object, 'cgroup_packets', 0))).to.be.at.least(4);
        attachment.close();
        expect(attachedIds()).to.deep.equal([]);
        const after = counter(object, 'cgroup_packets', 0);
        run('bash', '-c', `echo $$ > ${cgroup}/cgroup.procs; echo x > /dev/udp/127.0.0.1/9`);
        expect(counter(object, 'cgroup_packets', 0)).to.equal(after);
      } finally {
        object.close();
      }
    });

    it("through a link by default (bpftool link show sees it); via: 'legacy' is BPF_PROG_ATTACH; both detach on close()", async () => {
      const object = await loadBpfFile(fixturePath('cgroup_skb_kern.o'));
      const id = object.program('count_egress').id;
      try {
        const linked = attachCgroup(object.program('count_egress'), cgroup);
        expect(linked.via).to.equal('link');
        expect(bpftoolLinks().filter((l) => l.prog_id === id).map((l) => [l.id, l.type])).to.deep.equal([[linked.linkId, 'cgroup']]);
        linked.close();
        expect(attachedIds()).to.deep.equal([]);
        const legacy = attachCgroup(object.program('count_egress'), cgroup, { via: 'legacy' });
        expect(legacy.via).to.equal('legacy');
        expect(legacy.linkId).to.equal(undefined);
        expect(attachedIds()).to.deep.equal([id]);
        legacy.close();
        expect(attachedIds()).to.deep.equal([]);
        expect(() => attachCgroup(object.program('count_egress'), cgroup, { flags: 2 })).to.throw(LoadError, /options\.flags must be left out with via: 'link'/);
      } finally {
        object.close();
      }
    });

    it('a process SIGKILLed while attached through a link leaves nothing attached; via legacy stays', async () => {
      for (const via of ['link', 'legacy'] as const) {
        const script = join(mkdtempSync(join(tmpdir(), 'bpfload-cg-')), 'attach.mjs');
        writeFileSync(script, `import { attachCgroup, loadBpfFile } from ${JSON.stringify(PUBLIC_API)};
const object = await loadBpfFile(${JSON.stringify(fixturePath('cgroup_skb_kern.o'))});
attachCgroup(object.program('count_egress'), ${JSON.stringify(cgroup)}, { via: ${JSON.stringify(via)} });
console.log('attached ' + object.program('count_egress').id);
setInterval(() => {}, 1000);
`);
        const child = startNode([script]);
        void child.exited.then(() => rmSync(dirname(script), { recursive: true, force: true }));
        try {
          await child.waitFor(/attached \d+/);
          const id = Number(/attached (\d+)/.exec(child.stdout())![1]);
          expect(attachedIds()).to.deep.equal([id]);
          child.child.kill('SIGKILL');
          await child.exited;
          if (via === 'link') {
            await waitUntil(() => `the link to end with its process (attached: ${attachedIds().join()})`, () => attachedIds().length === 0);
          } else {
            expect(attachedIds(), 'BPF_PROG_ATTACH outlives its process').to.deep.equal([id]);
            // remove it the way an operator would
            bpftoolRun('cgroup', 'detach', cgroup, 'egress', 'id', String(id));
            expect(attachedIds()).to.deep.equal([]);
          }
        } finally {
          child.child.kill('SIGKILL');
        }
      }
    });

    it('close() after the object was closed still detaches: the cgroup held the program', async () => {
      const object = await loadBpfFile(fixturePath('cgroup_skb_kern.o'));
      const id = object.program('count_ingress').id;
      const attachment = attachCgroup(object.program('count_ingress'), cgroup);
      expect(attachment.target).to.equal(`${cgroup} (inet_ingress)`);
      object.close();
      expect(attachedIds()).to.deep.equal([id]);
      attachment.close();
      expect(attachedIds()).to.deep.equal([]);
    });

    it('a program whose object was closed is refused by every attach function, naming it, with nothing left open', async () => {
      const object = await loadBpfFile(fixturePath('cgroup_skb_kern.o'));
      const program = object.program('count_egress');
      object.close();
      const before = processFdCount();
      const socket = udpSocket('127.0.0.1');
      try {
        for (const attach of [
          () => attachCgroup(program, cgroup),
          () => attachSocketFilter(program, socket),
          () => attachXdp(program, 'lo'),
          () => attachRawTracepoint(program, 'sys_enter'),
        ]) {
          expect(attach).to.throw(LoadError, /cgroup_skb_kern\.o: sec 'cgroup\/skb\/egress': prog 'count_egress': attach .*: the program was closed/);
        }
      } finally {
        socket.close();
      }
      expect(processFdCount()).to.equal(before);
    });

    it('a path that is not a cgroup directory is refused clearly', async () => {
      const object = await loadBpfFile(fixturePath('cgroup_skb_kern.o'));
      try {
        expect(() => attachCgroup(object.program('count_ingress'), '/nonexistent/cgroup')).to.throw(LoadError, /cannot open the cgroup directory: ENOENT/);
      } finally {
        object.close();
      }
    });
  });
});
