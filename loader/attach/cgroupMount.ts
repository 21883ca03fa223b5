import { readFileSync } from 'node:fs';

/**
 * Where cgroup v2 is mounted, from /proc/self/mountinfo: /sys/fs/cgroup on a
 * pure cgroup2 system (Debian 12 and most current distributions),
 * /sys/fs/cgroup/unified in the hybrid layout. The first mount wins.
 */
export function findCgroup2(mountinfo = '/proc/self/mountinfo'): string | undefined {
  return cgroup2Mounts(mountinfo)[0];
}

/** Every cgroup2 mount point, in mount order. */
export function cgroup2Mounts(mountinfo = '/proc/self/mountinfo'): string[] {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return [];
  }
  const mounts: string[] = [];
  for (const line of text.split('\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const fsType = line.slice(separator + 3).split(' ')[0];
    if (fsType !== 'cgroup2') continue;
    const mountPoint = line.slice(0, separator).split(' ')[4];
    if (mountPoint) mounts.push(unescapeMountinfo(mountPoint));
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash in paths as \\ooo. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
