import { expect } from 'chai';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';

/**
 * bpf-load as another project gets it: an `npm pack` tarball, a folder and a
 * git URL, each installed into a new project that imports it, runs its CLI
 * through npx and compiles against its types under strict settings. The
 * package is made from a clone of the committed tree, as CI and users see it.
 */

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

// a build or an install on a machine busy with other test runs takes minutes
function sh(command: string, args: string[], cwd: string, timeoutMs = 600_000): SpawnSyncReturns<string> {
  const child = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
  expect(child.error, `${command} ${args.join(' ')}: ${String(child.error)}`).to.equal(undefined);
  expect(child.status, `${command} ${args.join(' ')} in ${cwd} exited ${child.status}:\n${child.stdout}\n${child.stderr}`).to.equal(0);
  return child;
}

/** A new ESM project with a strict tsconfig, as a consumer of the package would have. */
function newProject(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', private: true }));
  return dir;
}

/** What every way of installing must give: the import, the CLI on npx's path, a load. */
function checkInstalled(project: string): void {
  copyFileSync(fixturePath('sockex1_kern.o'), join(project, 'sockex1_kern.o'));
  const script = [
    "import { loadBpfFileSync, isBpfLoadError } from 'bpf-load';",
    "const obj = loadBpfFileSync('sockex1_kern.o');",
    'console.log(obj.maps.map((m) => m.name).join(), obj.programs.length, typeof isBpfLoadError);',
    'obj.close();',
  ].join('\n');
  expect(sh(process.execPath, ['--input-type=module', '-e', script], project).stdout.trim()).to.equal('my_map 1 function');
  // a CommonJS consumer: Node >= 20.19 loads the ES module through require(), without a warning
  const required = sh(process.execPath, ['--input-type=commonjs', '-e', [
    "const { loadBpfFileSync, isBpfLoadError } = require('bpf-load');",
    "const { parseObject } = require('bpf-load/elf');",
    "const obj = loadBpfFileSync('sockex1_kern.o');",
    'console.log(obj.maps.map((m) => m.name).join(), typeof isBpfLoadError, typeof parseObject);',
    'obj.close();',
  ].join('\n')], project);
  expect(required.stdout.trim()).to.equal('my_map function function');
  expect(required.stderr).to.equal('');
  expect(sh('npx', ['--no-install', 'load-kern-object', '--version'], project).stdout.trim()).to.equal(version);
  expect(sh('npx', ['--no-install', 'load-kern-object', '--dry-run', 'sockex1_kern.o'], project).stdout).to.match(/my_map\s+array/);
}

/** npm 11 lists the dependencies whose install scripts the project has not approved (allowScripts): none may be listed. */
function expectNoUnreviewedScripts(install: SpawnSyncReturns<string>, what: string): void {
  expect(`${install.stdout}${install.stderr}`, what).to.not.match(/install scripts not yet covered by allowScripts|install-scripts/);
}

describe('package: installs into another project', function () {
  this.timeout(1_800_000);
  let work: string;
  let clone: string;
  let packed: string | undefined;

  /** `npm pack` of the clone, made once for the tests that need it, whichever of them runs first. */
  function tarball(): string {
    if (packed === undefined) {
      // the dev dependencies the build needs, without another install
      symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'));
      try {
        packed = join(work, sh('npm', ['pack', '--silent', '--pack-destination', work], clone).stdout.trim().split('\n').pop()!);
      } finally {
        rmSync(join(clone, 'node_modules'));
      }
    }
    return packed;
  }

  before(function () {
    requireKernel(this);
    requireTool(this, 'git');
    requireTool(this, 'npm');
    work = mkdtempSync(join(tmpdir(), 'bpf-load-package-'));
    clone = join(work, 'clone');
    sh('git', ['clone', '-q', '--no-hardlinks', repoRoot, clone], work);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('npm pack: a tarball with the built library, its types and the CLI, without tests', () => {
    const files = sh('tar', ['tzf', tarball()], work).stdout.split('\n');
    expect(files).to.include.members([
      'package/package.json', 'package/README.md', 'package/dist/loader/index.js', 'package/dist/loader/index.d.ts',
      'package/dist/loader/cli/bin.cjs', 'package/dist/elf/index.js', 'package/fixtures/include/bpf_legacy.h',
    ]);
    expect(files.filter((f) => /^package\/(dist\/)?(test|bench|samples)\//.test(f))).to.deep.equal([]);
  });

  it('the tarball installs: import, npx load-kern-object, and a strict TypeScript consumer', () => {
    const project = newProject(work, 'from-tarball');
    sh('npm', ['install', '--prefer-offline', tarball(), 'typescript@~5.9', '@types/node@20'], project);
    checkInstalled(project);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, target: 'ES2022', module: 'node16', moduleResolution: 'node16', types: ['node'],
        lib: ['ES2023', 'esnext.disposable'], noEmit: true, exactOptionalPropertyTypes: true,
      },
      include: ['main.ts'],
    }));
    writeFileSync(join(project, 'main.ts'), [
      "import { loadBpfFile, u32, type BpfLoadErrorCode, type LoadOptions, type MapInfo } from 'bpf-load';",
      "import { parseObject } from 'bpf-load/elf';",
      "const options: LoadOptions = { onWarning: (message) => console.warn(message) };",
      "using obj = await loadBpfFile('sockex1_kern.o', options);",
      "const info: MapInfo = obj.map('my_map').info;",
      "const code: BpfLoadErrorCode = 'BPF_LOAD_ELF';",
      "console.log(info.id, code, obj.map('my_map', { key: u32, value: u32 }).lookup(0), parseObject);",
    ].join('\n'));
    const tsc = sh(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);
    expect(tsc.stdout).to.equal('');
  });

  it('npm ci in a fresh clone runs the install scripts the package approved (allowScripts) and lists none as unreviewed', () => {
    const fresh = join(work, 'ci');
    sh('git', ['clone', '-q', '--no-hardlinks', repoRoot, fresh], work);
    expectNoUnreviewedScripts(sh('npm', ['ci', '--prefer-offline'], fresh), 'npm ci');
    expect(readdirSync(join(fresh, 'dist', 'loader'))).to.include('index.js');
  });

  it('a consumer that approved what the README says installs the tarball without a list of unreviewed scripts', () => {
    const project = newProject(work, 'approved');
    sh('npm', ['install', '--prefer-offline', tarball()], project);
    sh('npm', ['install-scripts', 'approve', 'bpf-load', 'koffi'], project);
    const policy = (JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts;
    expect(Object.keys(policy ?? {})).to.have.lengthOf(2);
    // a fresh install of the project, as a colleague's clone of it does
    rmSync(join(project, 'node_modules'), { recursive: true });
    expectNoUnreviewedScripts(sh('npm', ['ci', '--prefer-offline'], project), 'npm ci of the consumer');
    checkInstalled(project);
  });

  it('a folder installs, even one whose dev dependencies were never installed', () => {
    const folder = join(work, 'folder');
    sh('git', ['clone', '-q', '--no-hardlinks', repoRoot, folder], work);
    const project = newProject(work, 'from-folder');
    sh('npm', ['install', '--prefer-offline', folder], project);
    checkInstalled(project);
  });

  it('a git URL installs (npm builds it in prepare)', () => {
    const project = newProject(work, 'from-git');
    sh('npm', ['install', '--prefer-offline', `git+file://${clone}`], project);
    expect(readdirSync(join(project, 'node_modules', 'bpf-load'))).to.include.members(['dist', 'package.json']);
    checkInstalled(project);
  });
});
