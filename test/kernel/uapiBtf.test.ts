import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as uapi from '../../uapi/index.js';
import { requireFeature, requireTool } from '../support/kernel.js';

/**
 * uapi/'s layouts against the running kernel's own types: every field's
 * offset as this kernel's BTF (/sys/kernel/btf/vmlinux, read by bpftool)
 * places the member of that name in union bpf_attr, the bpf_*_info structs
 * and perf_event_attr.
 */

interface BtfMember { name: string; typeId: number; bitOffset: number }
interface BtfType { kind: string; name: string; members: BtfMember[] }

function readVmlinuxBtf(): Map<number, BtfType> {
  const out = spawnSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (out.status !== 0) throw new Error(`bpftool btf dump: ${out.stderr}`);
  const types = new Map<number, BtfType>();
  let current: BtfType | undefined;
  for (const line of out.stdout.split('\n')) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'/.exec(line);
    if (head) {
      current = { kind: head[2]!, name: head[3]!, members: [] };
      types.set(Number(head[1]), current);
      continue;
    }
    const member = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (member && current) current.members.push({ name: member[1]!, typeId: Number(member[2]), bitOffset: Number(member[3]) });
  }
  return types;
}

/** Every member reachable from a struct or union, by dotted name (anonymous members add no name), with its byte offset. */
function flatten(types: Map<number, BtfType>, id: number, prefix = '', base = 0, into = new Map<string, number[]>()): Map<string, number[]> {
  const type = types.get(id);
  if (!type || !['STRUCT', 'UNION'].includes(type.kind)) return into;
  for (const member of type.members) {
    const offset = base + Math.floor(member.bitOffset / 8);
    const name = member.name === '(anon)' ? prefix.replace(/\.$/, '') : `${prefix}${member.name}`;
    if (member.name !== '(anon)') into.set(name, [...(into.get(name) ?? []), offset]);
    const inner = types.get(member.typeId);
    if (inner && ['STRUCT', 'UNION'].includes(inner.kind)) flatten(types, member.typeId, member.name === '(anon)' ? prefix : `${name}.`, offset, into);
  }
  return into;
}

/** Where uapi/ names a field otherwise than the kernel (one name for a union of several, a bitfield word) */
const RENAMES: Record<string, Record<string, string>> = {
  'bpf_attr.get_id': { id: 'start_id' },
  'bpf_attr.fd': { fd: 'map_fd' },
  'bpf_prog_info': { flags: 'gpl_compatible' },
  'perf_event_attr': { flags: 'disabled' },
  // the multi links' own flags, beside link_create.flags in the same layout
  'bpf_attr.link_create.kprobe_multi': { multi_flags: 'kprobe_multi.flags' },
  'bpf_attr.link_create.uprobe_multi': { multi_flags: 'uprobe_multi.flags' },
};

describe('kernel: uapi layouts against this kernel\'s BTF', function () {
  this.timeout(60_000);
  let types: Map<number, BtfType>;
  const byName = (kind: string, name: string) => [...types.entries()].find(([, t]) => t.kind === kind && t.name === name)?.[0];

  before(function () {
    requireTool(this, 'bpftool');
    requireFeature(this, 'kernel BTF', existsSync('/sys/kernel/btf/vmlinux') ? undefined : '/sys/kernel/btf/vmlinux is missing');
    types = readVmlinuxBtf();
  });

  /**
   * Records perf_event.h describes in comments only (no C type, so none in BTF): their header is
   * perf_event_header, checked here; their fields after it are checked in test/unit against the comments.
   */
  const COMMENT_ONLY = new Set(['perf_record_lost', 'perf_record_sample (time, raw)']);
  /** iproute2's structs (include/bpf_scm.h, bpf_elf.h): no kernel type; checked in test/unit against iproute2's sizes */
  const IPROUTE2 = new Set(['bpf_map_aux', 'bpf_elf_map']);
  const layouts = Object.values(uapi).filter((v): v is uapi.StructLayout =>
    typeof v === 'object' && v !== null && 'fields' in v && 'end' in v &&
    !COMMENT_ONLY.has((v as uapi.StructLayout).name) && !IPROUTE2.has((v as uapi.StructLayout).name));

  it('the perf records known only from comments are exactly those listed, and each begins after a perf_event_header', () => {
    const all = Object.values(uapi).filter((v): v is uapi.StructLayout => typeof v === 'object' && v !== null && 'fields' in v && 'end' in v);
    const records = all.filter((l) => COMMENT_ONLY.has(l.name));
    expect(records.map((l) => l.name).sort()).to.deep.equal([...COMMENT_ONLY].sort());
    const header = all.find((l) => l.name === 'perf_event_header');
    expect(header, 'perf_event_header layout').to.not.equal(undefined);
    const headerFields = Object.values(header!.fields).map((f) => [(f as { name: string }).name, (f as { offset: number }).offset]);
    for (const record of records) {
      const fields = Object.values(record.fields).map((f) => [(f as { name: string }).name, (f as { offset: number }).offset] as [string, number]);
      expect(fields.slice(0, headerFields.length), record.name).to.deep.equal(headerFields);
      expect(fields[headerFields.length]![1], record.name).to.equal(header!.end);
    }
  });

  for (const layout of layouts) {
    it(`${layout.name}: every field at the kernel's offset`, () => {
      const root = layout.name.startsWith('bpf_attr.') ? 'bpf_attr' : layout.name.split('.')[0]!;
      const id = byName(root === 'bpf_attr' ? 'UNION' : 'STRUCT', root);
      expect(id, `${root} in vmlinux BTF`).to.not.equal(undefined);
      const renames = RENAMES[layout.name] ?? RENAMES[root] ?? {};
      // bpf_attr: the layout is one of the union's members, the one that has every field where uapi/ puts it
      const candidates = root === 'bpf_attr'
        ? types.get(id!)!.members.map((m) => flatten(types, m.typeId, m.name === '(anon)' ? '' : `${m.name}.`, 0))
        : [flatten(types, id!)];
      const misses = (members: Map<string, number[]>) => (Object.values(layout.fields) as uapi.FieldLayout[]).filter((field) => {
        const name = renames[field.name] ?? field.name;
        return ![...members.entries()].some(([key, offsets]) => (key === name || key.endsWith(`.${name}`)) && offsets.includes(field.offset));
      }).map((field) => `${field.name}@${field.offset}`);
      const best = candidates.map(misses).sort((a, b) => a.length - b.length)[0];
      expect(best, `fields of ${layout.name} not where this kernel has them`).to.deep.equal([]);
    });
  }
});
