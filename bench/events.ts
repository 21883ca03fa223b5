import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attachTracepoint, loadBpfFile, openPerfEventReader, openRingBufferReader, tracefsRoot, u32, type BpfObject, type EventReader,
} from '../loader/index.js';
import { onlineCpus } from '../loader/maps/perCpu.js';
import { compileLibrary } from './compile.js';
import { printTable } from './table.js';

/**
 * Records per second through both readers, against a libbpf-free C reader
 * (bench/c/eventreader.c) doing the same: fixtures/events_kern.o sends a
 * 16-byte record on every getuid() of one process, bench/c/getuid_loop.c,
 * which calls it as fast as one CPU can. Each side reads the same number of
 * records from a generator started (SIGCONT) once its reader is ready.
 *   BENCH_EVENTS (default 1000000) records per measurement
 *   BENCH_EVENTS_MEMORY (default 0) records for the memory run (10000000 for the check)
 */

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 1_000_000);
const MEMORY_EVENTS = Number(process.env['BENCH_EVENTS_MEMORY'] ?? 0);
const OUT_PERF = 1;
const OUT_RING = 2;
// 1 MiB per CPU, as large as the ring buffer: a reader stalled by a busy machine loses nothing for longer
const PERF_PAGES = 256;
const PAUSE_MS = 1000;

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const build = join(repo, 'bench', 'build');

interface Result {
  records: number;
  lost: number;
  seconds: number;
  /** CPU time this process spent (user + system, every thread), in seconds */
  cpu?: number;
}

interface CReader {
  /** reads CPUs 0 to the highest one online */
  perf(mapFd: number, pages: number, generator: number, expect: number): Result;
  ring(mapFd: number, size: number, generator: number, expect: number): Result;
}

function buildC(): { reader: CReader; generator: string } {
  const lib = compileLibrary(join(repo, 'bench', 'c', 'eventreader.c'), join(build, 'libeventreader.so'));
  const generator = join(build, 'getuid_loop');
  execFileSync('cc', ['-O2', '-Wall', '-o', generator, join(repo, 'bench', 'c', 'getuid_loop.c')], { stdio: 'inherit' });
  const perf = lib.func('int bench_perf(int map_fd, int ncpus, int pages, int generator, uint64_t expect, _Out_ uint64_t *out)');
  const ring = lib.func('int bench_ring(int map_fd, uint32_t size, int generator, uint64_t expect, _Out_ uint64_t *out)');
  const cpus = Math.max(...onlineCpus()) + 1;
  const result = (ret: number, out: bigint[], what: string): Result => {
    if (ret < 0) throw new Error(`the C ${what} reader failed (${ret})`);
    return { records: Number(out[0]), lost: Number(out[1]), seconds: Number(out[2]) / 1e9 };
  };
  return {
    generator,
    reader: {
      perf: (fd, pages, gen, expect) => {
        const out = [0n, 0n, 0n];
        return result(perf(fd, cpus, pages, gen, expect, out) as number, out, 'perf');
      },
      ring: (fd, size, gen, expect) => {
        const out = [0n, 0n, 0n];
        return result(ring(fd, size, gen, expect, out) as number, out, 'ring');
      },
    },
  };
}

/** A generator stopped before its first getuid(); resolves once it is stopped. */
async function startGenerator(path: string, count: number, rate = 0): Promise<ChildProcess> {
  const child = spawn(path, [String(count), String(rate)], { stdio: 'ignore' });
  for (;;) {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) T /.test(stat)) return child;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Read `expect` records (or lost ones), timing from SIGCONT to the last; a second without records ends it. */
async function readTs(reader: EventReader<{ data: Buffer; lost?: number }>, generator: ChildProcess, expect: number): Promise<Result> {
  let records = 0;
  let lost = 0;
  let sum = 0;
  let last = 0n;
  const idle = setTimeout(() => reader.close(), PAUSE_MS);
  generator.kill('SIGCONT');
  const start = process.hrtime.bigint();
  while (records + lost < expect) {
    const batch = await reader.readBatch(4096);
    if (batch.length === 0) break;
    idle.refresh();
    for (const record of batch) {
      if (record.lost) lost += record.lost;
      else {
        // touch the record, as a consumer would
        sum += record.data[0]!;
        records++;
      }
    }
    last = process.hrtime.bigint();
  }
  clearTimeout(idle);
  reader.close();
  void sum;
  return { records, lost, seconds: Number(last - start) / 1e9 };
}

type Side = 'perf' | 'ring';

