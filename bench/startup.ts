import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { u32, u64 } from '../loader/maps/codecs.js';
import { BPF_MAP_TYPE } from '../syscall/index.js';
import { PinnedBenchMaps } from './pinnedMaps.js';
import { median } from './stats.js';

/**
 * Start-up of whole processes, the CLI as a user has it: the `npm pack`
 * tarball installed into a new project, its bin run from there. Side by side
 * with `node -e 0` and with a minimal yargs CLI (one command, two options)
 * bundled by esbuild as the CLI is, built here: what any bundled yargs CLI
 * costs, against which the CLI's own work is measured. Every command runs
 * once per round, in turn, so all see the same machine load; wall time from
 * spawn to exit, median of the rounds.
 */

export interface StartupResult {
  name: string;
  medianMs: number;
  /** median of this command / median of `node -e 0` */
  ratio: number;
  /** median of this command / median of the minimal yargs CLI doing the like (its --help, or its command) */
  ratioToYargs?: number;
}

/** The minimal yargs CLI: one command, two options. */
const MINIMAL_CLI = `import Yargs from 'yargs/yargs';
Yargs(process.argv.slice(2))
  .scriptName('minimal')
  .command('$0 <file>', 'print the file', (y) => y
    .positional('file', { type: 'string', describe: 'a file' })
    .option('json', { type: 'boolean', describe: 'as JSON' })
    .option('verbose', { type: 'boolean', describe: 'say more' }),
  (args) => console.log(args.json ? JSON.stringify(args.file) : args.file))
  .strict()
  .parse();
`;

function sh(command: string, args: string[], cwd: string): string {
  const child = spawnSync(command, args, {
    cwd, encoding: 'utf8', timeout: 300_000,
    env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' },
  });
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} in ${cwd} exited ${child.status}: ${child.stderr}`);
  return child.stdout;
}

/** The package packed from `repo` (built already) and installed into a new project; returns the project's bin of the CLI. */
function installPacked(repo: string, work: string): string {
  const tarball = sh('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], repo).trim().split('\n').pop()!;
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'startup-bench', version: '1.0.0', private: true }));
  sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball)], project);
  // what node_modules/.bin/load-kern-object (npm's link) points at: run with node, as the other commands are
  return realpathSync(join(project, 'node_modules', '.bin', 'load-kern-object'));
}

/** The minimal yargs CLI, bundled into one CommonJS file with the same esbuild settings as the CLI's. */
async function buildMinimal(repo: string, work: string): Promise<string> {
  const require = createRequire(join(repo, 'package.json'));
  const { build } = (await import(pathToFileURL(require.resolve('esbuild')).href)) as typeof import('esbuild');
  const source = join(work, 'minimal.mjs');
  writeFileSync(source, MINIMAL_CLI);
  const outfile = join(work, 'minimal.cjs');
  await build({
    entryPoints: [source], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    nodePaths: [join(repo, 'node_modules')], logLevel: 'warning',
  });
  return outfile;
}

function wallMs(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (child.status !== 0) throw new Error(`${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  return ms;
}

export async function runStartup(repo: string, fixture: string, rounds: number): Promise<StartupResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'bpf-load-startup-'));
  const maps = new PinnedBenchMaps();
  try {
    const cli = installPacked(repo, work);
    const minimal = await buildMinimal(repo, work);
    const map = maps.create(BPF_MAP_TYPE.HASH, 'bench_start', 64);
    map.typed(u32, u64).updateBatch(Array.from({ length: 16 }, (_, i) => [i, BigInt(i)] as const));
    const pin = maps.pin(map, 'flows');
    // [name, argv, index of the minimal yargs command it is compared with]
    const commands: [string, string[], number | undefined][] = [
      ['node -e 0', ['-e', '0'], undefined],
      ['minimal yargs CLI --help', [minimal, '--help'], undefined],
      ['minimal yargs CLI FILE', [minimal, fixture], undefined],
      ['--help', [cli, '--help'], 1],
      ['--dry-run FILE', [cli, '--dry-run', fixture], 2],
      ['dump PIN (16 entries)', [cli, 'dump', pin], 2],
    ];
    for (const [, args] of commands) wallMs(args);
    const samples = commands.map((): number[] => []);
    for (let round = 0; round < rounds; round++) {
      commands.forEach(([, args], i) => samples[i]!.push(wallMs(args)));
    }
    const medians = samples.map(median);
    return commands.map(([name, , like], i) => ({
      name,
      medianMs: medians[i]!,
      ratio: medians[i]! / medians[0]!,
      ...(like !== undefined ? { ratioToYargs: medians[i]! / medians[like]! } : {}),
    }));
  } finally {
    maps.removeAll();
    rmSync(work, { recursive: true, force: true });
  }
}
