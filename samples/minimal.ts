// libbpf-bootstrap's `minimal` in TypeScript, through the typed skeleton of
// fixtures/samples-modern/minimal.bpf.o (samples/skel/minimal.skel.ts): a
// tracepoint on write(2) prints, with bpf_printk, the calls of one process,
// the one in `target_pid`, a `const volatile` set before the load. This side
// writes a dot to stderr every second (by default it traces itself) and prints
// the program's lines (those about that pid: another program's bpf_printk goes to the same place).
//   sudo node dist/samples/minimal.js [-p PID] [--duration N]
import { closeSync, constants, mkdirSync, openSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tracefsRoot } from '../loader/index.js';
import { closingOnError, deferStopSignals, everySecond, fail, fixture, runSample, sampleArgs } from './common.js';
import { load } from './skel/minimal.skel.js';

const USAGE = `usage: minimal [-p PID] [--duration N]
Loads fixtures/samples-modern/minimal.bpf.o with its target_pid set to PID
(default: this process), attaches its tracepoint on write(2), writes a dot to
stderr every second and prints what the program says through bpf_printk:
one line per write() of PID.
Needs tracefs: mount -t tracefs nodev /sys/kernel/tracing`;

/**
 * bpf_printk's lines, read from a tracefs instance of this process's own in which only the
 * bpf_trace_printk event is on: every instance gets each line, whereas reading the global
 * trace_pipe (what `cat trace_pipe` does) takes the lines away from every other reader.
 */
class PrintkReader {
  readonly #dir: string;
  readonly #fd: number;
  #partial = '';

  constructor(root: string) {
    this.#dir = join(root, 'instances', `bpf-load-minimal-${process.pid}`);
    mkdirSync(this.#dir);
    try {
      writeFileSync(join(this.#dir, 'events', 'bpf_trace', 'bpf_trace_printk', 'enable'), '1');
      this.#fd = openSync(join(this.#dir, 'trace_pipe'), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      rmdirSync(this.#dir);
      throw error;
    }
  }

  /** The whole lines that came since the last call. */
  lines(): string[] {
    const buffer = Buffer.alloc(65536);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, buffer);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw error;
      }
      if (n === 0) break;
      this.#partial += buffer.toString('utf8', 0, n);
    }
    const lines = this.#partial.split('\n');
    this.#partial = lines.pop()!;
    return lines.map((line) => line.trim()).filter((line) => line !== '');
  }

  close(): void {
    closeSync(this.#fd);
    rmdirSync(this.#dir);
  }
}

runSample(async () => {
  deferStopSignals();
  const { values, duration } = sampleArgs(USAGE, { pid: { type: 'string', short: 'p' } });
  const pid = values.pid === undefined ? process.pid : Number(values.pid);
  if (!Number.isInteger(pid) || pid <= 0) fail(`-p must be a process id, not '${values.pid}'`);
  const root = tracefsRoot();
  if (!root) fail('minimal: tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing');

  const skel = await load(fixture('samples-modern/minimal.bpf.o'), { variables: { target_pid: pid }, attach: true });
  const printk = closingOnError(skel, () => new PrintkReader(root));
  console.log(`minimal: write(2) calls of pid ${skel.variables.target_pid.get()} (prog id ${skel.programs.handle_write.id}):`);
  // the lines of a second in one write: tracing itself, each write() this side makes is a line more
  // every program's bpf_printk reaches the instance: keep this program's, about this pid
  const ours = ` BPF triggered from PID ${pid}.`;
  const print = (): void => {
    const lines = printk.lines().filter((line) => line.endsWith(ours));
    if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  };
  everySecond(
    duration,
    () => {
      process.stderr.write('.');
      print();
    },
    () => {
      print();
      printk.close();
      skel.close();
    },
  );
});
