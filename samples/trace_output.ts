// samples/bpf/trace_output in TypeScript: a tracepoint program sends the pid
// and command name of every execve() through a perf event array; this side
// prints each one and counts events per second.
//   sudo node dist/samples/trace_output.js [--duration N] [--quiet]
import { loadBpfFile, openPerfEventReader, tracefsRoot } from '../loader/index.js';
import { deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';

const USAGE = `usage: trace_output [--duration N] [--quiet]
Prints the pid and command of every process that calls execve(), as the
syscalls/sys_enter_execve tracepoint program of fixtures/trace_output_kern.o
sends them through its perf event array, and every second how many there
were (--quiet: only the counts).
Needs tracefs: mount -t tracefs nodev /sys/kernel/tracing`;

runSample(async () => {
  deferStopSignals();
  const { values, duration } = sampleArgs(USAGE, { quiet: { type: 'boolean', default: false } });
  if (!tracefsRoot()) fail('trace_output: tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing');

  const object = await loadBpfFile(fixture('trace_output_kern.o'), { attach: true });
  let reader;
  try {
    reader = openPerfEventReader(object.map('my_map'));
  } catch (error) {
    object.close();
    throw error;
  }
  let events = 0;
  let lost = 0;
  console.log('trace_output: pid and command of every execve()');
  void (async () => {
    // struct exec_event { u32 pid; u32 tid; char comm[16]; }
    for await (const record of reader) {
      if (record.lost) {
        lost += record.lost;
        continue;
      }
      events++;
      if (values.quiet) continue;
      const comm = record.data.subarray(8, 24);
      const end = comm.indexOf(0);
      console.log(`pid ${record.data.readUInt32LE(0)} ${comm.subarray(0, end < 0 ? comm.length : end).toString('latin1')}`);
    }
  })();
  everySecond(
    duration,
    () => {
      console.log(`${events} events/s${lost ? ` (${lost} lost)` : ''}`);
      events = 0;
      lost = 0;
    },
    () => {
      reader.close();
      object.close();
    },
  );
});
