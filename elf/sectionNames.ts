/**
 * libbpf 1.x's section names: which program a `SEC("...")` name declares (program
 * type, expected attach type, load flags) and where the rest of the name says to
 * attach it. The table follows libbpf 1.7's, in its order (the first entry that
 * matches wins), and its matching rules, which libbpf 1.0 made strict:
 *
 * - `name` alone: the section name is exactly that (`xdp`, `cgroup/connect4`);
 * - `name+`: exactly that, or that and a `/` and anything (`kprobe`, `kprobe/do_unlinkat`);
 * - `name/`: that as a prefix, with something after it.
 *
 * `xdp_foo`, `kprobe.foo` or `socket1` match nothing: the names samples/bpf's
 * bpf_load.c took by prefix are the samples convention's, not this table's.
 */

import { BPF_ATTACH_TYPE, BPF_PROG_TYPE } from '../uapi/bpf.js';

type ProgTypeName = keyof typeof BPF_PROG_TYPE;
type AttachTypeName = keyof typeof BPF_ATTACH_TYPE;

/**
 * How a program of this kind is attached once loaded: the kernel object it
 * hangs on. `none`: nothing to attach (`syscall` programs are run with
 * BPF_PROG_TEST_RUN; `xdp/devmap` and `xdp/cpumap` programs go into a map's
 * values; `struct_ops` programs are members of a struct_ops map).
 */
export type AttachKind =
  | 'kprobe' | 'kprobe_multi' | 'ksyscall' | 'uprobe' | 'uprobe_multi' | 'usdt'
  | 'tracepoint' | 'raw_tp' | 'tracing' | 'lsm' | 'iter' | 'perf_event'
  | 'xdp' | 'tc' | 'tcx' | 'netkit' | 'cgroup' | 'sockmap' | 'netns' | 'socket' | 'lwt' | 'lirc' | 'netfilter'
  | 'none';

/** What the rest of a section name says about where to attach. */
export type AttachTarget =
  /** `kprobe/FUNC[+OFFSET]`, `kretprobe/FUNC` */
  | { kind: 'kprobe'; function: string; offset: number; retprobe: boolean }
  /** `ksyscall/NAME`, `kretsyscall/NAME`: the syscall's name, without the arch prefix the kernel's symbol has */
  | { kind: 'ksyscall'; syscall: string; retprobe: boolean }
  /** `kprobe.multi/PATTERN`, `kretprobe.multi/PATTERN`, `kprobe.session/PATTERN`: a glob of kernel functions */
  | { kind: 'kprobe_multi'; pattern: string; retprobe: boolean; session: boolean }
  /** `uprobe/BINARY:FUNC[+OFFSET]`, `uretprobe/BINARY:FUNC` */
  | { kind: 'uprobe'; binary: string; function: string; offset: number; retprobe: boolean }
  /** `uprobe.multi/BINARY:PATTERN` and friends */
  | { kind: 'uprobe_multi'; binary: string; pattern: string; retprobe: boolean; session: boolean }
  /** `usdt/BINARY:PROVIDER:NAME` */
  | { kind: 'usdt'; binary: string; provider: string; name: string }
  /** `tracepoint/CATEGORY/NAME`, `tp/CATEGORY/NAME` */
  | { kind: 'tracepoint'; category: string; name: string }
  /** `raw_tp/NAME`, `raw_tracepoint/NAME` */
  | { kind: 'raw_tp'; name: string }
  /**
   * `fentry/FUNC`, `fexit/`, `fmod_ret/`, `fsession/`, `freplace/`, `tp_btf/`, `lsm/`, `lsm_cgroup/`,
   * `iter/`: a BTF id, of `btfName` (the name with the prefix the kernel gives such types:
   * btf_trace_ for tp_btf, bpf_lsm_ for lsm, bpf_iter_ for iter) of kind `btfKind`. freplace's target
   * is a function of another BPF program's BTF, the others the kernel's (vmlinux or a module).
   */
  | { kind: 'btf'; name: string; btfName: string; btfKind: 'func' | 'typedef' }
  /** the name has a target part that libbpf would refuse to attach by; `reason` says why */
  | { kind: 'invalid'; reason: string };

