// libbpf-bootstrap's `bootstrap` in TypeScript, through the typed skeleton of
// fixtures/samples-modern/bootstrap.bpf.o (samples/skel/bootstrap.skel.ts):
// the sched_process_exec and sched_process_exit tracepoints send every exec
// and exit of a process (its parent read from task_struct through CO-RE)
// into a ring buffer; this side prints them. -d sets `min_duration_ns`, a
// `const volatile` in .rodata, before the load: then only the exits of
// processes that lived at least that long are sent. Its records are decoded
// as the object's own `struct event` (gen-types --type event: records.event).
//   sudo node dist/samples/bootstrap.js [-d MIN_MS] [-v] [--duration N]
import { openRingBufferReader } from '../loader/index.js';
import { closingOnError, deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';
import { load } from './skel/bootstrap.skel.js';

const USAGE = `usage: bootstrap [-d MIN_MS] [-v] [--duration N]
Traces process start and exit: prints a line for every exec (command, pid,
parent pid, file run) and every exit (exit code, how long the process ran
since its exec).
  -d, --min-duration MIN_MS  only exits of processes that ran at least MIN_MS
                             milliseconds, and no execs
  -v, --verbose              also print the loader's warnings and what it made`;

function time(): string {
  return new Date().toTimeString().slice(0, 8);
}

runSample(async () => {
  deferStopSignals();
  const { values, duration } = sampleArgs(USAGE, {
    'min-duration': { type: 'string', short: 'd' },
    verbose: { type: 'boolean', short: 'v', default: false },
  });
  const minMs = values['min-duration'] === undefined ? 0 : Number(values['min-duration']);
  if (!Number.isInteger(minMs) || minMs < 0) fail(`-d must be a whole number of milliseconds, not '${values['min-duration']}'`);
  const verbose = values.verbose === true;

  const skel = await load(fixture('samples-modern/bootstrap.bpf.o'), {
    variables: { min_duration_ns: BigInt(minMs) * 1_000_000n },
    attach: true,
    ...(verbose ? { onWarning: (message: string) => console.error(`bootstrap: ${message}`) } : {}),
  });
  const reader = closingOnError(skel, () => openRingBufferReader(skel.maps.rb));
  if (verbose) {
    for (const map of skel.object.maps) console.error(`bootstrap: map ${map.name} (${map.typeName}, id ${map.id})`);
    for (const [name, program] of Object.entries(skel.programs)) console.error(`bootstrap: program ${name} (id ${program.id})`);
    console.error(`bootstrap: min_duration_ns = ${skel.variables.min_duration_ns.get()}`);
  }
  console.log(`${'TIME'.padEnd(8)} ${'EVENT'.padEnd(5)} ${'COMM'.padEnd(16)} ${'PID'.padEnd(7)} ${'PPID'.padEnd(7)} FILENAME/EXIT CODE`);
  const { event } = skel.records;
  void (async () => {
    for await (const record of reader) {
      const e = event.decode(record.data);
      const head = `${time()} ${(e.exit_event ? 'EXIT' : 'EXEC').padEnd(5)} ${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)}`;
      if (!e.exit_event) console.log(`${head} ${e.filename}`);
      else console.log(`${head} [${e.exit_code}]${e.duration_ns ? ` (${e.duration_ns / 1_000_000n}ms)` : ''}`);
    }
  })();
  everySecond(duration, () => {}, () => {
    if (verbose) console.error(`bootstrap: ${skel.maps.exec_start.count()} processes seen at exec are still running`);
    reader.close();
    skel.close();
  });
});
