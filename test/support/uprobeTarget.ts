import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The user-space program the uprobe tests probe, compiled per run with the system's C compiler:
 * `bpf_load_uprobe_target N [wait]` calls target_add(i, 1000) and target_mul(i, 3) for i < N
 * (after a line on stdin with `wait`) and prints the sum of what they returned. Each turn also
 * passes the USDT probe bpf_load:tick (arguments i, as a 4-byte signed value, and the sum so far,
 * 8 bytes), written out as <sys/sdt.h> writes it, guarded by a semaphore: the probe runs only while
 * a tracer attached to it raised the semaphore. Built without
 * PIE, so its functions' addresses (0x401…) differ from their file offsets (0x1…): a uprobe
 * placed at the address instead of the offset would not fire.
 */

export const TARGET_NAME = 'bpf_load_uprobe_target';

const SOURCE = String.raw`
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int target_add(int a, int b)
{
	__asm__ volatile("" ::: "memory");
	return a + b;
}

/* a one-byte nop first: target_mul+1 is an instruction boundary, for the +OFFSET form */
__asm__(".text\n.globl target_mul\n.type target_mul,@function\ntarget_mul:\n\tnop\n\tmov %edi, %eax\n\timul %esi, %eax\n\tret\n.size target_mul, .-target_mul\n");
int target_mul(int a, int b);

/* <sys/sdt.h>'s STAP_PROBE2, by hand (the header is not installed everywhere): a nop at the probe
 * point, and a .note.stapsdt note with its address, the .stapsdt.base address, the semaphore's
 * address, provider, name and where the arguments are (sizes and operands as the compiler chose them) */
unsigned short bpf_load_tick_semaphore __attribute__((section(".probes"), used));
#define TICK(a1, a2) __asm__ __volatile__( \
	"990: nop\n" \
	".pushsection .note.stapsdt,\"?\",\"note\"\n" \
	".balign 4\n" \
	".4byte 992f-991f, 994f-993f, 3\n" \
	"991: .asciz \"stapsdt\"\n" \
	"992: .balign 4\n" \
	"993: .8byte 990b\n" \
	".8byte _.stapsdt.base\n" \
	".8byte bpf_load_tick_semaphore\n" \
	".asciz \"bpf_load\"\n" \
	".asciz \"tick\"\n" \
	".asciz \"-4@%0 8@%1\"\n" \
	"994: .balign 4\n" \
	".popsection\n" \
	".ifndef _.stapsdt.base\n" \
	".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
	".weak _.stapsdt.base\n" \
	".hidden _.stapsdt.base\n" \
	"_.stapsdt.base: .space 1\n" \
	".size _.stapsdt.base, 1\n" \
	".popsection\n" \
	".endif\n" \
	:: "nor"((int)(a1)), "nor"((long)(a2)))

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 1;
	}
	long sum = 0;
	for (int i = 0; i < n; i++) {
		sum += target_add(i, 1000) + target_mul(i, 3);
		if (bpf_load_tick_semaphore)
			TICK(i, sum);
	}
	printf("%ld\n", sum);
	return 0;
}
`;

export interface UprobeTarget {
  dir: string;
  path: string;
  /** run it to the end: what it printed */
  run(calls: number): string;
  /** start it waiting for a line on stdin (so its pid is known before it calls anything) */
  startWaiting(calls: number): { child: ChildProcess; go: () => Promise<string> };
  remove(): void;
}

/** What `target_add(i, 1000) + target_mul(i, 3)` for i < n sum to. */
export function expectedSum(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i + 1000 + i * 3;
  return sum;
}

export function buildUprobeTarget(): UprobeTarget {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-load-uprobe-'));
  const source = join(dir, 'target.c');
  const path = join(dir, TARGET_NAME);
  writeFileSync(source, SOURCE);
  execFileSync('cc', ['-O1', '-no-pie', '-fno-pie', '-o', path, source], { stdio: 'pipe' });
  return {
    dir,
    path,
    run: (calls) => execFileSync(path, [String(calls)], { encoding: 'utf8' }).trim(),
    startWaiting(calls) {
      const child = spawn(path, [String(calls), 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const done = new Promise<string>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${TARGET_NAME} exited with ${code}`))));
      });
      return {
        child,
        go: () => {
          child.stdin!.end('go\n');
          return done;
        },
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Run `use` with `dir` first in PATH (a section name's binary without a '/' is looked up there). */
export async function withPath<T>(dir: string, use: () => Promise<T> | T): Promise<T> {
  const saved = process.env['PATH'];
  process.env['PATH'] = `${dir}:${saved ?? ''}`;
  try {
    return await use();
  } finally {
    process.env['PATH'] = saved;
  }
}
