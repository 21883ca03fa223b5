import { execFileSync } from 'node:child_process';

function output(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The network namespaces `ip netns list` names (a line is NAME, then maybe ` (id: N)`). */
export function networkNamespaces(): string[] {
  return output('ip', ['netns', 'list']).split('\n').filter(Boolean).map((line) => line.split(' ')[0]!);
}

export interface TcFilterJson {
  kind: string;
  options?: { bpf_name?: string; prog?: { id: number }; 'direct-action'?: boolean };
  pref?: number;
}

/** `tc filter show dev DEV DIRECTION`, as tc reads it; nothing at all when there is no clsact qdisc. */
export function tcFilters(dev: string, direction: 'ingress' | 'egress'): TcFilterJson[] {
  return JSON.parse(output('tc', ['-j', 'filter', 'show', 'dev', dev, direction]) || '[]') as TcFilterJson[];
}

/** The kinds of the qdiscs on `dev` (clsact, noqueue…). */
export function qdiscKinds(dev: string): string[] {
  return (JSON.parse(output('tc', ['-j', 'qdisc', 'show', 'dev', dev])) as { kind: string }[]).map((qdisc) => qdisc.kind);
}
