import { execFileSync, spawnSync } from 'node:child_process';
import { fail } from './common.js';

/**
 * A veth pair whose peer lives in a network namespace of its own, for trying
 * XDP without touching a real interface: `host` here, the peer at
 * 10.<subnet>.2/24 in `namespace`, sending to 10.<subnet>.1. The namespace
 * knows the host's MAC up front because xdp1-style programs drop ARP too.
 */
export interface VethPair {
  namespace: string;
  host: string;
  /** send `count` UDP datagrams from the namespace to the host side */
  sendUdp(count: number): void;
  /** remove the namespace and the pair; safe to call twice */
  remove(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** With `hostAddress`, the host side gets 10.<subnet>.1.1/24, so the host answers (ping, ICMP errors): traffic both ways. */
export function createVethPair(names: { namespace: string; host: string; subnet: number; hostAddress?: boolean }): VethPair {
  const { namespace, host, subnet } = names;
  const peer = `${host}p`;
  const remove = (): void => {
    spawnSync('ip', ['netns', 'del', namespace]);
    spawnSync('ip', ['link', 'del', host]);
  };
  try {
    ip('netns', 'add', namespace);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', namespace);
    if (names.hostAddress) ip('addr', 'add', `10.${subnet}.1.1/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', namespace, 'addr', 'add', `10.${subnet}.1.2/24`, 'dev', peer);
    ip('-n', namespace, 'link', 'set', peer, 'up');
    const mac = (JSON.parse(ip('-j', 'link', 'show', host)) as { address: string }[])[0]!.address;
    ip('-n', namespace, 'neigh', 'add', `10.${subnet}.1.1`, 'lladdr', mac, 'dev', peer, 'nud', 'permanent');
  } catch (error) {
    remove();
    throw error;
  }
  return {
    namespace,
    host,
    sendUdp(count: number): void {
      const script = Array.from({ length: count }, () => `echo x > /dev/udp/10.${subnet}.1.1/9`).join('; ');
      execFileSync('ip', ['netns', 'exec', namespace, 'bash', '-c', script], { stdio: 'ignore' });
    },
    remove,
  };
}

/** The pair a sample's --demo runs on; when it cannot be made, the sample ends saying why. */
export function createDemoPair(sample: string, names: Parameters<typeof createVethPair>[0]): VethPair {
  try {
    return createVethPair(names);
  } catch (error) {
    fail(`${sample} --demo: could not set up the veth pair: ${(error as Error).message}`);
  }
}
