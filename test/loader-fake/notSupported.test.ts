import { expect } from 'chai';
import { loadBpfFile } from '../../loader/load/loadBpfFile.js';
import { LoadError, errorCategory } from '../../loader/errors.js';
import {
  BPF_ATTACH_TYPE, BPF_LINK_CREATE, BPF_MAP_CREATE, BPF_MAP_TYPE, BPF_PROG_LOAD, BPF_PROG_TYPE, NotSupportedError, SyscallError, errno,
  haveFeature, linkCreate, mapCreate, openBpfFdCount,
} from '../../syscall/index.js';
import { FakeKernel, withFakeKernel } from '../support/fakeKernel.js';
import { fixturePath } from '../support/fixtures.js';

/**
 * A kernel too old for what was asked, faked: the command and the probe
 * behind it both refused with EINVAL. The refusal then says what the kernel
 * lacks and since when Linux has it, with code BPF_LOAD_NOT_SUPPORTED; when
 * the probe finds the feature, the EINVAL stays the kernel's own.
 */

const mapTypeOf = (attr: Buffer) => attr.readUInt32LE(0);
const refuseRingbuf = (cmd: number, attr: Buffer) => (cmd === BPF_MAP_CREATE && mapTypeOf(attr) === BPF_MAP_TYPE.RINGBUF ? -errno.EINVAL : undefined);

function thrown(body: () => unknown): unknown {
  try {
    body();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('loader (fake kernel): a kernel without a feature says so, with the Linux release that has it', () => {
  it('a map type the probe cannot create: NotSupportedError naming the type and Linux 5.8', async () => {
    const fake = new FakeKernel(refuseRingbuf, refuseRingbuf);
    const error = await withFakeKernel(fake, () => thrown(() => mapCreate({ map_type: BPF_MAP_TYPE.RINGBUF, key_size: 0, value_size: 0, max_entries: 4096, map_flags: 0 })));
    expect(error).to.be.instanceOf(NotSupportedError);
    const notSupported = error as NotSupportedError;
    expect(notSupported.code).to.equal('BPF_LOAD_NOT_SUPPORTED');
    expect(notSupported.errnoName).to.equal('EINVAL');
    expect(notSupported.minLinux).to.equal('5.8');
    expect(notSupported.message).to.equal('this kernel has no ringbuf maps (BPF_MAP_TYPE_RINGBUF) (needs Linux >= 5.8): BPF_MAP_CREATE: EINVAL');
    expect(errorCategory(error)).to.equal('kernel');
    // the probe's own calls are not among those the fake was asked to judge
    expect(fake.count(BPF_MAP_CREATE)).to.equal(1);
  });

  it('the same refusal where the probe finds the type: the kernel\'s EINVAL as it was', async () => {
    const fake = new FakeKernel(refuseRingbuf);
    const error = await withFakeKernel(fake, () => thrown(() => mapCreate({ map_type: BPF_MAP_TYPE.RINGBUF, key_size: 0, value_size: 0, max_entries: 4096, map_flags: 0 })));
    expect(error).to.be.instanceOf(SyscallError).and.not.instanceOf(NotSupportedError);
    expect((error as SyscallError).code).to.equal('BPF_LOAD_SYSCALL');
  });

  it('a probe answering false: haveFeature says so under the fake, and the answer does not outlive it', async () => {
    await withFakeKernel(new FakeKernel(undefined, refuseRingbuf), () => expect(haveFeature('ringbuf')).to.equal(false));
    await withFakeKernel(new FakeKernel(), () => expect(haveFeature('ringbuf')).to.equal(true));
  });

  it('a TCX link on a kernel without TCX: NotSupportedError with Linux 6.6', async () => {
    const refuseLinks = (cmd: number) => (cmd === BPF_LINK_CREATE ? -errno.EINVAL : undefined);
    const error = await withFakeKernel(new FakeKernel(refuseLinks, refuseLinks), () =>
      thrown(() => linkCreate({ progFd: 0, target: 1, attachType: BPF_ATTACH_TYPE.TCX_INGRESS })));
    expect(error).to.be.instanceOf(NotSupportedError);
    expect((error as Error).message).to.match(/^this kernel has no TCX links \(needs Linux >= 6\.6\): BPF_LINK_CREATE .*: EINVAL$/);
  });

  it('a load whose map type the kernel lacks fails with BPF_LOAD_NOT_SUPPORTED naming the map and the release, and closes everything', async () => {
    const refuseLru = (cmd: number, attr: Buffer) => (cmd === BPF_MAP_CREATE && mapTypeOf(attr) === BPF_MAP_TYPE.LRU_PERCPU_HASH ? -errno.EINVAL : undefined);
    const fds = openBpfFdCount();
    let error: unknown;
    try {
      await withFakeKernel(new FakeKernel(refuseLru, refuseLru), async () => (await loadBpfFile(fixturePath('map_def28_kern.o'))).close());
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(LoadError);
    const loadError = error as LoadError;
    expect(loadError.code).to.equal('BPF_LOAD_NOT_SUPPORTED');
    expect(loadError.message).to.include("map 'lru_percpu_hash'");
    expect(loadError.message).to.include('this kernel has no lru_percpu_hash maps (BPF_MAP_TYPE_LRU_PERCPU_HASH) (needs Linux >= 4.10)');
    expect(openBpfFdCount()).to.equal(fds);
  });

  it('a program type the kernel lacks: the load says which and since when', async () => {
    const refuseSocket = (cmd: number, attr: Buffer) => (cmd === BPF_PROG_LOAD && attr.readUInt32LE(0) === BPF_PROG_TYPE.SOCKET_FILTER ? -errno.EINVAL : undefined);
    let error: unknown;
    try {
      await withFakeKernel(new FakeKernel(refuseSocket, refuseSocket), async () => (await loadBpfFile(fixturePath('sockex1_kern.o'))).close());
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(LoadError);
    expect((error as LoadError).code).to.equal('BPF_LOAD_NOT_SUPPORTED');
    expect((error as Error).message).to.include('this kernel has no socket_filter programs (BPF_PROG_TYPE_SOCKET_FILTER) (needs Linux >= 3.19)');
  });
});
