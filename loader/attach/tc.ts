import { basename } from 'node:path';
import {
  BPF_ATTACH_TYPE, BPF_PROG_TYPE, SyscallError, TCA_BPF_FLAG_ACT_DIRECT, TC_PARENT, TC_PROTOCOL_ALL, errno, filterAddBpf, filterDel, filterList,
  linkCreate, progGetInfo, progTypeName, qdiscAddClsact, qdiscDelClsact, type BpfFd, type FilterKey,
} from '../../syscall/index.js';
import { LoadError, argumentError, checkBoolean, checkInteger, checkOneOf, checkOptions } from '../errors.js';
import {
  Attachment, attachStep, checkInterface, checkProgramRef, interfaceIndex, progFdOf, programContext, programIdOf, programLabel,
  type ProgramRef,
} from './attachment.js';

export type TcDirection = 'ingress' | 'egress';

export interface TcOptions {
  /**
   * How the attachment is held, as `via` says for the other hooks: `link`, a bpf_link on the interface's
   * TCX hook (Linux >= 6.6), which ends with its last fd or pin; `netlink`, a cls_bpf filter on a clsact
   * qdisc, as `tc filter add` makes, which stays until deleted. Default: TCX where the kernel has it,
   * else netlink; `priority`, `handle` or `directAction: false` (cls_bpf notions) choose netlink.
   */
  via?: 'link' | 'netlink';
  /** @deprecated the former name of `via`: `mode: 'tcx'` is `via: 'link'`, `mode: 'netlink'` is `via: 'netlink'` */
  mode?: 'tcx' | 'netlink';
  /** netlink: the filter's `prio` (1-65535); default: the kernel picks */
  priority?: number;
  /** netlink: the filter's `handle`; default: the kernel picks */
  handle?: number;
  /** netlink: `da` (direct-action, the program's return value is the verdict); default true. TCX is always direct action. */
  directAction?: boolean;
}

/**
 * Attach a sched_cls program at an interface's ingress or egress, as
 * `tc filter add dev IF ingress bpf da …` does. close() removes only what
 * this call made: its link or its filter, and the clsact qdisc only when it
 * made that too and no filter is left on it.
 */
export function attachTc(program: ProgramRef, ifname: string | number, direction: TcDirection, options: TcOptions = {}): Attachment {
  const where = 'attachTc';
  checkProgramRef(program, where);
  checkInterface(ifname, where);
  if (direction !== 'ingress' && direction !== 'egress') throw argumentError(where, 'direction', "'ingress' or 'egress'", direction);
  checkOptions(options, TC_OPTIONS, where);
  checkOneOf(options.via, ['link', 'netlink'], 'options.via', where);
  checkOneOf(options.mode, ['tcx', 'netlink'], 'options.mode', where);
  if (options.priority !== undefined) checkInteger(options.priority, 'options.priority', where, 1, 0xffff);
  if (options.handle !== undefined) checkInteger(options.handle, 'options.handle', where, 1, 0xffffffff);
  checkBoolean(options.directAction, 'options.directAction', where);
  const target = typeof ifname === 'number' ? `ifindex ${ifname}` : ifname;
  const what = `attach tc program to ${target} ${direction}`;
  const via = chooseVia(options, what);
  const progFd = progFdOf(program, what);
  // a bare fd says what it is in one info query: its type, checked first (the TCX hook answers any other
  // type with the EINVAL that also means "no TCX here"), and its id, which a cls_bpf detach needs
  const rawInfo = typeof program === 'number' ? attachStep(program, what, () => progGetInfo(program)) : undefined;
  const type = typeof program === 'number' ? rawInfo!.type : program.type;
  if (type !== BPF_PROG_TYPE.SCHED_CLS) {
    throw new LoadError(`${what}: the program is ${progTypeName(type)}, and tc's hooks run sched_cls programs`, programContext(program), {
      code: 'BPF_LOAD_ARGUMENT',
      hint: 'load it as a classifier: a tc section name, or --type cls / options.programType',
    });
  }
  const ifindex = interfaceIndex(program, ifname, what);
  if (via !== 'netlink') {
    const link = attachTcx(program, progFd, ifindex, direction, what, via === 'link');
    if (link) return new Attachment('tc', `${target} ${direction} (tcx)`, programLabel(program), () => link.close(), link);
  }
  const progId = rawInfo ? rawInfo.id : programIdOf(program, what);
  return attachClsBpf(program, progFd, progId, ifindex, direction, options, what, target);
}

const TC_OPTIONS = ['via', 'mode', 'priority', 'handle', 'directAction'];

