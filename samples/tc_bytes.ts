// Bytes per IP protocol at the ingress and egress of an interface, with an
// iproute2 tc object (fixtures/tc_bytes_kern.o: programs in sections named
// `ingress` and `egress`) attached the way `tc filter add … bpf da` would.
//   sudo node dist/samples/tc_bytes.js IFNAME [--netlink] [--duration N]
//   sudo node dist/samples/tc_bytes.js --demo [--duration N]   (a veth pair in its own network namespace)
import { attachTc, loadBpfFile, u32, u64, type Attachment, type BpfObject } from '../loader/index.js';
import { deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';
import { createDemoPair } from './vethPair.js';

const USAGE = `usage: tc_bytes IFNAME [--netlink] [--duration N]
       tc_bytes --demo [--duration N]
Loads fixtures/tc_bytes_kern.o with the tc convention, attaches its
'ingress' and 'egress' programs to IFNAME (a TCX link, or with --netlink a
clsact qdisc and cls_bpf filters as tc makes them) and prints, every second,
the bytes of each IP protocol that passed each way (non-IP: protocol 0).
Packets are let through unchanged.
--demo makes a veth pair whose peer lives in a network namespace of its own,
sends UDP datagrams to this side every second (answered with ICMP errors),
and removes both at the end.`;

const DIRECTIONS = ['ingress', 'egress'] as const;

runSample(async () => {
  deferStopSignals();
  const { values, positionals, duration } = sampleArgs(USAGE, {
    netlink: { type: 'boolean', default: false },
    demo: { type: 'boolean', default: false },
  });
  const demo = values.demo ? createDemoPair('tc_bytes', {
      namespace: `tc-bytes-${process.pid}`, host: `tcb${process.pid % 100000}`, subnet: 201 + (process.pid % 50), hostAddress: true,
    }) : undefined;
  const ifname = demo?.host ?? positionals[0];
  if (!ifname) fail(USAGE);

  let object: BpfObject | undefined;
  const attachments: Attachment[] = [];
  const release = (): void => {
    for (const attachment of attachments.reverse()) attachment.close();
    object?.close();
    demo?.remove();
  };
  try {
    object = await loadBpfFile(fixture('tc_bytes_kern.o'), { convention: 'tc' });
    for (const direction of DIRECTIONS) {
      attachments.push(attachTc(object.program(direction), ifname, direction, values.netlink ? { via: 'netlink' } : {}));
    }
  } catch (error) {
    release();
    throw error;
  }
  const bytes = object.map('proto_bytes').perCpu(u32, u64);
  console.log(`tc_bytes: counting bytes per IP protocol on ${ifname}: ${attachments.map((a) => a.target).join(', ')}`);
  const previous = new Map<number, bigint>();
  everySecond(
    duration,
    () => {
      demo?.sendUdp(3);
      for (const [key, perCpu] of bytes.entries()) {
        const total = perCpu.reduce((sum, n) => sum + n, 0n);
        const delta = total - (previous.get(key) ?? 0n);
        previous.set(key, total);
        if (delta > 0n) console.log(`${DIRECTIONS[key >> 8]!.padEnd(7)} proto ${String(key & 0xff).padStart(3)}: ${String(delta).padStart(10)} bytes/s`);
      }
    },
    release,
  );
  demo?.sendUdp(3);
});