export interface SectionDef {
  /** the table entry that matched, as libbpf spells it: `kprobe+`, `xdp`, `cgroup_skb/ingress` */
  entry: string;
  /** enum bpf_prog_type */
  programType: number;
  /** enum bpf_attach_type, given to BPF_PROG_LOAD as expected_attach_type (0 where the type needs none) */
  expectedAttachType: number;
  /** the kernel may be too old for expected_attach_type: load without it when it refuses (libbpf's SEC_EXP_ATTACH_OPT) */
  expectedAttachTypeOptional: boolean;
  /**
   * libbpf's SEC_ATTACHABLE: what libbpf_attach_type_by_name() answers for (the
   * programs BPF_PROG_ATTACH once took); it means nothing to the load itself
   */
  attachable: boolean;
  /** loaded with BPF_F_SLEEPABLE */
  sleepable: boolean;
  /** loaded with BPF_F_XDP_HAS_FRAGS (multi-buffer XDP) */
  xdpFrags: boolean;
  /** the program is loaded against a BTF id (attach_btf_id), named by the rest of the section name */
  attachBtf: boolean;
  /** USDT: loaded as BPF_TRACE_UPROBE_MULTI where the kernel has uprobe_multi links (libbpf's SEC_USDT) */
  usdt: boolean;
  attach: AttachKind;
  /**
   * libbpf attaches it from the name alone (bpf_program__attach(), a skeleton's
   * attach) when the name carries a target; the others need the caller to say where
   */
  autoAttach: boolean;
  /** what the rest of the name says; undefined when the name has no target part (`kprobe`, `xdp`) */
  target: AttachTarget | undefined;
}

/** libbpf's sec_def_flags, by what they mean */
interface Flags {
  expOpt?: boolean;
  attachable?: boolean;
  btf?: boolean;
  sleepable?: boolean;
  frags?: boolean;
  usdt?: boolean;
}

type TargetParser = (name: string, entry: string) => AttachTarget | undefined;

interface Entry {
  entry: string;
  programType: ProgTypeName;
  expectedAttachType: AttachTypeName | 0;
  flags: Flags;
  attach: AttachKind;
  /** what the rest of the name says; absent where the name has no target part */
  parse?: TargetParser;
  /** libbpf has an attach function for the entry */
  auto: boolean;
}

const ATTACHABLE: Flags = { attachable: true };
const ATTACHABLE_OPT: Flags = { attachable: true, expOpt: true };
const SLEEPABLE: Flags = { sleepable: true };
const BTF: Flags = { btf: true };
const BTF_SLEEPABLE: Flags = { btf: true, sleepable: true };
const NONE: Flags = {};

/** The rest of the name after `entry` (without its `+`) and a `/`; undefined for the bare name. */
function restOf(name: string, entry: string): string | undefined {
  const prefix = entry.endsWith('+') ? entry.slice(0, -1) : entry;
  return name.length === prefix.length ? undefined : name.slice(prefix.length + 1);
}

/**
 * C's strtol with base 0, as sscanf's %li reads: optional sign, then 0x hex,
 * leading-0 octal or decimal. The number and how many characters it took (0: none).
 */
function scanLong(text: string): { value: number; length: number } {
  const match = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!match) return { value: 0, length: 0 };
  const digits = match[2]!;
  const magnitude = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits[0] === '0' ? parseInt(digits, 8) : parseInt(digits, 10);
  return { value: match[1] === '-' ? -magnitude : magnitude, length: match[0].length };
}

/** The longest leading run of characters of `allowed` (sscanf's %[...] scanset): empty when there is none. */
function scanSet(text: string, allowed: RegExp): string {
  return allowed.exec(text)?.[0] ?? '';
}

const invalid = (reason: string): AttachTarget => ({ kind: 'invalid', reason });

/** `kprobe/FUNC[+OFFSET]`, `kretprobe/FUNC`: FUNC is [a-zA-Z0-9_.]+, anything after it but `+OFFSET` is ignored, as libbpf does. */
const parseKprobe: TargetParser = (name, entry) => {
  const rest = restOf(name, entry);
  if (rest === undefined) return undefined;
  const retprobe = entry === 'kretprobe+';
  const fn = scanSet(rest, /^[a-zA-Z0-9_.]+/);
  if (!fn) return invalid(`'${rest}' is not a kernel function name ([a-zA-Z0-9_.])`);
  let offset = 0;
  if (rest[fn.length] === '+') offset = scanLong(rest.slice(fn.length + 1)).value;
  if (offset < 0) return invalid(`kprobe offset ${offset} is negative`);
  if (retprobe && offset !== 0) return invalid('kretprobes take no offset');
  return { kind: 'kprobe', function: fn, offset, retprobe };
};

