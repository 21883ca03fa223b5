import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sectionDefinition, sectionEntries, type SectionDef } from '../../elf/sectionNames.js';
import { requireFeature, requireTool } from '../support/kernel.js';

/**
 * libbpf itself answers for every name: libbpf_prog_type_by_name() and
 * libbpf_attach_type_by_name() of each line of stdin, one line out each:
 * `NAME <tab> prog_type attach_type|- <tab> attach_type|-`.
 */
const ORACLE_C = String.raw`
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *format, va_list args) { return 0; }

int main(void) {
  char line[4096];
  libbpf_set_print(quiet);
  printf("libbpf %u.%u\n", libbpf_major_version(), libbpf_minor_version());
  while (fgets(line, sizeof(line), stdin)) {
    enum bpf_prog_type prog_type;
    enum bpf_attach_type expected, attach;
    line[strcspn(line, "\n")] = 0;
    printf("%s\t", line);
    if (libbpf_prog_type_by_name(line, &prog_type, &expected) == 0) printf("%d %d\t", prog_type, expected);
    else printf("-\t");
    if (libbpf_attach_type_by_name(line, &attach) == 0) printf("%d\n", attach);
    else printf("-\n");
  }
  return 0;
}
`;

/** The entries libbpf gained after 1.1 (Debian 12's libbpf-dev): an older oracle knows none of them. */
const AFTER_LIBBPF_1_1 = new Set([
  'kprobe.session+', 'uprobe.multi+', 'uretprobe.multi+', 'uprobe.session+', 'uprobe.multi.s+', 'uretprobe.multi.s+',
  'uprobe.session.s+', 'usdt.s+', 'tc/ingress', 'tc/egress', 'tcx/ingress', 'tcx/egress', 'netkit/primary', 'netkit/peer',
  'fsession+', 'fsession.s+', 'sk_skb/verdict', 'cgroup/connect_unix', 'cgroup/sendmsg_unix', 'cgroup/recvmsg_unix',
  'cgroup/getpeername_unix', 'cgroup/getsockname_unix', 'struct_ops.s+', 'netfilter',
]);

/** Every entry's name in the forms that tell the matching rules apart, and names of other conventions. */
function namesToAsk(): string[] {
  const names = new Set<string>();
  for (const entry of sectionEntries()) {
    const base = entry.replace(/[+/]$/, '');
    for (const name of [base, `${base}/x`, `${base}/a/b`, `${base}x`, `${base}.x`, `${base}_1`, `${base}/`, base.toUpperCase()]) names.add(name);
  }
  for (const name of [
    '', '/', 'xdp1', 'xdp_prog', 'socket1', 'socket/3', 'kprobe/do_sys_openat2', 'tracepoint/syscalls/sys_enter_getuid',
    'raw_tracepoint/sys_enter', 'maps', '.maps', 'license', '.text', 'cgroup/sock_create/x', 'cgroup', 'cgroup_skb',
    'tc/ingress/x', 'tcx', 'xdp.frags/devmap/x', 'sk_skb/stream_parser/x', 'uprobe//bin/ls:main', 'usdt/a:b:c',
  ]) names.add(name);
  return [...names];
}

