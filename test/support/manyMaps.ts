import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

/**
 * Build an object with `count` array maps and one socket program that uses
 * the first and the last, so that loading and pinning it takes long enough to
 * be interrupted at many moments. Needs clang (requireTool(this, 'clang')).
 */
export function buildManyMapsObject(count: number): string {
  const directory = mkdtempSync(join(tmpdir(), 'bpfload-many-'));
  const maps = Array.from({ length: count }, (_, i) =>
    `struct bpf_map_def SEC("maps") m${i} = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };`);
  const source = `#include "bpf_legacy.h"
${maps.join('\n')}
SEC("socket")
int prog(struct __sk_buff *skb)
{
	__u32 key = 0;
	return bpf_map_lookup_elem(&m0, &key) || bpf_map_lookup_elem(&m${count - 1}, &key);
}
char _license[] SEC("license") = "GPL";
`;
  const c = join(directory, 'many_kern.c');
  const o = join(directory, 'many_kern.o');
  writeFileSync(c, source);
  execFileSync('clang', ['-O2', '-target', 'bpf', '-I', join(repoRoot, 'fixtures', 'include'), '-c', c, '-o', o]);
  return o;
}