const parseKsyscall: TargetParser = (name, entry) => {
  const rest = restOf(name, entry);
  if (rest === undefined) return undefined;
  if (!rest) return invalid('no syscall name after the /');
  return { kind: 'ksyscall', syscall: rest, retprobe: entry === 'kretsyscall+' };
};

const parseKprobeMulti: TargetParser = (name, entry) => {
  const rest = restOf(name, entry);
  if (rest === undefined) return undefined;
  const pattern = scanSet(rest, /^[a-zA-Z0-9_.*?]+/);
  if (!pattern) return invalid(`'${rest}' is not a kernel function pattern ([a-zA-Z0-9_.*?])`);
  return { kind: 'kprobe_multi', pattern, retprobe: entry === 'kretprobe.multi+', session: entry === 'kprobe.session+' };
};

/**
 * `TYPE/BINARY:FUNC` split as libbpf's sscanf("%[^/]/%[^:]:%[^\n]") does: no
 * `/`, or nothing after it, is the bare form; a binary without `:FUNC` is an error.
 */
function splitProbe(name: string): { binary: string; func: string } | 'bare' | 'no function' {
  const slash = name.indexOf('/');
  if (slash < 0 || slash === name.length - 1) return 'bare';
  const rest = name.slice(slash + 1);
  const colon = rest.indexOf(':');
  if (colon === 0) return 'bare';
  if (colon < 0) return 'no function';
  const func = rest.slice(colon + 1).split('\n', 1)[0]!;
  return func ? { binary: rest.slice(0, colon), func } : 'no function';
}

/** `uprobe/BINARY:FUNC[+OFFSET]`: a `+OFFSET` that is not a whole number to the end stays part of FUNC, as in libbpf. */
const parseUprobe: TargetParser = (name, entry) => {
  const parts = splitProbe(name);
  if (parts === 'bare') return undefined;
  if (parts === 'no function') return invalid("missing ':function[+offset]' after the binary");
  let { func } = parts;
  let offset = 0;
  const plus = func.lastIndexOf('+');
  if (plus >= 0) {
    const scanned = scanLong(func.slice(plus + 1));
    if (scanned.length > 0 && plus + 1 + scanned.length === func.length) {
      offset = scanned.value;
      func = func.slice(0, plus);
    }
  }
  const retprobe = entry === 'uretprobe+' || entry === 'uretprobe.s+';
  if (retprobe && offset !== 0) return invalid('uretprobes take no offset');
  return { kind: 'uprobe', binary: parts.binary, function: func, offset, retprobe };
};

const parseUprobeMulti: TargetParser = (name, entry) => {
  const parts = splitProbe(name);
  if (parts === 'bare') return undefined;
  if (parts === 'no function') return invalid("missing ':pattern' after the binary");
  return {
    kind: 'uprobe_multi', binary: parts.binary, pattern: parts.func,
    retprobe: entry.startsWith('uretprobe.multi'), session: entry.startsWith('uprobe.session'),
  };
};

/**
 * `usdt/BINARY:PROVIDER:NAME`. libbpf reads it with sscanf("usdt/...") and so
 * refuses `usdt.s/...`; the same three parts are read here after either prefix.
 */
const parseUsdt: TargetParser = (name, entry) => {
  const rest = restOf(name, entry);
  if (rest === undefined) return undefined;
  const [binary, provider, probe] = rest.split(':');
  if (!binary || !provider || !probe) return invalid("expected 'usdt/<path>:<provider>:<name>'");
  return { kind: 'usdt', binary, provider, name: probe };
};

/** `tracepoint/CATEGORY/NAME`: split at the first `/` of the rest (event names have none, categories neither). */
const parseTracepoint: TargetParser = (name, entry) => {
  const rest = restOf(name, entry);
  if (rest === undefined) return undefined;
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return invalid(`expected '${entry.slice(0, -1)}/<category>/<name>'`);
  return { kind: 'tracepoint', category: rest.slice(0, slash), name: rest.slice(slash + 1) };
};

const parseRawTp: TargetParser = (name, entry) => {
  const rest = restOf(name, entry);
  if (rest === undefined) return undefined;
  if (!rest) return invalid('no tracepoint name after the /');
  return { kind: 'raw_tp', name: rest };
};

/**
 * The BTF-named kinds: the target is everything after the first `/` of the
 * section name (libbpf takes strchr(sec_name, '/')), looked up in BTF with the
 * prefix the kernel gives such types.
 */