/** `link`, `netlink`, or undefined: TCX where the kernel has it. */
function chooseVia(options: TcOptions, what: string): 'link' | 'netlink' | undefined {
  if (options.via !== undefined && options.mode !== undefined) {
    throw new LoadError(`${what}: options.mode is the former name of options.via: give via alone`, {}, { code: 'BPF_LOAD_ARGUMENT' });
  }
  const asked = options.via ?? (options.mode === 'tcx' ? 'link' : options.mode);
  const filterOnly = options.priority !== undefined || options.handle !== undefined || options.directAction === false;
  if (filterOnly && asked === 'link') {
    throw new LoadError(`${what}: priority, handle and directAction: false are cls_bpf filter settings, which a TCX link has none of`, {}, {
      code: 'BPF_LOAD_ARGUMENT',
      hint: "use via: 'netlink', or leave them out",
    });
  }
  return filterOnly ? 'netlink' : asked;
}

/** A TCX link, or undefined when the kernel has no TCX and the caller did not insist on it. */
function attachTcx(program: ProgramRef, progFd: number, ifindex: number, direction: TcDirection, what: string, forced: boolean): BpfFd | undefined {
  const attachType = direction === 'ingress' ? BPF_ATTACH_TYPE.TCX_INGRESS : BPF_ATTACH_TYPE.TCX_EGRESS;
  try {
    return linkCreate({ progFd, target: ifindex, attachType });
  } catch (cause) {
    if (!(cause instanceof SyscallError)) throw cause;
    // before Linux 6.6 the attach type is unknown (EINVAL); tc's netlink path still works there
    if (!forced && cause.errno === errno.EINVAL) return undefined;
    const hint = cause.code === 'BPF_LOAD_NOT_SUPPORTED' ? "try via: 'netlink'" : undefined;
    throw new LoadError(`${what} (tcx)`, programContext(program), { cause, hint });
  }
}

function attachClsBpf(
  program: ProgramRef,
  progFd: number,
  progId: number,
  ifindex: number,
  direction: TcDirection,
  options: TcOptions,
  what: string,
  target: string,
): Attachment {
  const parent = TC_PARENT[direction];
  const madeQdisc = attachStep(program, `${what}: add the clsact qdisc`, () => qdiscAddClsact(ifindex));
  // a qdisc this process made stays ours while any of our attachments uses it, whichever made it
  const ours = madeQdisc || qdiscUsers.has(ifindex);
  if (ours) qdiscUsers.set(ifindex, (qdiscUsers.get(ifindex) ?? 0) + 1);
  let key: FilterKey;
  try {
    key = attachStep(program, `${what}: add the bpf filter`, () =>
      filterAddBpf({
        ifindex,
        parent,
        priority: options.priority ?? 0,
        handle: options.handle ?? 0,
        protocol: TC_PROTOCOL_ALL,
        progFd,
        name: filterName(program),
        flags: options.directAction === false ? 0 : TCA_BPF_FLAG_ACT_DIRECT,
      }),
    (cause) => (cause.errno === errno.EEXIST ? 'a filter with this priority and handle is there already' : undefined));
  } catch (error) {
    if (ours) releaseQdisc(ifindex);
    throw error;
  }
  return new Attachment('tc', `${target} ${direction} (clsact prio ${key.priority} handle 0x${key.handle.toString(16)})`,
    programLabel(program), () => {
      ignoreGone(() => {
        // only the filter this call made, still running this program: never one put in its place since
        if (filterList(ifindex, parent).some((f) => samePlace(f, key) && f.progId === progId)) filterDel(key);
      });
      if (ours) releaseQdisc(ifindex);
    }, undefined, 'netlink');
}

/** What `tc filter show` prints for the filter: tc's own `file:[section]` where the program came from a file. */
function filterName(program: ProgramRef): string {
  if (typeof program === 'number' || !program.file) return programLabel(program);
  return `${basename(program.file)}:[${program.section}]`;
}

function samePlace(a: FilterKey, b: FilterKey): boolean {
  return a.priority === b.priority && a.handle === b.handle && a.protocol === b.protocol;
}

/** ifindex -> how many live attachments use a clsact qdisc this process made there */
const qdiscUsers = new Map<number, number>();

/** A clsact qdisc this process made goes with its last attachment, when no filter (ours or anyone's) is left on it. */
function releaseQdisc(ifindex: number): void {
  const users = (qdiscUsers.get(ifindex) ?? 1) - 1;
  if (users > 0) {
    qdiscUsers.set(ifindex, users);
    return;
  }
  qdiscUsers.delete(ifindex);
  ignoreGone(() => {
    if (filterList(ifindex, TC_PARENT.ingress).length || filterList(ifindex, TC_PARENT.egress).length) return;
    qdiscDelClsact(ifindex);
  });
}

/** The interface, the qdisc or the filter gone already: there is nothing left to remove. */
function ignoreGone(step: () => void): void {
  try {
    step();
  } catch (error) {
    if (error instanceof SyscallError && (error.errno === errno.ENODEV || error.errno === errno.ENOENT || error.errno === errno.EINVAL)) return;
    throw error;
  }
}
