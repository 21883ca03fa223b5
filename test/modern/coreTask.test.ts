import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { loadBpfFile, openRingBufferReader, type RingBufferRecord } from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

/**
 * A tracepoint program that reads task_struct through CO-RE (pid, tgid, real_parent->tgid,
 * group_leader->pid, comm), loaded by bpf-load against the running kernel's BTF and attached by
 * its section name: what it reports to the ring buffer is what the kernel says of the process.
 */

const CORE_TASK = join(repoRoot, 'fixtures', 'modern', 'core_task.bpf.o');

interface TaskEvent {
  pid: number;
  tgid: number;
  ppid: number;
  leaderPid: number;
  comm: string;
}

function decode(record: RingBufferRecord): TaskEvent {
  const data = record.data;
  const comm = data.subarray(16, 32);
  const end = comm.indexOf(0);
  return {
    pid: data.readUInt32LE(0), tgid: data.readUInt32LE(4), ppid: data.readUInt32LE(8), leaderPid: data.readUInt32LE(12),
    comm: comm.subarray(0, end < 0 ? comm.length : end).toString('latin1'),
  };
}

/** Records until one satisfies `wanted`, or undefined after `ms`. */
async function readUntil(reader: ReturnType<typeof openRingBufferReader>, wanted: (e: TaskEvent) => boolean, ms: number): Promise<TaskEvent | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const timer = new Promise<RingBufferRecord[]>((resolve) => setTimeout(() => resolve([]), Math.max(1, deadline - Date.now())));
    const batch = await Promise.race([reader.readBatch(64), timer]);
    for (const record of batch) {
      const event = decode(record);
      if (wanted(event)) return event;
    }
  }
  return undefined;
}

describe('CO-RE task_struct reads reported through a ring buffer', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  it('this process: pid, tgid and parent are what Node says, read through CO-RE', async () => {
    // only this process's calls reach the ring: the .rodata filter set before the load
    const obj = await loadBpfFile(CORE_TASK, { variables: { only_tgid: process.pid }, attach: true });
    try {
      using reader = openRingBufferReader(obj.map('task_events'));
      const pending = readUntil(reader, (e) => e.tgid === process.pid, 20000);
      const ppid = process.ppid; // getppid(2): the traced call
      const event = await pending;
      expect(event, 'no record from this process').to.not.equal(undefined);
      expect(event!.pid).to.equal(process.pid); // the main thread made the call
      expect(event!.tgid).to.equal(process.pid);
      expect(event!.ppid).to.equal(ppid);
      expect(event!.leaderPid).to.equal(process.pid);
      expect(event!.comm.length).to.be.greaterThan(0);
    } finally {
      obj.close();
    }
  });

  it('a child process: its tgid is its pid, its parent is this process, its comm its name', async () => {
    const obj = await loadBpfFile(CORE_TASK, { attach: true });
    try {
      using reader = openRingBufferReader(obj.map('task_events'));
      // the node binary itself (a wrapper script would call getppid under another comm first)
      const child = spawn(process.execPath, ['-e', 'process.ppid; setTimeout(() => {}, 200)'], { stdio: 'ignore' });
      const childPid = child.pid!;
      const exited = new Promise((resolve) => child.on('exit', resolve));
      const comm = basename(process.execPath).slice(0, 15);
      const event = await readUntil(reader, (e) => e.tgid === childPid && e.comm === comm, 20000);
      await exited;
      expect(event, `no record from the child ${childPid}`).to.not.equal(undefined);
      expect(event).to.deep.equal({ pid: childPid, tgid: childPid, ppid: process.pid, leaderPid: childPid, comm });
    } finally {
      obj.close();
    }
  });
});