async function measure(object: BpfObject, c: CReader, generatorPath: string, side: Side, language: 'C' | 'TS', count: number, rate = 0): Promise<Result> {
  const generator = await startGenerator(generatorPath, count, rate);
  const config = object.map('config').typed(u32, u32);
  config.update(0, generator.pid!);
  config.update(1, side === 'perf' ? OUT_PERF : OUT_RING);
  const before = process.cpuUsage();
  try {
    const result = await run();
    const used = process.cpuUsage(before);
    return { ...result, cpu: (used.user + used.system) / 1e6 };
  } finally {
    generator.kill('SIGKILL');
    await exited(generator);
    config.update(1, 0);
  }

  async function run(): Promise<Result> {
    const map = object.map(side === 'perf' ? 'perf_events' : 'ring');
    if (language === 'C') {
      return side === 'perf' ? c.perf(map.fd, PERF_PAGES, generator.pid!, count) : c.ring(map.fd, map.maxEntries, generator.pid!, count);
    }
    const reader = side === 'perf' ? openPerfEventReader(map, { perCpuPages: PERF_PAGES }) : openRingBufferReader(map);
    return await readTs(reader, generator, count);
  }
}

/** µs of this process's CPU per record read */
function cpuPerRecord(result: Result): number {
  return result.records > 0 ? ((result.cpu ?? 0) * 1e6) / result.records : 0;
}

function rate(result: Result): number {
  return result.seconds > 0 ? result.records / result.seconds : 0;
}

/** The events benchmark: prints its table; resolves when done. */
export async function eventsBench(): Promise<void> {
  if (!tracefsRoot()) execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
  const { reader: c, generator } = buildC();
  const object = await loadBpfFile(join(repo, 'fixtures', 'events_kern.o'));
  const attachment = attachTracepoint(object.program('emit_on_getuid'), 'syscalls', 'sys_enter_getuid');
  try {
    console.log(`\nevents: ${EVENTS} records of 16 bytes per measurement, from getuid() in a loop (one CPU), C reader vs TypeScript`);
    const rows: string[][] = [];
    for (const side of ['perf', 'ring'] as const) {
      const cResult = await measure(object, c, generator, side, 'C', EVENTS);
      const tsResult = await measure(object, c, generator, side, 'TS', EVENTS);
      const ratio = rate(tsResult) / rate(cResult);
      rows.push([
        side === 'perf' ? `perf buffer (${PERF_PAGES} pages/CPU)` : `ring buffer (${object.map('ring').maxEntries >> 10} KiB)`,
        rate(cResult).toFixed(0), rate(tsResult).toFixed(0), `${(ratio * 100).toFixed(0)}%`, ratio >= 0.8 ? 'ok (≥ 80%)' : 'MISSED (< 80%)',
        `${cResult.records}/${cResult.lost}`, `${tsResult.records}/${tsResult.lost}`,
        cpuPerRecord(cResult).toFixed(2), cpuPerRecord(tsResult).toFixed(2),
      ]);
    }
    printTable(['reader', 'C rec/s', 'TS rec/s', 'TS/C', 'target', 'C read/lost', 'TS read/lost', 'C cpu µs/rec', 'TS cpu µs/rec'], rows, 1, 8);
    console.log('(rec/s is end to end: the generator on one CPU is the bottleneck, and a reader that wakes for every record slows it;\n' +
      ' cpu µs/rec is what reading costs this process, every thread counted)');

    const steady: string[][] = [];
    for (const side of ['perf', 'ring'] as const) {
      const result = await measure(object, c, generator, side, 'TS', 100_000, 100_000);
      steady.push([side, String(result.records), String(result.lost), result.records === 100_000 && result.lost === 0 ? 'ok' : 'MISSED']);
    }
    console.log(`\n100k records at 100k/s through the TypeScript readers (target: none lost)`);
    printTable(['reader', 'read', 'lost', 'verdict'], steady, 1, 3);

    if (MEMORY_EVENTS > 0) {
      for (const side of ['perf', 'ring'] as const) {
        const rss: number[] = [];
        const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 250);
        const result = await measure(object, c, generator, side, 'TS', MEMORY_EVENTS);
        clearInterval(sampler);
        const settled = rss.slice(Math.floor(rss.length / 4));
        const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
        console.log(
          `memory, ${side}: ${result.records} records (${result.lost} lost) in ${result.seconds.toFixed(1)} s; RSS after the first quarter ` +
            `${mb(Math.min(...settled))}–${mb(Math.max(...settled))} MiB, at the end ${mb(settled[settled.length - 1] ?? 0)} MiB`,
        );
      }
    }
  } finally {
    attachment.close();
    object.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await eventsBench();
