// samples/bpf/xdp1 in TypeScript: an XDP program counts packets per IP
// protocol on an interface (and drops them, as xdp1 does).
//   sudo node dist/samples/xdp1.js IFNAME [--skb|--drv] [--duration N]
//   sudo node dist/samples/xdp1.js --demo [--duration N]   (a veth pair in its own network namespace)
import { attachXdp, loadBpfFile, u32, u64, type XdpOptions } from '../loader/index.js';
import { deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';
import { createDemoPair } from './vethPair.js';

const USAGE = `usage: xdp1 IFNAME [--skb | --drv] [--duration N]
       xdp1 --demo [--duration N]
Attaches fixtures/xdp1_kern.o to IFNAME and prints, every second, the
packets per second of each IP protocol seen. xdp1 DROPS every packet: do
not use it on the interface you are logged in through.
--demo makes a veth pair whose peer lives in a network namespace of its own,
sends UDP datagrams through it every second, and removes both at the end.`;

/** veth pair: the host side here, its peer in a namespace of its own. */
runSample(async () => {
  deferStopSignals();
  const { values, positionals, duration } = sampleArgs(USAGE, {
    skb: { type: 'boolean', default: false },
    drv: { type: 'boolean', default: false },
    demo: { type: 'boolean', default: false },
  });
  if (values.skb && values.drv) fail('xdp1: --skb and --drv exclude each other');
  const demo = values.demo
    ? createDemoPair('xdp1', { namespace: `xdp1-demo-${process.pid}`, host: `xdp1d${process.pid % 100000}`, subnet: 200 })
    : undefined;
  const ifname = demo?.host ?? positionals[0];
  if (!ifname) fail(USAGE);
  // xdp1's own semantics: IFLA_XDP with XDP_FLAGS_UPDATE_IF_NOEXIST, removed again on SIGINT/SIGTERM
  const options: XdpOptions = { via: 'netlink', ...(values.skb ? { mode: 'skb' } : values.drv ? { mode: 'drv' } : {}) };

  let object;
  let attachment;
  try {
    object = await loadBpfFile(fixture('xdp1_kern.o'));
    attachment = attachXdp(object.programs[0]!, ifname, options);
  } catch (error) {
    object?.close();
    demo?.remove();
    throw error;
  }
  const rxcnt = object.map('rxcnt').perCpu(u32, u64);
  const previous = new Map<number, bigint>();
  console.log(`xdp1: counting packets per IP protocol on ${ifname} (prog id ${object.programs[0]!.id}); they are dropped`);
  everySecond(
    duration,
    () => {
      demo?.sendUdp(3);
      for (const [proto, perCpu] of rxcnt.entries()) {
        const total = perCpu.reduce((sum, n) => sum + n, 0n);
        const delta = total - (previous.get(proto) ?? 0n);
        previous.set(proto, total);
        if (delta > 0n) console.log(`proto ${proto}: ${String(delta).padStart(10)} pkt/s`);
      }
    },
    () => {
      attachment.close();
      object.close();
      demo?.remove();
    },
  );
  demo?.sendUdp(3);
});
