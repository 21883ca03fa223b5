// Count system calls per process with a tracepoint program on
// raw_syscalls/sys_enter, attached the bpf_load.c way (options.attach).
//   sudo node dist/samples/syscount.js [--duration N] [--top N]
import { readFileSync } from 'node:fs';
import { loadBpfFile, tracefsRoot, u32, u64 } from '../loader/index.js';
import { deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';

const USAGE = `usage: syscount [--duration N] [--top N]
Counts system calls per process (tgid) at the raw_syscalls/sys_enter
tracepoint (fixtures/syscount_kern.o) and prints, every second, the TOP
(default 10) processes by system calls made during that second.
Needs tracefs: mount -t tracefs nodev /sys/kernel/tracing`;

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '(exited)';
  }
}

runSample(async () => {
  deferStopSignals();
  const { values, duration } = sampleArgs(USAGE, { top: { type: 'string', default: '10' } });
  const top = Number(values.top);
  if (!Number.isInteger(top) || top <= 0) fail(`--top must be a positive integer, not '${values.top}'`);
  if (!tracefsRoot()) fail('syscount: tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing');

  const object = await loadBpfFile(fixture('syscount_kern.o'), { attach: true });
  const counts = object.map('syscalls_by_tgid').typed(u32, u64);
  let previous = new Map<number, bigint>();
  console.log(`syscount: counting system calls per process (prog id ${object.programs[0]!.id})`);
  everySecond(
    duration,
    () => {
      const now = new Map<number, bigint>();
      counts.forEach((pid, count) => void now.set(pid, count));
      const deltas = [...now]
        .map(([pid, count]) => [pid, count - (previous.get(pid) ?? 0n)] as const)
        .filter(([, delta]) => delta > 0n)
        .sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0] - b[0]))
        .slice(0, top);
      previous = now;
      console.log(`${'PID'.padStart(8)}  ${'COMM'.padEnd(16)}  SYSCALLS/s`);
      for (const [pid, delta] of deltas) console.log(`${String(pid).padStart(8)}  ${comm(pid).padEnd(16)}  ${delta}`);
      console.log('');
    },
    () => object.close(),
  );
});