function parseBtf(btfPrefix: string, btfKind: 'func' | 'typedef'): TargetParser {
  return (name) => {
    const slash = name.indexOf('/');
    if (slash < 0) return undefined;
    const target = name.slice(slash + 1);
    if (!target) return invalid('no BTF target name after the /');
    return { kind: 'btf', name: target, btfName: btfPrefix + target, btfKind };
  };
}

const parseTrace = parseBtf('', 'func');

/** An entry; one with a target parser is one libbpf attaches by its name, unless `auto` says otherwise. */
function def(
  entry: string, programType: ProgTypeName, expectedAttachType: AttachTypeName | 0, flags: Flags, attach: AttachKind,
  parse?: TargetParser, auto = parse !== undefined,
): Entry {
  return parse ? { entry, programType, expectedAttachType, flags, attach, parse, auto } : { entry, programType, expectedAttachType, flags, attach, auto };
}

/** libbpf 1.7's section_defs[], in its order. */
const TABLE: readonly Entry[] = [
  def('socket', 'SOCKET_FILTER', 0, NONE, 'socket'),
  def('sk_reuseport/migrate', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE', ATTACHABLE, 'socket'),
  def('sk_reuseport', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT', ATTACHABLE, 'socket'),
  def('kprobe+', 'KPROBE', 0, NONE, 'kprobe', parseKprobe),
  def('uprobe+', 'KPROBE', 0, NONE, 'uprobe', parseUprobe),
  def('uprobe.s+', 'KPROBE', 0, SLEEPABLE, 'uprobe', parseUprobe),
  def('kretprobe+', 'KPROBE', 0, NONE, 'kprobe', parseKprobe),
  def('uretprobe+', 'KPROBE', 0, NONE, 'uprobe', parseUprobe),
  def('uretprobe.s+', 'KPROBE', 0, SLEEPABLE, 'uprobe', parseUprobe),
  def('kprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI', NONE, 'kprobe_multi', parseKprobeMulti),
  def('kretprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI', NONE, 'kprobe_multi', parseKprobeMulti),
  def('kprobe.session+', 'KPROBE', 'TRACE_KPROBE_SESSION', NONE, 'kprobe_multi', parseKprobeMulti),
  def('uprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI', NONE, 'uprobe_multi', parseUprobeMulti),
  def('uretprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI', NONE, 'uprobe_multi', parseUprobeMulti),
  def('uprobe.session+', 'KPROBE', 'TRACE_UPROBE_SESSION', NONE, 'uprobe_multi', parseUprobeMulti),
  def('uprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', SLEEPABLE, 'uprobe_multi', parseUprobeMulti),
  def('uretprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', SLEEPABLE, 'uprobe_multi', parseUprobeMulti),
  def('uprobe.session.s+', 'KPROBE', 'TRACE_UPROBE_SESSION', SLEEPABLE, 'uprobe_multi', parseUprobeMulti),
  def('ksyscall+', 'KPROBE', 0, NONE, 'ksyscall', parseKsyscall),
  def('kretsyscall+', 'KPROBE', 0, NONE, 'ksyscall', parseKsyscall),
  def('usdt+', 'KPROBE', 0, { usdt: true }, 'usdt', parseUsdt),
  def('usdt.s+', 'KPROBE', 0, { usdt: true, sleepable: true }, 'usdt', parseUsdt),
  // tc/ingress and tc/egress are aliases of tcx; bare tc, classifier and action are the legacy tc (netlink) kind
  def('tc/ingress', 'SCHED_CLS', 'TCX_INGRESS', NONE, 'tcx'),
  def('tc/egress', 'SCHED_CLS', 'TCX_EGRESS', NONE, 'tcx'),
  def('tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS', NONE, 'tcx'),
  def('tcx/egress', 'SCHED_CLS', 'TCX_EGRESS', NONE, 'tcx'),
  def('tc', 'SCHED_CLS', 0, NONE, 'tc'),
  def('classifier', 'SCHED_CLS', 0, NONE, 'tc'),
  def('action', 'SCHED_ACT', 0, NONE, 'tc'),
  def('netkit/primary', 'SCHED_CLS', 'NETKIT_PRIMARY', NONE, 'netkit'),
  def('netkit/peer', 'SCHED_CLS', 'NETKIT_PEER', NONE, 'netkit'),
  def('tracepoint+', 'TRACEPOINT', 0, NONE, 'tracepoint', parseTracepoint),
  def('tp+', 'TRACEPOINT', 0, NONE, 'tracepoint', parseTracepoint),
  def('raw_tracepoint+', 'RAW_TRACEPOINT', 0, NONE, 'raw_tp', parseRawTp),
  def('raw_tp+', 'RAW_TRACEPOINT', 0, NONE, 'raw_tp', parseRawTp),
  def('raw_tracepoint.w+', 'RAW_TRACEPOINT_WRITABLE', 0, NONE, 'raw_tp', parseRawTp),
  def('raw_tp.w+', 'RAW_TRACEPOINT_WRITABLE', 0, NONE, 'raw_tp', parseRawTp),
  def('tp_btf+', 'TRACING', 'TRACE_RAW_TP', BTF, 'tracing', parseBtf('btf_trace_', 'typedef')),
  def('fentry+', 'TRACING', 'TRACE_FENTRY', BTF, 'tracing', parseTrace),
  def('fmod_ret+', 'TRACING', 'MODIFY_RETURN', BTF, 'tracing', parseTrace),
  def('fexit+', 'TRACING', 'TRACE_FEXIT', BTF, 'tracing', parseTrace),
  def('fentry.s+', 'TRACING', 'TRACE_FENTRY', BTF_SLEEPABLE, 'tracing', parseTrace),
  def('fmod_ret.s+', 'TRACING', 'MODIFY_RETURN', BTF_SLEEPABLE, 'tracing', parseTrace),
  def('fexit.s+', 'TRACING', 'TRACE_FEXIT', BTF_SLEEPABLE, 'tracing', parseTrace),
  def('fsession+', 'TRACING', 'TRACE_FSESSION', BTF, 'tracing', parseTrace),
  def('fsession.s+', 'TRACING', 'TRACE_FSESSION', BTF_SLEEPABLE, 'tracing', parseTrace),
  def('freplace+', 'EXT', 0, BTF, 'tracing', parseTrace),
  def('lsm+', 'LSM', 'LSM_MAC', BTF, 'lsm', parseBtf('bpf_lsm_', 'func')),
  def('lsm.s+', 'LSM', 'LSM_MAC', BTF_SLEEPABLE, 'lsm', parseBtf('bpf_lsm_', 'func')),
  // no attach function in libbpf: it needs a cgroup; the hook is still named in BTF
  def('lsm_cgroup+', 'LSM', 'LSM_CGROUP', BTF, 'cgroup', parseBtf('bpf_lsm_', 'func'), false),
  def('iter+', 'TRACING', 'TRACE_ITER', BTF, 'iter', parseBtf('bpf_iter_', 'func')),
  def('iter.s+', 'TRACING', 'TRACE_ITER', BTF_SLEEPABLE, 'iter', parseBtf('bpf_iter_', 'func')),
  def('syscall', 'SYSCALL', 0, SLEEPABLE, 'none'),
  def('xdp.frags/devmap', 'XDP', 'XDP_DEVMAP', { frags: true }, 'none'),
  def('xdp/devmap', 'XDP', 'XDP_DEVMAP', ATTACHABLE, 'none'),
  def('xdp.frags/cpumap', 'XDP', 'XDP_CPUMAP', { frags: true }, 'none'),
  def('xdp/cpumap', 'XDP', 'XDP_CPUMAP', ATTACHABLE, 'none'),
  def('xdp.frags', 'XDP', 'XDP', { frags: true }, 'xdp'),
  def('xdp', 'XDP', 'XDP', ATTACHABLE_OPT, 'xdp'),
  def('perf_event', 'PERF_EVENT', 0, NONE, 'perf_event'),
  def('lwt_in', 'LWT_IN', 0, NONE, 'lwt'),
  def('lwt_out', 'LWT_OUT', 0, NONE, 'lwt'),
  def('lwt_xmit', 'LWT_XMIT', 0, NONE, 'lwt'),
  def('lwt_seg6local', 'LWT_SEG6LOCAL', 0, NONE, 'lwt'),
  def('sockops', 'SOCK_OPS', 'CGROUP_SOCK_OPS', ATTACHABLE_OPT, 'cgroup'),
  def('sk_skb/stream_parser', 'SK_SKB', 'SK_SKB_STREAM_PARSER', ATTACHABLE_OPT, 'sockmap'),
  def('sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT', ATTACHABLE_OPT, 'sockmap'),
  def('sk_skb/verdict', 'SK_SKB', 'SK_SKB_VERDICT', ATTACHABLE_OPT, 'sockmap'),
  def('sk_skb', 'SK_SKB', 0, NONE, 'sockmap'),
  def('sk_msg', 'SK_MSG', 'SK_MSG_VERDICT', ATTACHABLE_OPT, 'sockmap'),
  def('lirc_mode2', 'LIRC_MODE2', 'LIRC_MODE2', ATTACHABLE_OPT, 'lirc'),
  def('flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR', ATTACHABLE_OPT, 'netns'),
  def('cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS', ATTACHABLE_OPT, 'cgroup'),
  def('cgroup_skb/egress', 'CGROUP_SKB', 'CGROUP_INET_EGRESS', ATTACHABLE_OPT, 'cgroup'),
  def('cgroup/skb', 'CGROUP_SKB', 0, NONE, 'cgroup'),
  def('cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', ATTACHABLE, 'cgroup'),
  def('cgroup/sock_release', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE', ATTACHABLE, 'cgroup'),
  def('cgroup/sock', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', ATTACHABLE_OPT, 'cgroup'),
  def('cgroup/post_bind4', 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND', ATTACHABLE, 'cgroup'),
  def('cgroup/post_bind6', 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND', ATTACHABLE, 'cgroup'),
  def('cgroup/bind4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND', ATTACHABLE, 'cgroup'),
  def('cgroup/bind6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND', ATTACHABLE, 'cgroup'),
  def('cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT', ATTACHABLE, 'cgroup'),
  def('cgroup/connect6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT', ATTACHABLE, 'cgroup'),
  def('cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_CONNECT', ATTACHABLE, 'cgroup'),
  def('cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG', ATTACHABLE, 'cgroup'),
  def('cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG', ATTACHABLE, 'cgroup'),
  def('cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_SENDMSG', ATTACHABLE, 'cgroup'),
  def('cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG', ATTACHABLE, 'cgroup'),
  def('cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG', ATTACHABLE, 'cgroup'),
  def('cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_RECVMSG', ATTACHABLE, 'cgroup'),
  def('cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME', ATTACHABLE, 'cgroup'),
  def('cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME', ATTACHABLE, 'cgroup'),
  def('cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETPEERNAME', ATTACHABLE, 'cgroup'),
  def('cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME', ATTACHABLE, 'cgroup'),
  def('cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME', ATTACHABLE, 'cgroup'),
  def('cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETSOCKNAME', ATTACHABLE, 'cgroup'),
  def('cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL', ATTACHABLE, 'cgroup'),
  def('cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT', ATTACHABLE, 'cgroup'),
  def('cgroup/setsockopt', 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT', ATTACHABLE, 'cgroup'),
  def('cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE', ATTACHABLE_OPT, 'cgroup'),
  // the rest of a struct_ops name is a label for people: the member it implements comes from the map
  def('struct_ops+', 'STRUCT_OPS', 0, NONE, 'none'),
  def('struct_ops.s+', 'STRUCT_OPS', 0, SLEEPABLE, 'none'),
  def('sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP', ATTACHABLE, 'netns'),
  def('netfilter', 'NETFILTER', 'NETFILTER', NONE, 'netfilter'),
];

/** libbpf's sec_def_matches(): `name` exactly, `name+` exactly or followed by `/`, `name/` as a prefix. */
function matches(entry: string, section: string): boolean {
  if (entry.endsWith('/')) return section.startsWith(entry);
  if (entry.endsWith('+')) {
    const prefix = entry.slice(0, -1);
    return section.startsWith(prefix) && (section.length === prefix.length || section[prefix.length] === '/');
  }
  return section === entry;
}

/**
 * What libbpf 1.x makes of a program's section name: the first entry of its
 * table that matches, with the attach target the rest of the name gives.
 * undefined where libbpf finds none (it refuses to load such a program).
 */
export function sectionDefinition(name: string): SectionDef | undefined {
  const found = TABLE.find((e) => matches(e.entry, name));
  if (!found) return undefined;
  const { flags } = found;
  return {
    entry: found.entry,
    programType: BPF_PROG_TYPE[found.programType],
    expectedAttachType: found.expectedAttachType === 0 ? 0 : BPF_ATTACH_TYPE[found.expectedAttachType],
    expectedAttachTypeOptional: flags.expOpt === true,
    attachable: flags.attachable === true,
    sleepable: flags.sleepable === true,
    xdpFrags: flags.frags === true,
    attachBtf: flags.btf === true,
    usdt: flags.usdt === true,
    attach: found.attach,
    autoAttach: found.auto,
    target: found.parse?.(name, found.entry),
  };
}

/** Every entry of the table, as libbpf spells it, in its order (for listing what is supported). */
export function sectionEntries(): string[] {
  return TABLE.map((e) => e.entry);
}
