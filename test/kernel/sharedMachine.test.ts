import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpftoolJson, bpftoolLinks, bpftoolRun } from '../support/bpftool.js';
import { uniqueName } from '../support/unique.js';

/**
 * Tests share the machine with other test runs and other BPF work: what the
 * helpers do about it. A stand-in bpftool on PATH answers as the real one
 * does when the link it just listed is being torn down by another process.
 */
describe('tests on a shared machine: helpers that tolerate other processes', () => {
  let dir: string;
  const savedPath = process.env['PATH'];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-load-fake-bpftool-'));
    process.env['PATH'] = `${dir}:${savedPath}`;
  });

  afterEach(() => {
    process.env['PATH'] = savedPath;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A bpftool that fails `failures` times with `error` (as bpftool -j prints it), then prints `output`; it logs each call. */
  function fakeBpftool(failures: number, error: string, output = '[]'): () => string[] {
    const calls = join(dir, 'calls');
    writeFileSync(join(dir, 'error'), `${JSON.stringify({ error })}\n`);
    writeFileSync(join(dir, 'output'), `${output}\n`);
    writeFileSync(join(dir, 'bpftool'), [
      '#!/bin/sh',
      `echo "$*" >> ${calls}`,
      `if [ "$(wc -l < ${calls})" -le ${failures} ]; then cat ${join(dir, 'error')}; exit 255; fi`,
      `cat ${join(dir, 'output')}`,
    ].join('\n'));
    chmodSync(join(dir, 'bpftool'), 0o755);
    return () => readFileSync(calls, 'utf8').trim().split('\n');
  }

  it('a listing that meets a link being torn down (EAGAIN, then ENOENT) is asked again', () => {
    const calls = fakeBpftool(2, "can't get link by id (17): Resource temporarily unavailable", '[{"id":18,"prog_id":5,"type":"xdp"}]');
    expect(bpftoolLinks()).to.deep.equal([{ id: 18, prog_id: 5, type: 'xdp' }]);
    expect(calls()).to.deep.equal(['-j link show', '-j link show', '-j link show']);
    const mapInfo = fakeBpftool(1, "can't get map info (12): No such file or directory");
    rmSync(join(dir, 'calls'));
    expect(bpftoolJson('map', 'show')).to.deep.equal([]);
    expect(mapInfo()).to.have.lengthOf(2);
  });

  it('gives up after a few tries, saying how many, and never repeats a command that changes something', () => {
    const calls = fakeBpftool(100, "can't get prog by id (9): Resource temporarily unavailable");
    expect(() => bpftoolJson('prog', 'show')).to.throw(/bpftool -j prog show exited 255 \(attempt 6\): .*Resource temporarily unavailable/);
    expect(calls()).to.have.lengthOf(6);
    rmSync(join(dir, 'calls'));
    expect(() => bpftoolRun('map', 'update', 'id', '9', 'key', '0', '0', '0', '0', 'value', '1', '0', '0', '0')).to.throw(/exited 255: /);
    expect(calls()).to.have.lengthOf(1);
  });

  it('any other failure of a query is reported at once', () => {
    const calls = fakeBpftool(100, 'bpf obj get (/sys/fs/bpf/nope): No such file or directory');
    expect(() => bpftoolJson('map', 'show', 'pinned', '/sys/fs/bpf/nope')).to.throw(/exited 255: .*bpf obj get/);
    expect(calls()).to.have.lengthOf(1);
  });

  it('uniqueName gives names no other process and no other call gets, short enough for an interface', () => {
    const names = [uniqueName('tca'), uniqueName('tca'), uniqueName('bpfload-ns')];
    expect(new Set(names).size).to.equal(3);
    for (const name of names) expect(name).to.include(`-${process.pid.toString(36)}-`);
    // IFNAMSIZ: 15 characters and the NUL
    expect(names[0]!.length).to.be.at.most(15);
  });
});
