// iproute2's bpf_agent in TypeScript: receive the maps of a tc object over a
// Unix datagram socket (what `tc filter … bpf obj X.o export UDS_FILE` and
// `load-kern-object --export UDS_FILE` send) and print them every second.
//   sudo node dist/samples/map_agent.js UDS_FILE [--timeout MS] [--duration N]
import { receiveMaps, type ReceivedMaps } from '../loader/index.js';
import { everySecond, fail, runSample, sampleArgs } from './common.js';

const USAGE = `usage: map_agent UDS_FILE [--timeout MS] [--duration N]
Makes the socket UDS_FILE (mode 0600: root and this user may send), waits
for one set of maps in tc's format (up to --timeout milliseconds), then
prints every second each map's id and its entries whose value is not zero.
Try it with:  load-kern-object --convention tc X.o --export UDS_FILE`;

/** Entries shown per map each second. */
const SHOWN = 8;

function hex(bytes: Buffer): string {
  return bytes.toString('hex').replace(/(..)(?=.)/g, '$1 ');
}

function print(set: ReceivedMaps): void {
  for (const { tcId, map } of set.maps) {
    const lines: string[] = [];
    let nonZero = 0;
    map.forEachRaw((key, value) => {
      if (value.every((b) => b === 0)) return;
      nonZero++;
      if (lines.length < SHOWN) lines.push(`  ${hex(key)} -> ${hex(value.subarray(0, 16))}${value.byteLength > 16 ? ' …' : ''}`);
    });
    console.log(`BPF_MAP${tcId} '${map.name}' (${map.typeName}, id ${map.id}): ${nonZero} non-zero entries`);
    for (const line of lines) console.log(line);
  }
}

runSample(async () => {
  const { values, positionals, duration } = sampleArgs(USAGE, { timeout: { type: 'string' } });
  const path = positionals[0];
  if (!path) fail(USAGE);
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) fail(`--timeout must be a number of milliseconds, not '${String(values.timeout)}'`);

  const stop = new AbortController();
  const abort = (): void => stop.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  console.log(`map_agent: waiting for maps on ${path}`);
  let set: ReceivedMaps;
  try {
    set = await receiveMaps(path, { ...(timeoutMs === undefined ? {} : { timeoutMs }), signal: stop.signal });
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  console.log(`map_agent: ${set.maps.length} map(s) of '${set.objectName}' (dev ${set.dev}, ino ${set.ino})`);
  print(set);
  everySecond(duration, () => print(set), () => set.close());
});
