// samples/bpf/sockex1 in TypeScript: a socket filter on a raw packet socket
// bound to `lo` counts the bytes of outgoing packets per IP protocol.
//   sudo node dist/samples/sockex1.js [--duration N] [--interface lo] [--no-traffic]
import { createSocket } from 'node:dgram';
import { attachSocketFilter, loadBpfFile, openRawPacketSocket, u32, u64 } from '../loader/index.js';
import { deferStopSignals, everySecond, fixture, runSample, sampleArgs } from './common.js';

const USAGE = `usage: sockex1 [--duration N] [--interface IF] [--no-traffic]
Counts the bytes of packets leaving IF (default lo) per IP protocol with a
socket filter (fixtures/sockex1_kern.o) and prints TCP/UDP/ICMP every second.
Sends a few UDP datagrams to 127.0.0.1 each second so there is something to
count (sockex1_user.c ran ping), unless --no-traffic.`;

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

runSample(async () => {
  deferStopSignals();
  const { values, duration } = sampleArgs(USAGE, {
    interface: { type: 'string', default: 'lo' },
    'no-traffic': { type: 'boolean', default: false },
  });
  const ifname = values.interface as string;
  const object = await loadBpfFile(fixture('sockex1_kern.o'));
  const socket = openRawPacketSocket(ifname);
  const attachment = attachSocketFilter(object.programs[0]!, socket);
  const counts = object.map('my_map').typed(u32, u64);
  const traffic = values['no-traffic'] ? undefined : createSocket('udp4');

  console.log(`sockex1: counting bytes leaving ${ifname} per IP protocol (prog id ${object.programs[0]!.id}, map id ${object.map('my_map').id})`);
  everySecond(
    duration,
    () => {
      for (let i = 0; i < 5; i++) traffic?.send(Buffer.alloc(64), 9, '127.0.0.1');
      const tcp = counts.lookup(IPPROTO_TCP) ?? 0n;
      const udp = counts.lookup(IPPROTO_UDP) ?? 0n;
      const icmp = counts.lookup(IPPROTO_ICMP) ?? 0n;
      console.log(`TCP ${tcp} UDP ${udp} ICMP ${icmp} bytes`);
    },
    () => {
      traffic?.close();
      attachment.close();
      socket.close();
      object.close();
    },
  );
  traffic?.send(Buffer.alloc(64), 9, '127.0.0.1');
});
