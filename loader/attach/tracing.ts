import { existsSync, readFileSync, statSync } from 'node:fs';
import {
  BPF_PROG_TYPE, errno, PERF_TYPE_TRACEPOINT, perfEventOpenTrace, rawTracepointOpen, type BpfFd,
} from '../../syscall/index.js';
import { LoadError, checkOneOf, checkOptions, checkString } from '../errors.js';
import { bindPerfEvent, type PerfBinding } from './perfBinding.js';
import {
  Attachment, attachStep, checkProgramRef, progFdOf, programContext, programLabel, requireProgramType, type AttachKind, type ProgramRef,
} from './attachment.js';

export interface PerfAttachOptions {
  /**
   * `link` (default): a bpf_link of the perf event (Linux >= 5.15), which
   * ends with its last fd or pin, and which `bpftool link show` lists;
   * `legacy`: PERF_EVENT_IOC_SET_BPF on the event, as bpf_load.c did.
   */
  via?: 'link' | 'legacy';
}

export function checkPerfOptions(options: unknown, where: string, extra: readonly string[] = []): void {
  checkOptions(options, ['via', ...extra], where);
  checkOneOf((options as PerfAttachOptions | undefined)?.via, ['link', 'legacy'], 'options.via', where);
}

const TRACEFS_CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Where tracefs is mounted (the directory holding `events/`), or undefined. */
export function tracefsRoot(): string | undefined {
  return TRACEFS_CANDIDATES.find((dir) => existsSync(`${dir}/events`));
}

function requireTracefs(program: ProgramRef, what: string): string {
  const root = tracefsRoot();
  if (!root) {
    const unreadable = TRACEFS_CANDIDATES.find((dir) => accessDenied(`${dir}/events`));
    if (unreadable) {
      throw new LoadError(`${what}: tracefs is mounted at ${unreadable}, but this user may not read it (EACCES)`, programContext(program), {
        hint: 'run as root (tracefs is usually mode 0700)',
        errno: errno.EACCES,
      });
    }
    throw new LoadError(`${what}: tracefs is not mounted (looked in ${TRACEFS_CANDIDATES.join(', ')})`, programContext(program), {
      hint: 'mount it: mount -t tracefs nodev /sys/kernel/tracing',
      // the system lacks it, as it lacks a kernel feature: not something wrong with the object or the options
      code: 'BPF_LOAD_SYSTEM',
    });
  }
  return root;
}

function accessDenied(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EACCES';
  }
}

/**
 * tracepoint `category/name`: read its id from tracefs, perf_event_open it,
 * and attach the program to the event through a bpf_link (or, with via:
 * 'legacy', PERF_EVENT_IOC_SET_BPF like bpf_load.c), then ENABLE. close()
 * detaches the program and closes the perf event.
 */
export function attachTracepoint(program: ProgramRef, category: string, name: string, options: PerfAttachOptions = {}): Attachment {
  const where = 'attachTracepoint';
  checkProgramRef(program, where);
  checkString(category, 'category', where);
  checkString(name, 'name', where);
  checkPerfOptions(options, where);
  const event = `${category}/${name}`;
  const what = `attach to tracepoint ${event}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(category) || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new LoadError(`${what}: not a tracepoint name (expected category/name)`, programContext(program));
  }
  progFdOf(program, what);
  // the system first: a user who may not read tracefs learns that, not what the kernel says of an fd it cannot use yet
  const root = requireTracefs(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.TRACEPOINT], 'a tracepoint runs SEC("tracepoint/CATEGORY/NAME") programs');
  let id: bigint;
  try {
    id = BigInt(readFileSync(`${root}/events/${event}/id`, 'utf8').trim());
  } catch (cause) {
    throw new LoadError(`${what}: no such tracepoint (${root}/events/${event}/id: ${(cause as NodeJS.ErrnoException).code ?? cause})`,
      programContext(program), { cause, hint: `see ${root}/available_events` });
  }
  return attachTraceEvent(program, 'tracepoint', event, what, () => perfEventOpenTrace(PERF_TYPE_TRACEPOINT, id), options);
}

/** Open a trace event (a tracepoint, a kprobe, a uprobe) and run the program on its hits: close() detaches and closes it. */
export function attachTraceEvent(
  program: ProgramRef,
  kind: AttachKind,
  target: string,
  what: string,
  open: () => BpfFd,
  options: PerfAttachOptions,
): Attachment {
  const progFd = progFdOf(program, what);
  const perf = attachStep(program, what, open);
  const via = options.via ?? 'link';
  let bound: PerfBinding;
  try {
    // the program's type was checked before: an EINVAL here is a kernel without perf links only where the probe says so
    bound = attachStep(program, what, () => bindPerfEvent(perf, progFd, via), (cause) =>
      cause.code === 'BPF_LOAD_NOT_SUPPORTED' ? "attach with via: 'legacy'" : undefined);
  } catch (error) {
    perf.close();
    throw error;
  }
  // a link holds the perf event too; the event's fd is kept only to be closed with it
  return new Attachment(kind, target, programLabel(program), () => {
    try {
      bound.detach();
    } finally {
      perf.close();
    }
  }, bound.link);
}

/** BPF_RAW_TRACEPOINT_OPEN: the program runs while the returned attachment (a bpf_link) is open or pinned. */
export function attachRawTracepoint(program: ProgramRef, name: string): Attachment {
  checkProgramRef(program, 'attachRawTracepoint');
  checkString(name, 'name', 'attachRawTracepoint');
  const what = `attach to raw tracepoint ${name}`;
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.RAW_TRACEPOINT, BPF_PROG_TYPE.RAW_TRACEPOINT_WRITABLE],
    'a raw tracepoint runs SEC("raw_tracepoint/NAME") programs');
  const owner = attachStep(program, what, () => rawTracepointOpen(name, progFd),
    (cause) => (cause.errno === errno.ENOENT ? 'no such tracepoint in this kernel' : undefined));
  return new Attachment('raw_tracepoint', name, programLabel(program), () => owner.close(), owner);
}
