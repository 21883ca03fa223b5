// prototype-kernel's xdp_ddos01_blacklist_cmdline in TypeScript: add and
// remove IPv4 addresses in the blacklist of a running XDP program, through
// the maps it pinned. The whole workflow, as root:
//   load-kern-object fixtures/xdp_blacklist_kern.o --pin /sys/fs/bpf/xdp_blacklist
//   ip link set dev IFNAME xdpgeneric pinned /sys/fs/bpf/xdp_blacklist/progs/xdp_blacklist
//   node dist/samples/xdp_blacklist_cmdline.js --add 192.0.2.1     (also --del, --list, --stats)
//   ip link set dev IFNAME xdpgeneric off; load-kern-object unpin /sys/fs/bpf/xdp_blacklist
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { BPF_NOEXIST, MapError, openPinnedMap, u32, u64, type Codec } from '../loader/index.js';
import { fail, runSample, sampleArgs } from './common.js';

const USAGE = `usage: xdp_blacklist_cmdline [--pin DIR] --add IP | --del IP | --list | --stats
Changes the blacklist of fixtures/xdp_blacklist_kern.o while it runs, through
the maps pinned in DIR (default /sys/fs/bpf/xdp_blacklist: DIR/maps/blacklist,
DIR/maps/verdict_cnt). --list prints each address with the packets dropped
for it (summed over CPUs); --stats the program's verdicts.`;

/** The program looks up iph->saddr as it is in the packet: network byte order. */
const ipv4: Codec<string> = {
  name: 'ipv4',
  size: 4,
  align: 4,
  decode: (bytes, _view, offset) => [...bytes.subarray(offset, offset + 4)].join('.'),
  encode: (address, bytes, _view, offset) => {
    if (!isIPv4(address)) throw new RangeError(`'${address}' is not an IPv4 address`);
    bytes.set(address.split('.').map(Number), offset);
  },
};

const VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX'];

const sum = (perCpu: bigint[]): bigint => perCpu.reduce((total, n) => total + n, 0n);

runSample(async () => {
  const { values } = sampleArgs(USAGE, {
    pin: { type: 'string', default: '/sys/fs/bpf/xdp_blacklist' },
    add: { type: 'string' },
    del: { type: 'string' },
    list: { type: 'boolean', default: false },
    stats: { type: 'boolean', default: false },
  });
  const actions = ['add', 'del', 'list', 'stats'].filter((name) => values[name]);
  if (actions.length !== 1) fail(USAGE);
  const address = (values.add ?? values.del) as string | undefined;
  if (address !== undefined && !isIPv4(address)) fail(`xdp_blacklist_cmdline: '${address}' is not an IPv4 address`);
  const maps = join(values.pin as string, 'maps');

  if (values.stats) {
    using counters = openPinnedMap(join(maps, 'verdict_cnt'), { readOnly: true });
    for (const [action, perCpu] of counters.perCpu(u32, u64)) console.log(`${VERDICTS[action] ?? action} ${sum(perCpu)}`);
    return;
  }
  using pinned = openPinnedMap(join(maps, 'blacklist'), values.list ? { readOnly: true } : {});
  // one u64 per possible CPU: the drop counter each CPU keeps for the address
  const blacklist = pinned.perCpu(ipv4, u64);
  if (values.list) {
    for (const [ip, dropped] of blacklist) console.log(`${ip} ${sum(dropped)}`);
  } else if (values.add !== undefined) {
    try {
      blacklist.update(address!, Array<bigint>(pinned.possibleCpus).fill(0n), BPF_NOEXIST);
      console.log(`${address} added to the blacklist`);
    } catch (error) {
      // adding twice is not a failure, and keeps the counters (as the original)
      if (!(error instanceof MapError && error.code === 'BPF_LOAD_MAP_KEY_EXISTS')) throw error;
      console.log(`${address} is already in the blacklist`);
    }
  } else if (blacklist.delete(address!)) {
    console.log(`${address} removed from the blacklist`);
  } else {
    console.error(`${address} is not in the blacklist`);
    process.exitCode = 1;
  }
});
