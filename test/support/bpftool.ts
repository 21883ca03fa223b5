import { spawnSync } from 'node:child_process';

/**
 * What bpftool says when a listing races with another process's teardown: it
 * listed an id, then could not open it (EAGAIN while the kernel is still
 * freeing it, ENOENT once it is gone) or read its info. Another process's
 * BPF work is routine on a shared machine, so such a query is asked again.
 */
const RACED_WITH_TEARDOWN = /get [^:]*(by id|info)[^:]*: (Resource temporarily unavailable|No such file or directory)/;
const QUERY_VERBS = new Set(['show', 'list', 'dump', 'tree']);
const ATTEMPTS = 6;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** bpftool: an independent reading of what the kernel holds, and a second way to make objects. */
function bpftool(args: string[]): string {
  // bpftool [-j] OBJECT VERB ...: only a query is safe to ask twice
  const verb = args.filter((arg) => !arg.startsWith('-'))[1];
  const attempts = verb !== undefined && QUERY_VERBS.has(verb) ? ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    // a dump of a big map is many megabytes of JSON
    const result = spawnSync('bpftool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
    if (result.error) throw result.error;
    if (result.status === 0) return result.stdout;
    // with -j, bpftool says what went wrong as JSON on stdout
    const said = `${result.stderr}${result.stdout}`;
    if (attempt < attempts && RACED_WITH_TEARDOWN.test(said)) {
      sleepSync(10 * attempt);
      continue;
    }
    throw new Error(`bpftool ${args.join(' ')} exited ${result.status ?? result.signal}${attempt > 1 ? ` (attempt ${attempt})` : ''}: ${said}`);
  }
}

/** Run bpftool for its effect (map create, map update, cgroup detach…); throws with what it said when it fails. */
export function bpftoolRun(...args: string[]): string {
  return bpftool(args);
}

/**
 * `bpftool -j ARGS`, parsed. Some bpftool versions print nothing at all for
 * an empty listing (cgroup show of a cgroup without programs): that is [].
 */
export function bpftoolJson<T = unknown>(...args: string[]): T {
  return JSON.parse(bpftool(['-j', ...args]).trim() || '[]') as T;
}

export interface BpftoolEntry {
  key: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
  formatted?: unknown;
}

export interface BpftoolMapShow {
  id: number;
  type: string;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
}

/** `bpftool map dump id N`: every entry of the map, as bpftool reads it. */
export function bpftoolDump(id: number): BpftoolEntry[] {
  return bpftoolJson<BpftoolEntry[]>('map', 'dump', 'id', String(id));
}

/** bpftool -j prints bytes as ["0x2a", ...] */
export function bpftoolBytes(bytes: readonly string[]): Buffer {
  return Buffer.from(bytes.map((b) => parseInt(b, 16)));
}

export interface BpftoolLink {
  id: number;
  prog_id: number;
  /** a name, or the number where this bpftool predates the link type */
  type: string | number;
  ifindex?: number;
}

/** `bpftool link show`: every bpf_link in the kernel. */
export function bpftoolLinks(): BpftoolLink[] {
  return bpftoolJson<BpftoolLink[]>('link', 'show');
}

/** The TCX links: bpftool 7.1 predates TCX and prints their type as its number, 11 (BPF_LINK_TYPE_TCX). */
export function tcxLinks(): BpftoolLink[] {
  return bpftoolLinks().filter((link) => link.type === 11 || link.type === 'tcx');
}
