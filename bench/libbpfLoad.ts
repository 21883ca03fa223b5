import koffi from 'koffi';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BPFFS, isBpffs, mountBpffs } from '../loader/bpffs/bpffs.js';
import { median } from './stats.js';
import { printTable } from './table.js';

/**
 * Load time of libbpf 1.x on the modern corpus (fixtures/modern/*.bpf.o): bpf_object__open_mem +
 * bpf_object__load + close, timed in C (bench/c/libbpfload.c, linked with -lbpf), warmed, median
 * of many rounds. Another loader of the same objects (bpf-load's, once it loads them) is timed
 * side by side in the same rounds when given: `runLibbpfLoad(repo, { other })`.
 */

/** Another loader: loads the whole object and closes it again (sync or async). */
export type ModernLoader = (path: string, pinRoot: string) => unknown;

export interface LibbpfLoadRow {
  object: string;
  /** median µs of libbpf's whole load */
  libbpfUs: number;
  /** median µs of the other loader's, timed in the same rounds (absent without one) */
  otherUs?: number;
}

export interface LibbpfLoadResult {
  libbpfVersion: string;
  rows: LibbpfLoadRow[];
  /** objects left out, and why */
  skipped: string[];
}

export interface LibbpfLoadOptions {
  rounds?: number;
  warmup?: number;
  other?: ModernLoader;
  /** only these objects (file names in fixtures/modern) */
  only?: readonly string[];
}

interface LibbpfBench {
  load(path: string, pinRoot: string): number;
  version(): number;
}

function buildLibbpfBench(repo: string): LibbpfBench {
  const out = join(repo, 'bench', 'build', 'liblibbpfload.so');
  mkdirSync(join(repo, 'bench', 'build'), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-shared', '-fPIC', '-o', out, join(repo, 'bench', 'c', 'libbpfload.c'), '-lbpf'], { stdio: 'inherit' });
  const lib = koffi.load(out);
  const load = lib.func('double libbpf_bench_load(const char *path, const char *pin_root)');
  const version = lib.func('int libbpf_bench_version(void)');
  return { load: (path, pinRoot) => load(path, pinRoot) as number, version: () => version() as number };
}

async function timeOther(other: ModernLoader, path: string, pinRoot: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await other(path, pinRoot);
  return Number(process.hrtime.bigint() - t0);
}

/** The CPU the figures were taken on, with its Meltdown status (KPTI makes every system call dearer). */
export function cpuDescription(): string {
  let meltdown = 'unknown';
  try {
    meltdown = readFileSync('/sys/devices/system/cpu/vulnerabilities/meltdown', 'utf8').trim();
  } catch {
    // no sysfs entry: say unknown
  }
  return `${cpus().length} CPUs, ${cpus()[0]?.model ?? 'unknown CPU'} (meltdown: ${meltdown}), Linux ${release()}`;
}

/**
 * Times every corpus object libbpf loads whole (an object with a refused program, or refused
 * itself, is left out and listed); with `other`, that loader too, alternating who goes first.
 */
export async function runLibbpfLoad(repo: string, options: LibbpfLoadOptions = {}): Promise<LibbpfLoadResult> {
  const rounds = options.rounds ?? 41;
  const warmup = options.warmup ?? 20;
  const bench = buildLibbpfBench(repo);
  const version = bench.version();
  const modern = join(repo, 'fixtures', 'modern');
  // LIBBPF_PIN_BY_NAME maps go under a root of the bench's own, removed at the end
  if (!isBpffs(DEFAULT_BPFFS)) mountBpffs(DEFAULT_BPFFS);
  const pinRoot = mkdtempSync(join(DEFAULT_BPFFS, 'bpf_load_bench_'));
  const skipped: string[] = [];
  const objects: string[] = [];
  try {
    const names = readdirSync(modern).filter((f) => f.endsWith('.bpf.o') && (!options.only || options.only.includes(f))).sort();
    for (const name of names) {
      const path = join(modern, name);
      const ns = bench.load(path, pinRoot);
      if (ns < 0) {
        skipped.push(`${name}: libbpf does not load it whole here (errno ${-ns})`);
        continue;
      }
      if (options.other) {
        try {
          await timeOther(options.other, path, pinRoot);
        } catch (error) {
          skipped.push(`${name}: the other loader refuses it (${(error as Error).message.split('\n')[0]})`);
          continue;
        }
      }
      objects.push(name);
    }
    for (let round = 0; round < warmup; round++) {
      for (const name of objects) {
        bench.load(join(modern, name), pinRoot);
        if (options.other) await timeOther(options.other, join(modern, name), pinRoot);
      }
    }
    const rows: LibbpfLoadRow[] = [];
    for (const name of objects) {
      const path = join(modern, name);
      const libbpf: number[] = [];
      const other: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // who goes first alternates: the kernel frees closed maps later, from a workqueue
        if (options.other && round % 2 === 1) other.push(await timeOther(options.other, path, pinRoot));
        libbpf.push(bench.load(path, pinRoot));
        if (options.other && round % 2 === 0) other.push(await timeOther(options.other, path, pinRoot));
      }
      const row: LibbpfLoadRow = { object: name, libbpfUs: median(libbpf) / 1000 };
      if (options.other) row.otherUs = median(other) / 1000;
      rows.push(row);
    }
    return { libbpfVersion: `${Math.floor(version / 1000)}.${version % 1000}`, rows, skipped };
  } finally {
    rmSync(pinRoot, { recursive: true, force: true });
  }
}

/** The bench section: libbpf's figures, and the other loader's beside them when given. */
export async function libbpfLoadSection(repo: string, other?: ModernLoader, otherName = 'bpf-load'): Promise<LibbpfLoadResult> {
  const rounds = Number(process.env['BENCH_LIBBPF_ROUNDS'] ?? 21);
  const warmup = Number(process.env['BENCH_LIBBPF_WARMUP'] ?? 10);
  const started = Date.now();
  const options: LibbpfLoadOptions = { rounds, warmup };
  if (other) options.other = other;
  const result = await runLibbpfLoad(repo, options);
  console.log(
    `\nmodern objects (fixtures/modern): whole-object load of libbpf ${result.libbpfVersion} (open_mem + load + close, in C)` +
      `${other ? ` and ${otherName}` : ''}: µs, median of ${rounds} rounds after ${warmup} rounds of every object; ${cpuDescription()}`,
  );
  const table = result.rows.map((r) => [
    r.object, r.libbpfUs.toFixed(0), ...(other ? [r.otherUs!.toFixed(0), `${(r.otherUs! / r.libbpfUs).toFixed(2)}×`] : []),
  ]);
  if (other && result.rows.length > 0) {
    const ratios = result.rows.map((r) => r.otherUs! / r.libbpfUs);
    const geomean = Math.exp(ratios.reduce((sum, v) => sum + Math.log(v), 0) / ratios.length);
    table.push(['geometric mean', '', '', `${geomean.toFixed(2)}×`]);
  }
  printTable(['object', 'libbpf µs', ...(other ? [`${otherName} µs`, `${otherName}/libbpf`] : [])], table, 1, other ? 3 : 1);
  for (const line of result.skipped) console.log(`  left out: ${line}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}
