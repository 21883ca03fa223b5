import { endianness } from 'node:os';
import { encodeUsdtSpec, parseUsdtArgs, usdtProbes, type UsdtArgSpec } from '../../elf/usdtNotes.js';
import { BPF_PROG_TYPE, errno, haveFeature, perfEventOpenProbe, progGetInfo, type BpfFd } from '../../syscall/index.js';
import { Cleanup } from '../cleanup.js';
import { LoadError, argumentError, checkOptions, checkString } from '../errors.js';
import { openMapById } from '../maps/openMap.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { bindPerfEvent } from './perfBinding.js';
import { PMU_ROOT, probePmu } from './probePmu.js';
import { binaryPath, symbolTables } from './uprobe.js';
import {
  Attachment, attachStep, checkProgramRef, progFdOf, programContext, programLabel, requireProgramType, type ProgramRef,
} from './attachment.js';

export interface UsdtOptions {
  /** the executable or shared library, found as attachUprobe finds it */
  binary: string;
  provider: string;
  name: string;
  /** only this process */
  pid?: number;
  /** what bpf_usdt_cookie() returns to the program */
  cookie?: bigint;
}

/** The map usdt.bpf.h reads its specs from, as the kernel names it (15 characters of `__bpf_usdt_specs`). */
const SPECS_MAP = '__bpf_usdt_spec';

/** Spec ids in use, per specs map (by map id): each attachment takes its own and frees them on close. */
const specIdsInUse = new Map<number, Set<number>>();

/**
 * A USDT probe (SystemTap SDT, `<sys/sdt.h>`'s STAP_PROBE) of a binary, for
 * a program built with libbpf's usdt.bpf.h (`SEC("usdt/…")`, `BPF_USDT()`):
 * every location of `provider:name` in the binary's `.note.stapsdt` gets a
 * uprobe (raising the probe's semaphore, if it has one, through the kernel's
 * reference counter), tied to the program by a perf link whose bpf_cookie
 * names the spec written for it into the program's `__bpf_usdt_specs` map:
 * where each argument is (register, memory at a register, constant), as
 * libbpf's usdt.c does. Needs perf links with cookies (Linux 5.15).
 */
