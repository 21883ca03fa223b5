// samples/bpf/xdp_sample_pkts in TypeScript: an XDP program passes every
// packet and sends its length and first 64 bytes through a perf event array;
// this side prints each and writes them to a pcap file tcpdump -r reads.
//   sudo node dist/samples/xdp_sample_pkts.js IFNAME [--pcap FILE] [--skb|--drv] [--duration N]
//   sudo node dist/samples/xdp_sample_pkts.js --demo [--pcap FILE] [--duration N]   (a veth pair in its own namespace)
import { closeSync, openSync, writeSync } from 'node:fs';
import { attachXdp, loadBpfFile, openPerfEventReader, type XdpOptions } from '../loader/index.js';
import { deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';
import { createDemoPair } from './vethPair.js';

const USAGE = `usage: xdp_sample_pkts IFNAME [--pcap FILE] [--skb | --drv] [--duration N]
       xdp_sample_pkts --demo [--pcap FILE] [--duration N]
Attaches fixtures/xdp_sample_pkts_kern.o to IFNAME: every packet passes, and
its length and first 64 bytes come to user space, where they are printed and
written to FILE (default xdp_sample_pkts.pcap) as a pcap file: tcpdump -r FILE.
--demo makes a veth pair whose peer lives in a network namespace of its own,
sends UDP datagrams through it every second, and removes both at the end.`;

const SAMPLE_COOKIE = 0xdead;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 65535;

/** A pcap file (microsecond timestamps) written record by record, so what was written before a crash stays readable. */
class PcapWriter {
  readonly #fd: number;

  constructor(path: string) {
    this.#fd = openSync(path, 'w');
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(SNAPLEN, 16);
    header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    writeSync(this.#fd, header);
  }

  write(packet: Buffer, originalLength: number): void {
    const now = Date.now();
    const header = Buffer.alloc(16);
    header.writeUInt32LE(Math.floor(now / 1000), 0);
    header.writeUInt32LE((now % 1000) * 1000, 4);
    header.writeUInt32LE(packet.length, 8);
    header.writeUInt32LE(originalLength, 12);
    writeSync(this.#fd, Buffer.concat([header, packet]));
  }

  close(): void {
    closeSync(this.#fd);
  }
}

runSample(async () => {
  deferStopSignals();
  const { values, positionals, duration } = sampleArgs(USAGE, {
    pcap: { type: 'string', default: 'xdp_sample_pkts.pcap' },
    skb: { type: 'boolean', default: false },
    drv: { type: 'boolean', default: false },
    demo: { type: 'boolean', default: false },
  });
  if (values.skb && values.drv) fail('xdp_sample_pkts: --skb and --drv exclude each other');
  const demo = values.demo ? createDemoPair('xdp_sample_pkts', { namespace: `xdpsp-demo-${process.pid}`, host: `xdpsp${process.pid % 100000}`, subnet: 201 }) : undefined;
  const ifname = demo?.host ?? positionals[0];
  if (!ifname) fail(USAGE);
  const options: XdpOptions = values.skb ? { mode: 'skb' } : values.drv ? { mode: 'drv' } : {};

  let object;
  let reader;
  let attachment;
  let pcap;
  try {
    object = await loadBpfFile(fixture('xdp_sample_pkts_kern.o'));
    reader = openPerfEventReader(object.map('my_map'));
    attachment = attachXdp(object.program('xdp_sample_prog'), ifname, options);
    pcap = new PcapWriter(String(values.pcap));
  } catch (error) {
    attachment?.close();
    reader?.close();
    object?.close();
    demo?.remove();
    throw error;
  }
  const samples = reader;
  const file = pcap;
  let packets = 0;
  console.log(`xdp_sample_pkts: sampling packets on ${ifname} (prog id ${object.programs[0]!.id}) into ${String(values.pcap)}`);
  void (async () => {
    // struct sample_meta { u16 cookie; u16 pkt_len; } then the packet's first bytes (and perf's padding)
    for await (const record of samples) {
      if (record.lost) {
        console.log(`lost ${record.lost} samples`);
        continue;
      }
      if (record.data.readUInt16LE(0) !== SAMPLE_COOKIE) continue;
      const length = record.data.readUInt16LE(2);
      const packet = record.data.subarray(4, 4 + Math.min(length, record.data.length - 4));
      file.write(packet, length);
      packets++;
      console.log(`packet: ${length} bytes, ethernet ${packet.subarray(0, 14).toString('hex')}`);
    }
  })();
  everySecond(
    duration,
    () => {
      demo?.sendUdp(3);
      console.log(`${packets} packets sampled`);
    },
    () => {
      attachment.close();
      samples.close();
      object.close();
      file.close();
      demo?.remove();
    },
  );
  demo?.sendUdp(3);
});
