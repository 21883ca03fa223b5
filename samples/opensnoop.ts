// bcc's libbpf-tools `opensnoop` in TypeScript, through the typed skeleton of
// fixtures/samples-modern/opensnoop.bpf.o (samples/skel/opensnoop.skel.ts):
// open(2) and openat(2) traced at the syscall tracepoints, each call printed
// with its result once it returns (sent through a perf event array). The
// filters -p, -t, -u and -x are `const volatile` variables set before the
// load: the program itself drops what is not asked for. Its records are decoded
// as the object's own `struct event` (gen-types --type event: records.event).
//   sudo node dist/samples/opensnoop.js [-p PID] [-t TID] [-u UID] [-x] [-n NAME] [-T] [-U] [-e] [-d SECS]
import { openPerfEventReader } from '../loader/index.js';
import { closingOnError, deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';
import { load } from './skel/opensnoop.skel.js';

const USAGE = `usage: opensnoop [-p PID] [-t TID] [-u UID] [-x] [-n NAME] [-T] [-U] [-e] [-d SECS]
Traces open() and openat(): a line per call, with the file descriptor it
returned (-1 and ERR, the errno, when it failed) and the path asked for.
  -p, --pid PID       only this process
  -t, --tid TID       only this thread
  -u, --uid UID       only this user id
  -x, --failed        only the calls that failed
  -n, --name NAME     only commands whose name contains NAME
  -T, --timestamp     print a timestamp (seconds since the start)
  -U, --print-uid     print the user id
  -e, --extended      print the open flags (octal)
  -d, --duration SECS trace for SECS seconds (default: until Ctrl-C)`;

function id(values: Record<string, unknown>, name: string, what: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n > 0xfffffffe) fail(`--${name} must be ${what}, not '${String(raw)}'`);
  return n;
}

runSample(async () => {
  deferStopSignals();
  const { values, duration } = sampleArgs(USAGE, {
    duration: { type: 'string', short: 'd' },
    pid: { type: 'string', short: 'p' },
    tid: { type: 'string', short: 't' },
    uid: { type: 'string', short: 'u' },
    failed: { type: 'boolean', short: 'x', default: false },
    name: { type: 'string', short: 'n' },
    timestamp: { type: 'boolean', short: 'T', default: false },
    'print-uid': { type: 'boolean', short: 'U', default: false },
    extended: { type: 'boolean', short: 'e', default: false },
  });
  const pid = id(values, 'pid', 'a process id');
  const tid = id(values, 'tid', 'a thread id');
  const uid = id(values, 'uid', 'a user id');
  const name = values.name as string | undefined;

  const skel = await load(fixture('samples-modern/opensnoop.bpf.o'), {
    variables: {
      ...(pid !== undefined ? { targ_pid: pid } : {}),
      ...(tid !== undefined ? { targ_tid: tid } : {}),
      ...(uid !== undefined ? { targ_uid: uid } : {}),
      targ_failed: values.failed === true,
    },
    attach: true,
  });
  const reader = closingOnError(skel, () => openPerfEventReader(skel.maps.events));
  const header = [
    ...(values.timestamp ? ['TIME(s)'.padEnd(9)] : []),
    ...(values['print-uid'] ? ['UID'.padEnd(7)] : []),
    'PID'.padEnd(7), 'COMM'.padEnd(16), 'FD'.padStart(3), 'ERR'.padStart(3),
    ...(values.extended ? ['FLAGS'.padEnd(8)] : []),
    'PATH',
  ];
  console.log(header.join(' '));
  const { event } = skel.records;
  let first: bigint | undefined;
  let lost = 0;
  void (async () => {
    for await (const record of reader) {
      if (record.lost) {
        lost += record.lost;
        continue;
      }
      const e = event.decode(record.data);
      if (name !== undefined && !e.comm.includes(name)) continue;
      first ??= e.ts_ns;
      const line = [
        ...(values.timestamp ? [(Number(e.ts_ns - first) / 1e9).toFixed(3).padEnd(9)] : []),
        ...(values['print-uid'] ? [String(e.uid).padEnd(7)] : []),
        String(e.pid).padEnd(7), e.comm.padEnd(16),
        String(e.ret >= 0 ? e.ret : -1).padStart(3), String(e.ret >= 0 ? 0 : -e.ret).padStart(3),
        ...(values.extended ? [`0${(e.flags >>> 0).toString(8)}`.padEnd(8)] : []),
        e.fname,
      ];
      console.log(line.join(' '));
    }
  })();
  everySecond(duration, () => {
    if (lost) console.error(`opensnoop: ${lost} events lost`);
    lost = 0;
  }, () => {
    reader.close();
    skel.close();
  });
});
