import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LoadError, attachUprobe, attachUprobeMulti, resolveBinaryPath } from '../../loader/index.js';

/**
 * Where a uprobe's binary is found, as libbpf's resolve_full_path() finds it, and the argument
 * checks of the uprobe attach functions (no kernel needed: they fail before any system call).
 */

function withEnv<T>(name: string, value: string, use: () => T): T {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return use();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

describe('uprobes: finding the binary, checking the arguments', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-load-paths-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a name with a / is a path, made absolute from the current directory', () => {
    expect(resolveBinaryPath('./some/tool')).to.deep.equal({ path: resolve('some/tool') });
    expect(resolveBinaryPath('/usr/bin/env')).to.deep.equal({ path: '/usr/bin/env' });
  });

  it('a program name: PATH, then /usr/bin and /usr/sbin, and it must be executable', () => {
    const tool = join(dir, 'bpf_load_paths_tool');
    writeFileSync(tool, '#!/bin/sh\n');
    chmodSync(tool, 0o644);
    const missing = withEnv('PATH', dir, () => resolveBinaryPath('bpf_load_paths_tool'));
    expect(missing).to.deep.equal({ searched: [dir, '/usr/bin', '/usr/sbin'] });
    chmodSync(tool, 0o755);
    expect(withEnv('PATH', dir, () => resolveBinaryPath('bpf_load_paths_tool'))).to.deep.equal({ path: tool });
  });

  it('a shared library name (.so, .so.N): LD_LIBRARY_PATH, /usr/lib64, /usr/lib and the multiarch directory; readable is enough', () => {
    const library = join(dir, 'libbpfloadpaths.so.1');
    writeFileSync(library, '');
    chmodSync(library, 0o644);
    expect(withEnv('LD_LIBRARY_PATH', dir, () => resolveBinaryPath('libbpfloadpaths.so.1'))).to.deep.equal({ path: library });
    const missing = withEnv('LD_LIBRARY_PATH', '', () => resolveBinaryPath('libbpfloadpaths_none.so'));
    expect('searched' in missing && missing.searched.slice(0, 2)).to.deep.equal(['/usr/lib64', '/usr/lib']);
  });

  it('bad arguments: BPF_LOAD_ARGUMENT before anything else', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => attachUprobe(3, undefined as never), /attachUprobe: options must be an object with binary/],
      [() => attachUprobe(3, { binary: '' }), /attachUprobe: options.binary must be/],
      [() => attachUprobe(3, { binary: '/bin/true' }), /attachUprobe: options must be a function or an offset/],
      [() => attachUprobe(3, { binary: '/bin/true', offset: -1 }), /options.offset must be a whole number >= 0/],
      [() => attachUprobe(3, { binary: '/bin/true', function: 'main', pid: 1.5 }), /options.pid must be a whole number >= 0/],
      [() => attachUprobe(3, { binary: '/bin/true', function: 'main', colour: 1 } as never), /colour/],
      [() => attachUprobeMulti(3, { binary: '/bin/true' }), /exactly one of pattern, functions or offsets/],
      [() => attachUprobeMulti(3, { binary: '/bin/true', offsets: [0] }), /options.offsets must be a non-empty array of file offsets > 0/],
      [() => attachUprobeMulti(3, { binary: '/bin/true', functions: [] }), /options.functions must be a non-empty array of names/],
    ];
    for (const [run, message] of cases) {
      let error: unknown;
      try {
        run();
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).to.be.instanceOf(LoadError);
      expect((error as LoadError).code, String(message)).to.equal('BPF_LOAD_ARGUMENT');
      expect((error as Error).message).to.match(message);
    }
  });
});
