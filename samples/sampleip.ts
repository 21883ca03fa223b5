// samples/bpf/sampleip in TypeScript: a perf_event program on a cpu-clock
// timer counts the instruction pointers it interrupts, on every CPU; at the
// end the most sampled addresses are printed, kernel ones with their symbol.
//   sudo node dist/samples/sampleip.js [--frequency HZ] [--duration N] [--top N]
import { readFileSync } from 'node:fs';
import { attachPerfEvent, loadBpfFile, u32, u64 } from '../loader/index.js';
import { everySecond, fail, fixture, runSample, sampleArgs } from './common.js';

const USAGE = `usage: sampleip [--frequency HZ] [--duration N] [--top N]
Samples the instruction pointer on every CPU HZ times a second (default 99)
with the perf_event program of fixtures/sampleip_kern.o for N seconds
(default 5, or until Ctrl-C), then prints the TOP (default 10) addresses by
samples, with the kernel symbol they fall in.`;

/**
 * The kernel symbol each address falls in, from /proc/kallsyms (root sees the
 * addresses; others read zeros and get none): one pass, comparing the
 * 16-digit hex addresses as strings, for the few addresses printed.
 */
function kernelSymbols(ips: bigint[]): Map<bigint, string> {
  const found = new Map<bigint, { address: string; name: string }>();
  let text = '';
  try {
    text = readFileSync('/proc/kallsyms', 'utf8');
  } catch {
    // no symbols: the addresses alone are printed
  }
  const wanted = ips.map((ip) => ({ ip, hex: ip.toString(16).padStart(16, '0') }));
  for (const line of text.split('\n')) {
    const address = line.slice(0, 16);
    const type = line[17];
    if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
    for (const { ip, hex } of wanted) {
      const best = found.get(ip);
      if (address <= hex && (!best || address > best.address) && !/^0+$/.test(address)) {
        found.set(ip, { address, name: line.slice(19).split(/\s/)[0]! });
      }
    }
  }
  return new Map([...found].map(([ip, { address, name }]) => [ip, `${name}+0x${(ip - BigInt(`0x${address}`)).toString(16)}`]));
}

/** Where x86-64 kernel addresses start: everything below is user space. */
const KERNEL_START = 0xffff800000000000n;

runSample(async () => {
  const { values, duration } = sampleArgs(USAGE, {
    frequency: { type: 'string', default: '99' },
    top: { type: 'string', default: '10' },
  });
  const frequency = Number(values.frequency);
  const top = Number(values.top);
  if (!Number.isInteger(frequency) || frequency <= 0) fail(`--frequency must be a positive integer, not '${values.frequency}'`);
  if (!Number.isInteger(top) || top <= 0) fail(`--top must be a positive integer, not '${values.top}'`);

  const object = await loadBpfFile(fixture('sampleip_kern.o'));
  let attachment;
  try {
    attachment = attachPerfEvent(object.program('do_sample'), { sampleFrequency: frequency });
  } catch (error) {
    object.close();
    throw error;
  }
  const seconds = duration ?? 5;
  console.log(`sampleip: sampling at ${frequency} Hz on every CPU for ${seconds} s (${attachment.target})`);
  everySecond(seconds, () => {}, () => {
    attachment.close();
    const counts: [bigint, number][] = [];
    object.map('ip_map').typed(u64, u32).forEach((ip, count) => void counts.push([ip, count]));
    object.close();
    counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const shown = counts.slice(0, top);
    const symbols = kernelSymbols(shown.filter(([ip]) => ip >= KERNEL_START).map(([ip]) => ip));
    const total = counts.reduce((sum, [, count]) => sum + count, 0);
    console.log(`${total} samples, ${counts.length} addresses; the top ${Math.min(top, counts.length)}:`);
    console.log(`${'ADDR'.padEnd(18)}  ${'COUNT'.padStart(6)}  KSYM`);
    for (const [ip, count] of shown) {
      console.log(`0x${ip.toString(16).padStart(16, '0')}  ${String(count).padStart(6)}  ${symbols.get(ip) ?? '(user)'}`);
    }
  });
});