function askLibbpf(context: Mocha.Context, names: string[]): { version: string; answers: Map<string, { prog?: [number, number]; attach?: number }> } {
  requireTool(context, 'cc');
  requireFeature(context, 'libbpf-dev', existsSync('/usr/include/bpf/libbpf.h') ? undefined : '/usr/include/bpf/libbpf.h is missing (run: bash scripts/preflight.sh)');
  const directory = mkdtempSync(join(tmpdir(), 'bpf-load-secnames-'));
  try {
    writeFileSync(join(directory, 'oracle.c'), ORACLE_C);
    const built = spawnSync('cc', ['-o', join(directory, 'oracle'), join(directory, 'oracle.c'), '-lbpf'], { encoding: 'utf8' });
    expect(built.status, built.stderr).to.equal(0);
    const run = spawnSync(join(directory, 'oracle'), { input: names.join('\n') + '\n', encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    const [version, ...lines] = run.stdout.split('\n').filter((l) => l !== '');
    const answers = new Map<string, { prog?: [number, number]; attach?: number }>();
    for (const line of lines) {
      const [name, prog, attach] = line.split('\t');
      const answer: { prog?: [number, number]; attach?: number } = {};
      if (prog !== '-') answer.prog = prog!.split(' ').map(Number) as [number, number];
      if (attach !== '-') answer.attach = Number(attach);
      answers.set(name!, answer);
    }
    expect([...answers.keys()]).to.deep.equal(names);
    return { version: version!, answers };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe("elf: libbpf's section names", () => {
  it('every prefix, in every form, gets the program type and expected attach type libbpf gives it', function () {
    const names = namesToAsk();
    const { version, answers } = askLibbpf(this, names);
    const agreed = new Set<string>();
    const disagreements: string[] = [];
    for (const name of names) {
      const ours = sectionDefinition(name);
      const theirs = answers.get(name)!;
      if (theirs.prog) {
        const mine = ours ? [ours.programType, ours.expectedAttachType] : undefined;
        if (!mine || mine[0] !== theirs.prog[0] || mine[1] !== theirs.prog[1]) {
          disagreements.push(`${JSON.stringify(name)}: libbpf ${theirs.prog.join('/')}, ours ${mine?.join('/') ?? 'none'}`);
        }
        const attachable = ours?.attachable ? ours.expectedAttachType : undefined;
        if (attachable !== theirs.attach) disagreements.push(`${JSON.stringify(name)}: libbpf attach type ${theirs.attach}, ours ${attachable}`);
        if (ours) agreed.add(ours.entry);
      } else if (ours && !AFTER_LIBBPF_1_1.has(ours.entry)) {
        // an older libbpf may lack the newest entries; any other name it refuses, we refuse
        disagreements.push(`${JSON.stringify(name)}: libbpf ${version} knows no such section, ours says ${ours.entry}`);
      }
    }
    expect(disagreements, version).to.deep.equal([]);
    // every entry libbpf 1.1 has was checked against the oracle
    expect(sectionEntries().filter((e) => !AFTER_LIBBPF_1_1.has(e) && !agreed.has(e)), version).to.deep.equal([]);
  });

  it("libbpf 1.x's matching: exact names, `+` entries exactly or followed by `/`, the first entry that matches", () => {
    expect(sectionDefinition('xdp')?.entry).to.equal('xdp');
    for (const name of ['xdp1', 'xdp_prog', 'xdp/foo', 'socket1', 'socket/0', 'kprobe.foo', 'kprobex/y', 'Kprobe', '', 'tc/foo', 'tcx', 'tp.s/a/b']) {
      expect(sectionDefinition(name), name).to.equal(undefined);
    }
    expect(sectionDefinition('kprobe')?.entry).to.equal('kprobe+');
    expect(sectionDefinition('kprobe/')?.entry).to.equal('kprobe+');
    expect(sectionDefinition('sk_reuseport/migrate')?.entry).to.equal('sk_reuseport/migrate');
    expect(sectionDefinition('xdp.frags/devmap')?.entry).to.equal('xdp.frags/devmap');
    expect(sectionDefinition('xdp.frags')?.entry).to.equal('xdp.frags');
    expect(sectionDefinition('uprobe.multi.s/bin:f')?.entry).to.equal('uprobe.multi.s+');
    expect(sectionDefinition('tc/ingress')?.attach).to.equal('tcx');
    expect(sectionDefinition('tc')?.attach).to.equal('tc');
  });

  it('flags: sleepable, xdp frags, BTF attach, optional expected attach type, usdt', () => {
    const flags = (name: string) => {
      const d = sectionDefinition(name)!;
      return { sleepable: d.sleepable, xdpFrags: d.xdpFrags, attachBtf: d.attachBtf, optional: d.expectedAttachTypeOptional, usdt: d.usdt };
    };
    const none = { sleepable: false, xdpFrags: false, attachBtf: false, optional: false, usdt: false };
    expect(flags('xdp')).to.deep.equal({ ...none, optional: true });
    expect(flags('xdp.frags')).to.deep.equal({ ...none, xdpFrags: true });
    expect(flags('fentry.s/f')).to.deep.equal({ ...none, sleepable: true, attachBtf: true });
    expect(flags('lsm/file_open')).to.deep.equal({ ...none, attachBtf: true });
    expect(flags('syscall')).to.deep.equal({ ...none, sleepable: true });
    expect(flags('usdt.s/a:b:c')).to.deep.equal({ ...none, usdt: true, sleepable: true });
    expect(flags('uprobe.s/bin:f')).to.deep.equal({ ...none, sleepable: true });
    expect(flags('cgroup/dev')).to.deep.equal({ ...none, optional: true });
    expect(flags('kprobe/f')).to.deep.equal(none);
  });

  describe('the attach target the rest of the name gives', () => {
    const target = (name: string): SectionDef['target'] => sectionDefinition(name)!.target;
    const cases: [string, SectionDef['target']][] = [
      ['kprobe', undefined],
      ['kprobe/do_unlinkat', { kind: 'kprobe', function: 'do_unlinkat', offset: 0, retprobe: false }],
      ['kprobe/tcp_v4_connect+0x10', { kind: 'kprobe', function: 'tcp_v4_connect', offset: 16, retprobe: false }],
      ['kprobe/f+010', { kind: 'kprobe', function: 'f', offset: 8, retprobe: false }],
      ['kprobe/f.cold+abc', { kind: 'kprobe', function: 'f.cold', offset: 0, retprobe: false }],
      ['kretprobe/do_unlinkat', { kind: 'kprobe', function: 'do_unlinkat', offset: 0, retprobe: true }],
      ['kprobe/', { kind: 'invalid', reason: "'' is not a kernel function name ([a-zA-Z0-9_.])" }],
      ['kprobe/f+-4', { kind: 'invalid', reason: 'kprobe offset -4 is negative' }],
      ['kretprobe/f+4', { kind: 'invalid', reason: 'kretprobes take no offset' }],
      ['ksyscall/openat', { kind: 'ksyscall', syscall: 'openat', retprobe: false }],
      ['kretsyscall/openat', { kind: 'ksyscall', syscall: 'openat', retprobe: true }],
      ['kprobe.multi/tcp_*', { kind: 'kprobe_multi', pattern: 'tcp_*', retprobe: false, session: false }],
      ['kretprobe.multi/vfs_?ead', { kind: 'kprobe_multi', pattern: 'vfs_?ead', retprobe: true, session: false }],
      ['kprobe.session/f*', { kind: 'kprobe_multi', pattern: 'f*', retprobe: false, session: true }],
      ['uprobe', undefined],
      ['uprobe/', undefined],
      ['uprobe//usr/lib/libc.so.6:malloc', { kind: 'uprobe', binary: '/usr/lib/libc.so.6', function: 'malloc', offset: 0, retprobe: false }],
      ['uprobe/libc.so.6:malloc+0x20', { kind: 'uprobe', binary: 'libc.so.6', function: 'malloc', offset: 32, retprobe: false }],
      ['uprobe/bin:f+g', { kind: 'uprobe', binary: 'bin', function: 'f+g', offset: 0, retprobe: false }],
      ['uretprobe.s/bin:f', { kind: 'uprobe', binary: 'bin', function: 'f', offset: 0, retprobe: true }],
      ['uretprobe/bin:f+8', { kind: 'invalid', reason: 'uretprobes take no offset' }],
      ['uprobe/bin', { kind: 'invalid', reason: "missing ':function[+offset]' after the binary" }],
      ['uprobe.multi/bin:f*', { kind: 'uprobe_multi', binary: 'bin', pattern: 'f*', retprobe: false, session: false }],
      ['uretprobe.multi.s/bin:f*', { kind: 'uprobe_multi', binary: 'bin', pattern: 'f*', retprobe: true, session: false }],
      ['uprobe.session/bin:f', { kind: 'uprobe_multi', binary: 'bin', pattern: 'f', retprobe: false, session: true }],
      ['usdt', undefined],
      ['usdt//usr/bin/python3:python:function__entry', { kind: 'usdt', binary: '/usr/bin/python3', provider: 'python', name: 'function__entry' }],
      ['usdt.s/bin:p:n', { kind: 'usdt', binary: 'bin', provider: 'p', name: 'n' }],
      ['usdt/bin:p', { kind: 'invalid', reason: "expected 'usdt/<path>:<provider>:<name>'" }],
      ['tracepoint/syscalls/sys_enter_openat', { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' }],
      ['tp/sched/sched_switch', { kind: 'tracepoint', category: 'sched', name: 'sched_switch' }],
      ['tp', undefined],
      ['tp/sched', { kind: 'invalid', reason: "expected 'tp/<category>/<name>'" }],
      ['raw_tp/sys_enter', { kind: 'raw_tp', name: 'sys_enter' }],
      ['raw_tracepoint/sched_switch', { kind: 'raw_tp', name: 'sched_switch' }],
      ['raw_tp.w/bpf_test_finish', { kind: 'raw_tp', name: 'bpf_test_finish' }],
      ['raw_tp/', { kind: 'invalid', reason: 'no tracepoint name after the /' }],
      ['tp_btf/sched_switch', { kind: 'btf', name: 'sched_switch', btfName: 'btf_trace_sched_switch', btfKind: 'typedef' }],
      ['fentry/do_unlinkat', { kind: 'btf', name: 'do_unlinkat', btfName: 'do_unlinkat', btfKind: 'func' }],
      ['fexit.s/f', { kind: 'btf', name: 'f', btfName: 'f', btfKind: 'func' }],
      ['fmod_ret/security_f', { kind: 'btf', name: 'security_f', btfName: 'security_f', btfKind: 'func' }],
      ['freplace/handler', { kind: 'btf', name: 'handler', btfName: 'handler', btfKind: 'func' }],
      ['lsm/file_open', { kind: 'btf', name: 'file_open', btfName: 'bpf_lsm_file_open', btfKind: 'func' }],
      ['lsm_cgroup/socket_bind', { kind: 'btf', name: 'socket_bind', btfName: 'bpf_lsm_socket_bind', btfKind: 'func' }],
      ['iter/task', { kind: 'btf', name: 'task', btfName: 'bpf_iter_task', btfKind: 'func' }],
      ['iter.s/task_file', { kind: 'btf', name: 'task_file', btfName: 'bpf_iter_task_file', btfKind: 'func' }],
      ['fentry', undefined],
      ['fentry/', { kind: 'invalid', reason: 'no BTF target name after the /' }],
      ['xdp', undefined],
      ['tcx/ingress', undefined],
      ['cgroup/connect4', undefined],
      ['struct_ops/dctcp_init', undefined],
    ];
    for (const [name, expected] of cases) {
      it(name, () => expect(target(name)).to.deep.equal(expected));
    }
  });

  it('how each kind attaches, and which libbpf attaches by name alone', () => {
    const kind = (name: string) => [sectionDefinition(name)!.attach, sectionDefinition(name)!.autoAttach];
    expect(kind('kprobe/f')).to.deep.equal(['kprobe', true]);
    expect(kind('uprobe/b:f')).to.deep.equal(['uprobe', true]);
    expect(kind('tracepoint/a/b')).to.deep.equal(['tracepoint', true]);
    expect(kind('raw_tp/a')).to.deep.equal(['raw_tp', true]);
    expect(kind('fentry/f')).to.deep.equal(['tracing', true]);
    expect(kind('lsm/f')).to.deep.equal(['lsm', true]);
    expect(kind('iter/task')).to.deep.equal(['iter', true]);
    expect(kind('lsm_cgroup/f')).to.deep.equal(['cgroup', false]);
    expect(kind('perf_event')).to.deep.equal(['perf_event', false]);
    expect(kind('xdp')).to.deep.equal(['xdp', false]);
    expect(kind('xdp/devmap')).to.deep.equal(['none', false]);
    expect(kind('tc')).to.deep.equal(['tc', false]);
    expect(kind('classifier')).to.deep.equal(['tc', false]);
    expect(kind('action')).to.deep.equal(['tc', false]);
    expect(kind('tcx/egress')).to.deep.equal(['tcx', false]);
    expect(kind('cgroup_skb/ingress')).to.deep.equal(['cgroup', false]);
    expect(kind('sockops')).to.deep.equal(['cgroup', false]);
    expect(kind('sk_msg')).to.deep.equal(['sockmap', false]);
    expect(kind('sk_lookup')).to.deep.equal(['netns', false]);
    expect(kind('flow_dissector')).to.deep.equal(['netns', false]);
    expect(kind('lwt_xmit')).to.deep.equal(['lwt', false]);
    expect(kind('socket')).to.deep.equal(['socket', false]);
    expect(kind('netfilter')).to.deep.equal(['netfilter', false]);
    expect(kind('syscall')).to.deep.equal(['none', false]);
    expect(kind('struct_ops/x')).to.deep.equal(['none', false]);
  });

  it('the table has no entry twice and no entry hidden behind an earlier one', () => {
    const entries = sectionEntries();
    expect(new Set(entries).size).to.equal(entries.length);
    for (const entry of entries) {
      const name = entry.replace(/\+$/, '');
      expect(sectionDefinition(name)?.entry, name).to.equal(entry);
    }
  });
});