export function attachUsdt(program: ProgramRef, options: UsdtOptions): Attachment {
  const where = 'attachUsdt';
  checkProgramRef(program, where);
  if (typeof options !== 'object' || options === null) throw argumentError(where, 'options', 'an object with binary, provider and name', options);
  checkOptions(options, ['binary', 'provider', 'name', 'pid', 'cookie'], where);
  checkString(options.binary, 'options.binary', where);
  checkString(options.provider, 'options.provider', where);
  checkString(options.name, 'options.name', where);
  if (options.pid !== undefined && !(Number.isSafeInteger(options.pid) && options.pid >= 0)) {
    throw argumentError(where, 'options.pid', 'a whole number >= 0', options.pid);
  }
  if (options.cookie !== undefined && typeof options.cookie !== 'bigint') throw argumentError(where, 'options.cookie', 'a bigint', options.cookie);
  const probe = `${options.provider}:${options.name}`;
  let what = `attach usdt to ${options.binary}:${probe}${options.pid !== undefined ? ` (pid ${options.pid})` : ''}`;
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.KPROBE], 'a USDT probe runs SEC("usdt/…") programs');
  const path = binaryPath(program, options.binary, what);
  if (path !== options.binary) what = `attach usdt to ${path}:${probe}${options.pid !== undefined ? ` (pid ${options.pid})` : ''}`;
  const tables = symbolTables(program, path, what);
  let locations;
  try {
    locations = usdtProbes(tables, options.provider, options.name);
  } catch (cause) {
    throw new LoadError(`${what}: ${(cause as Error).message}`, programContext(program), { cause, code: 'BPF_LOAD_INPUT' });
  }
  if (locations.length === 0) {
    throw new LoadError(`${what}: no USDT probe ${probe} in ${path}`, programContext(program), {
      code: 'BPF_LOAD_INPUT', hint: `list its probes with: readelf -n ${path}`,
    });
  }
  const specs = locations.map((location) => {
    const parsed = parseUsdtArgs(location.args);
    if ('error' in parsed) throw new LoadError(`${what}: ${parsed.error}`, programContext(program), { code: 'BPF_LOAD_INPUT' });
    return parsed.specs;
  });
  const pmu = probePmu('uprobe');
  if (!pmu) {
    throw new LoadError(`${what}: this kernel has no uprobe PMU (${PMU_ROOT}/uprobe)`, programContext(program), {
      errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED',
    });
  }
  if (locations.some((l) => l.semaphoreOffset) && pmu.refCtrShift === undefined) {
    throw new LoadError(`${what}: the probe has a semaphore and this kernel's uprobes have no reference counter (Linux < 4.20)`,
      programContext(program), { errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED' });
  }
  if (!attachStep(program, what, () => haveFeature('perfEventLink'))) {
    throw new LoadError(`${what}: this kernel has no perf links, which carry the cookie naming each probe's spec (needs Linux >= 5.15)`,
      programContext(program), { errno: errno.EOPNOTSUPP, code: 'BPF_LOAD_NOT_SUPPORTED' });
  }
  const cleanup = new Cleanup();
  const links: BpfFd[] = [];
  try {
    // the specs are written once: the map's fd is not kept
    const map = specsMap(program, progFd, what);
    let ids: number[];
    try {
      ids = takeSpecIds(map, specs, options.cookie ?? 0n, cleanup, what, program);
    } finally {
      map.close();
    }
    locations.forEach((location, i) => {
      const at = `${what} at 0x${location.offset.toString(16)}`;
      const config = location.semaphoreOffset ? BigInt(location.semaphoreOffset) << BigInt(pmu.refCtrShift!) : 0n;
      const event = attachStep(program, at, () => perfEventOpenProbe({
        pmuType: pmu.type, config, name: path, offset: BigInt(location.offset), ...(options.pid !== undefined ? { pid: options.pid } : {}),
      }));
      cleanup.add(() => event.close());
      const bound = attachStep(program, at, () => bindPerfEvent(event, progFd, 'link', BigInt(ids[i]!)));
      cleanup.add(bound.detach);
      links.push(bound.link!);
    });
  } catch (error) {
    cleanup.run();
    throw error;
  }
  const label = `${path}:${probe}${locations.length > 1 ? ` (${locations.length} places)` : ''}`;
  return new Attachment('usdt', label, programLabel(program), () => cleanup.runOrThrow(), links.length === 1 ? links[0] : undefined, 'link');
}

/** The program's `__bpf_usdt_specs` map, found among the maps it uses (by the kernel's name for it). */
function specsMap(program: ProgramRef, progFd: number, what: string): BpfMap {
  const ids = attachStep(program, what, () => progGetInfo(progFd).map_ids);
  for (const id of ids) {
    const map = attachStep(program, what, () => openMapById(id));
    if (map.info.name === SPECS_MAP) return map;
    map.close();
  }
  throw new LoadError(`${what}: the program uses no ${SPECS_MAP}s map: it does not read its arguments through libbpf's usdt.bpf.h`,
    programContext(program), { code: 'BPF_LOAD_INPUT', hint: 'include <bpf/usdt.bpf.h> and read the arguments with BPF_USDT() or bpf_usdt_arg()' });
}

/**
 * One spec id per distinct argument layout (libbpf shares them the same way), written into the
 * specs map; the ids go back when the attachment closes. Returns each location's id.
 */
function takeSpecIds(
  map: BpfMap, specs: readonly UsdtArgSpec[][], cookie: bigint, cleanup: Cleanup, what: string, program: ProgramRef,
): number[] {
  const mapId = map.id;
  let used = specIdsInUse.get(mapId);
  if (!used) specIdsInUse.set(mapId, (used = new Set()));
  const taken = used;
  const byLayout = new Map<string, number>();
  const littleEndian = endianness() === 'LE';
  return specs.map((spec) => {
    const bytes = encodeUsdtSpec(spec, cookie, littleEndian);
    const layout = Buffer.from(bytes).toString('hex');
    let id = byLayout.get(layout);
    if (id === undefined) {
      id = 0;
      while (taken.has(id)) id++;
      if (id >= map.maxEntries) {
        throw new LoadError(`${what}: ${map.maxEntries} USDT specs are in use already (__bpf_usdt_specs is full)`, programContext(program), {
          code: 'BPF_LOAD_INPUT', hint: 'raise BPF_USDT_MAX_SPEC_CNT when compiling the program',
        });
      }
      const chosen = id;
      taken.add(chosen);
      cleanup.add(() => {
        taken.delete(chosen);
        if (taken.size === 0) specIdsInUse.delete(mapId);
      });
      const key = Buffer.alloc(4);
      key.writeUInt32LE(chosen);
      if (!littleEndian) key.writeUInt32BE(chosen);
      map.update(key, bytes);
      byLayout.set(layout, chosen);
    }
    return id;
  });
}
