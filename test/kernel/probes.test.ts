import { expect } from 'chai';
import { BPF_MAP_TYPE, BPF_PROG_TYPE, FEATURES, SyscallError, haveFeature, haveMapType, haveProgType, mapTypeName, progTypeName, type FeatureName } from '../../syscall/index.js';
import { runningKernelConfig } from '../../loader/btf/kconfig.js';
import { requireKernel } from '../support/kernel.js';

/**
 * Map and program types whose probe depends on the kernel's configuration
 * rather than its version (a driver, a config option), with the option.
 */
const CONFIG_DEPENDENT_PROG_TYPES: Record<number, string> = {
  [BPF_PROG_TYPE.LIRC_MODE2]: 'CONFIG_BPF_LIRC_MODE2',
  [BPF_PROG_TYPE.LWT_SEG6LOCAL]: 'CONFIG_IPV6_SEG6_BPF',
  [BPF_PROG_TYPE.LSM]: 'CONFIG_BPF_LSM',
  [BPF_PROG_TYPE.KPROBE]: 'CONFIG_KPROBE_EVENTS',
};
const CONFIG_DEPENDENT_MAP_TYPES: Record<number, string> = {
  [BPF_MAP_TYPE.ARENA]: 'CONFIG_BPF_ARENA',
  [BPF_MAP_TYPE.INODE_STORAGE]: 'CONFIG_BPF_LSM',
};

/** Features a config option decides, with the option: the probe must agree with the kernel's config. */
const CONFIG_DEPENDENT_FEATURES: Partial<Record<FeatureName, string>> = {
  kprobeMultiLink: 'CONFIG_FPROBE',
};

/**
 * A probe the system refuses outright (EPERM: here fentry and the arena are
 * refused to root too) cannot answer: it throws, and its type is reported.
 */
function answerOf(probe: () => boolean): boolean | string {
  try {
    return probe();
  } catch (error) {
    if (error instanceof SyscallError && error.errnoName === 'EPERM') return 'EPERM';
    throw error;
  }
}

describe('kernel: the feature probes', () => {
  before(function () {
    requireKernel(this);
  });

  for (const name of Object.keys(FEATURES) as FeatureName[]) {
    const option = CONFIG_DEPENDENT_FEATURES[name];
    it(`${name}: ${FEATURES[name].description} (Linux >= ${FEATURES[name].minLinux}) is there on this kernel${option ? ` if ${option}=y` : ''}`, () => {
      const expected = option ? runningKernelConfig().values.get(option) === 'y' : true;
      expect(haveFeature(name)).to.equal(expected);
      // asked again: the answer is remembered
      expect(haveFeature(name)).to.equal(expected);
    });
  }

  it('every map type of the uapi tables is there (but those a config option decides)', () => {
    const answers = Object.values(BPF_MAP_TYPE).filter((type) => type !== BPF_MAP_TYPE.UNSPEC).map((type) => [type, answerOf(() => haveMapType(type))] as const);
    const missing = answers.filter(([type, answer]) => answer === false && !(type in CONFIG_DEPENDENT_MAP_TYPES));
    expect(missing.map(([type]) => mapTypeName(type))).to.deep.equal([]);
    // every type bpf-load's own tests create answers true, whatever the system refuses
    for (const type of [BPF_MAP_TYPE.HASH, BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PROG_ARRAY, BPF_MAP_TYPE.PERF_EVENT_ARRAY, BPF_MAP_TYPE.LRU_PERCPU_HASH, BPF_MAP_TYPE.HASH_OF_MAPS, BPF_MAP_TYPE.RINGBUF, BPF_MAP_TYPE.SK_STORAGE]) {
      expect(haveMapType(type), mapTypeName(type)).to.equal(true);
    }
    expect(haveMapType(0x7fff), 'a type no kernel has').to.equal(false);
  });

  it('every program type of the uapi tables is there (but those a config option decides)', () => {
    const answers = Object.values(BPF_PROG_TYPE).filter((type) => type !== BPF_PROG_TYPE.UNSPEC).map((type) => [type, answerOf(() => haveProgType(type))] as const);
    const missing = answers.filter(([type, answer]) => answer === false && !(type in CONFIG_DEPENDENT_PROG_TYPES));
    expect(missing.map(([type]) => progTypeName(type))).to.deep.equal([]);
    for (const type of [BPF_PROG_TYPE.SOCKET_FILTER, BPF_PROG_TYPE.SCHED_CLS, BPF_PROG_TYPE.XDP, BPF_PROG_TYPE.TRACEPOINT, BPF_PROG_TYPE.CGROUP_SKB, BPF_PROG_TYPE.RAW_TRACEPOINT, BPF_PROG_TYPE.STRUCT_OPS, BPF_PROG_TYPE.CGROUP_SOCKOPT]) {
      expect(haveProgType(type), progTypeName(type)).to.equal(true);
    }
    expect(haveProgType(0x7fff), 'a type no kernel has').to.equal(false);
  });
});
