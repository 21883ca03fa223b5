import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ElfError } from '../../elf/index.js';
import { parseObject } from '../../loader/load/loadBpfFile.js';
import { LoadError, isBpfLoadError } from '../../loader/errors.js';
import { loadBpfObject } from '../../loader/load/loadBpfFile.js';
import { mapRowsFromSpec, renderMapTable } from '../../loader/cli/mapTable.js';
import type { MapData } from '../../loader/index.js';
import { openBpfFdCount } from '../../syscall/index.js';
import { fixturePath } from '../support/fixtures.js';
import { processFdCount } from '../support/kernel.js';
import { layoutOf, mutantSeed, mutate, type Layout } from './mutate.js';

/** How one mutant ended. Every kind here is acceptable; anything else is a `FuzzFailure`. */
export type Outcome =
  | 'refused-elf' // parseObject threw an ElfError
  | 'parsed' // parsed; no kernel in this run
  | 'loaded' // parsed and the kernel took every map (and program)
  | 'refused-kernel' // a LoadError / SyscallError carrying an errno
  | 'refused-loader'; // a project error without errno (endianness, map-in-map cycle, ...)

export interface FuzzFailure {
  fixture: string;
  seed: number;
  steps: string[];
  problem: string;
}

/** A mutant that takes this long has found a loop, not a slow path: the parser is linear in the file. */
export const HANG_MS = 2000;

/** Every committed object, so fixtures added later (programs, tc...) are fuzzed without editing this list. */
export function fuzzFixtures(): { name: string; bytes: Uint8Array; layout: Layout }[] {
  const dir = fixturePath('');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.o'))
    .sort()
    .map((name) => {
      const bytes = readFileSync(fixturePath(name));
      return { name, bytes, layout: layoutOf(bytes) };
    });
}

/**
 * The kernel would gladly try a 4G-entry map or 4 MB values from a mutated
 * def and eat the machine's memory; the fuzz is after the loader's handling
 * of odd defs, not the kernel's allocator, so sizes are clamped to what any
 * real object uses. Everything else (type, flags, inner_map_idx, numa_node)
 * reaches the kernel as mutated.
 */
function clampMap(map: MapData): void {
  map.def.max_entries = Math.min(map.def.max_entries, 1024);
  map.def.key_size = Math.min(map.def.key_size, 4096);
  map.def.value_size = Math.min(map.def.value_size, 4096);
}

function errorSummary(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

/**
 * Parse one mutant, and when `kernel` is set load it for real and close it.
 * Returns the outcome, or a failure: an error that is not ours, a hang, a
 * project error without the file's name, or an fd left open.
 */
export function runMutant(
  bytes: Uint8Array,
  file: string,
  kernel: boolean,
  /** a private bpffs mount: tc objects pin there, so they are loaded too (never into the system's /sys/fs/bpf) */
  tcBpffs?: string,
): { outcome: Outcome; message?: string } | { problem: string } {
  const bpfFdsBefore = openBpfFdCount();
  const processFdsBefore = kernel ? processFdCount() : 0;
  const started = performance.now();
  let outcome: Outcome;
  let message: string | undefined;
  try {
    const tc = file.startsWith('tc_');
    const spec = parseObject(bytes, { file, convention: tc ? 'tc' : 'samples' });
    // what `load-kern-object --dry-run [--json]` would print from it
    const rows = mapRowsFromSpec(spec);
    renderMapTable(rows, false);
    JSON.stringify(rows);
    // tc objects pin (tc/globals): loaded only with a private bpffs, parsed only otherwise
    if (kernel && (!tc || tcBpffs !== undefined)) {
      // attach: false — a mutated tracepoint program must not end up attached to this machine
      const object = loadBpfObject(spec, {
        fixupMap: clampMap,
        attach: false,
        onWarning: () => {},
        ...(tc ? { bpffs: tcBpffs! } : {}),
      });
      object.close();
      outcome = 'loaded';
    } else {
      outcome = 'parsed';
    }
  } catch (error) {
    // a bug wrapped in one of our errors is still a bug: look down the cause chain
    for (let level: unknown = error; level !== undefined && level !== null; level = (level as Error).cause) {
      if (!isBpfLoadError(level)) return { problem: `not a project error: ${errorSummary(level)}` };
    }
    if (!isBpfLoadError(error)) return { problem: `not a project error: ${errorSummary(error)}` };
    if (!error.message.includes(file)) return { problem: `error does not name the file: ${error.message}` };
    message = error.message;
    if (error instanceof ElfError) outcome = 'refused-elf';
    else if ((error as { errno?: number }).errno !== undefined) outcome = 'refused-kernel';
    else if (error instanceof LoadError) outcome = 'refused-loader';
    else outcome = 'refused-kernel';
  }
  const elapsed = performance.now() - started;
  if (elapsed > HANG_MS) return { problem: `took ${Math.round(elapsed)} ms (> ${HANG_MS} ms): a loop that should not be there` };
  const bpfFdsAfter = openBpfFdCount();
  if (bpfFdsAfter !== bpfFdsBefore) return { problem: `BpfFd count ${bpfFdsBefore} -> ${bpfFdsAfter} after ${outcome}` };
  if (kernel) {
    const processFdsAfter = processFdCount();
    if (processFdsAfter !== processFdsBefore) {
      return { problem: `/proc/self/fd count ${processFdsBefore} -> ${processFdsAfter} after ${outcome}` };
    }
  }
  return message === undefined ? { outcome } : { outcome, message };
}

export interface FuzzReport {
  mutants: number;
  outcomes: Record<Outcome, number>;
  failures: FuzzFailure[];
}

/** Where a run is, for a watchdog in another thread: [mutants started, fixture index, mutant number]. */
export type Progress = Int32Array;

/** `perFixture` mutants of every fixture, seeded from `runSeed`. */
export function fuzz(
  runSeed: number,
  perFixture: number,
  kernel: boolean,
  onFailure?: (f: FuzzFailure) => void,
  progress?: Progress,
  tcBpffs?: string,
): FuzzReport {
  const report: FuzzReport = {
    mutants: 0,
    outcomes: { 'refused-elf': 0, parsed: 0, loaded: 0, 'refused-kernel': 0, 'refused-loader': 0 },
    failures: [],
  };
  for (const [fixtureIndex, fixture] of fuzzFixtures().entries()) {
    for (let n = 0; n < perFixture; n++) {
      if (progress) {
        Atomics.store(progress, 1, fixtureIndex);
        Atomics.store(progress, 2, n);
        Atomics.add(progress, 0, 1);
      }
      const seed = mutantSeed(runSeed, fixture.name, n);
      const mutant = mutate(fixture.bytes, fixture.layout, seed);
      const result = runMutant(mutant.bytes, `${fixture.name}~${seed}`, kernel, tcBpffs);
      report.mutants++;
      if ('outcome' in result) {
        report.outcomes[result.outcome]++;
      } else {
        const failure = { fixture: fixture.name, seed, steps: mutant.steps, problem: result.problem };
        report.failures.push(failure);
        onFailure?.(failure);
      }
    }
  }
  return report;
}

/** Rebuild one mutant from its fixture and seed, as printed in a failure. */
export function replay(fixtureName: string, seed: number): { bytes: Uint8Array; steps: string[] } {
  const bytes = readFileSync(fixturePath(fixtureName));
  return mutate(bytes, layoutOf(bytes), seed);
}
