import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '../support/fixtures.js';
import { CLI } from '../support/processes.js';

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('cli: gen-types, the typed skeleton as a user writes it', () => {
  const object = fixturePath('modern/maps_btf.bpf.o');

  it('prints the module for an object built with -g: its maps, the sha256 and load()', () => {
    const got = run('gen-types', object);
    expect(got.stderr).to.equal('');
    expect(got.status).to.equal(0);
    expect(got.stdout).to.match(/export interface Maps \{/);
    expect(got.stdout).to.include('from "bpf-load"');
    expect(got.stdout).to.include(object);
    expect(got.stdout).to.match(/[0-9a-f]{64}/);
  });

  it('-o writes the file (a second run rewrites it the same), --import-from names the package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-gen-types-'));
    try {
      const out = join(dir, 'maps_btf.skel.ts');
      for (let round = 0; round < 2; round++) {
        const got = run('gen-types', object, '-o', out, '--import-from', '../dist/loader/index.js');
        expect([got.status, got.stdout], got.stderr).to.deep.equal([0, '']);
        expect(got.stderr).to.include(out);
      }
      const text = readFileSync(out, 'utf8');
      expect(text).to.include('from "../dist/loader/index.js"');
      expect(text).to.equal(run('gen-types', object, '--import-from', '../dist/loader/index.js').stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file and a missing argument are usage errors (exit 2), with nothing written', () => {
    const missing = run('gen-types', '/no/such/object.o');
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/\/no\/such\/object\.o/);
    const none = run('gen-types');
    expect(none.status).to.equal(2);
    expect(none.stdout).to.equal('');
  });
});
