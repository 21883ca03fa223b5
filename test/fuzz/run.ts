/**
 * `npm run fuzz`: thousands of mutants of every fixture through parseObject
 * and, when bpf(2) is usable, loadBpfObject against the real kernel.
 *
 *   node dist/test/fuzz/run.js [--seed N] [--per-fixture N] [--no-kernel]
 *   node dist/test/fuzz/run.js --replay FIXTURE:SEED      one mutant, with its error
 *
 * Exit status 1 when any mutant fails (printed with the seed that rebuilds it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BPF_MAP_TYPE, mapCreate } from '../../syscall/index.js';
import { replay, runMutant, type FuzzFailure } from './harness.js';
import { fuzzWithWatchdog } from './worker.js';

function kernelUsable(): boolean {
  try {
    mapCreate({ map_type: BPF_MAP_TYPE.ARRAY, key_size: 4, value_size: 4, max_entries: 1, map_flags: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    'per-fixture': { type: 'string', default: '1000' },
    'no-kernel': { type: 'boolean', default: false },
    replay: { type: 'string' },
  },
});

const kernel = !values['no-kernel'] && kernelUsable();

/**
 * tc objects pin their maps; a private bpffs mount lets the fuzz load them
 * without touching /sys/fs/bpf. Root only (mount); otherwise they are parsed only.
 */
function privateBpffs(): { path: string; release(): void } | undefined {
  if (!kernel || process.getuid?.() !== 0) return undefined;
  const path = mkdtempSync(join(tmpdir(), 'bpf-load-fuzz-bpffs-'));
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpf', path]);
  } catch {
    rmSync(path, { recursive: true, force: true });
    return undefined;
  }
  return {
    path,
    release() {
      execFileSync('umount', [path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

if (values.replay) {
  const [fixture, seedText] = values.replay.split(':');
  const mutant = replay(fixture!, Number(seedText));
  console.log(`replay ${fixture} seed ${seedText}:\n  ${mutant.steps.join('\n  ')}`);
  const bpffs = privateBpffs();
  const result = (() => {
    try {
      return runMutant(mutant.bytes, `${fixture}~${seedText}`, kernel, bpffs?.path);
    } finally {
      bpffs?.release();
    }
  })();
  console.log('outcome' in result ? `outcome: ${result.outcome}${result.message ? `\n${result.message}` : ''}` : `FAIL: ${result.problem}`);
  process.exitCode = 'outcome' in result ? 0 : 1;
} else {
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() ^ process.pid) >>> 0;
  const perFixture = Number(values['per-fixture']);
  const bpffs = privateBpffs();
  console.log(
    `fuzz: seed ${seed}, ${perFixture} mutants per fixture, ${kernel ? 'loading into the kernel' : 'parse only (no bpf(2))'}` +
      `${bpffs ? `, tc objects pinned in a private bpffs at ${bpffs.path}` : ''}`,
  );
  const started = performance.now();
  const printFailure = (f: FuzzFailure) =>
    console.log(`FAIL ${f.fixture} seed ${f.seed}: ${f.problem}\n  ${f.steps.join('\n  ')}\n  replay: node dist/test/fuzz/run.js --replay ${f.fixture}:${f.seed}`);
  let report;
  try {
    report = await fuzzWithWatchdog(seed, perFixture, kernel, printFailure, bpffs?.path);
  } finally {
    bpffs?.release();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`fuzz: ${report.mutants} mutants in ${seconds} s, seed ${seed}`);
  for (const [outcome, count] of Object.entries(report.outcomes)) console.log(`  ${outcome.padEnd(15)} ${count}`);
  console.log(`  ${'FAILED'.padEnd(15)} ${report.failures.length}`);
  process.exitCode = report.failures.length ? 1 : 0;
}
