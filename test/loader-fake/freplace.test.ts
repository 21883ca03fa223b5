import { expect } from 'chai';
import { openSync, readFileSync } from 'node:fs';
import { objectBtf } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { attachBtfProgram, loadBpfFile, LoadError } from '../../loader/index.js';
import {
  BPF_BTF_GET_FD_BY_ID, BPF_BTF_LOAD, BPF_LINK_CREATE, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_GET_FD_BY_ID, BPF_PROG_LOAD, BPF_PROG_TYPE,
  StructCodec, errno,
} from '../../syscall/index.js';
import { GET_ID_ATTR, INFO_ATTR, LINK_CREATE_TRACING_ATTR, PROG_LOAD_ATTR } from '../../uapi/attrs.js';
import { BTF_INFO, PROG_INFO } from '../../uapi/info.js';
import { FakeKernel, withFakeKernel } from '../support/fakeKernel.js';
import { fixturePath } from '../support/fixtures.js';
import { readMemory, writeMemory } from '../support/processMemory.js';

/**
 * freplace where this kernel refuses extensions (EPERM: see test/modern/freplace.test.ts): over a
 * fake kernel that holds the target program (id 77, its BTF id 55: freplace_target.bpf.o's), the
 * extension must reach BPF_PROG_LOAD with that program's fd and verdict()'s id in its BTF, and
 * BPF_LINK_CREATE with neither (the kernel's own target) or, given a target at attach time, with
 * libbpf's bpf_program__attach_freplace encoding: target_fd and target_btf_id.
 */

const getId = new StructCodec(GET_ID_ATTR);
const infoAttr = new StructCodec(INFO_ATTR);
const progInfo = new StructCodec(PROG_INFO);
const btfInfo = new StructCodec(BTF_INFO);
const progLoad = new StructCodec(PROG_LOAD_ATTR);
const linkCreate = new StructCodec(LINK_CREATE_TRACING_ATTR);

const TARGET_ID = 77;
const TARGET_BTF_ID = 55;
/** [3] FUNC 'verdict' in freplace_target.bpf.o's BTF (bpftool btf dump file) */
const VERDICT_ID = 3;

interface FakeTarget {
  fake: FakeKernel;
  targetFds: Set<number>;
  extLoads: { attachProgFd: number; attachBtfId: number }[];
}

function fakeWithTarget(): FakeTarget {
  const path = fixturePath('modern/freplace_target.bpf.o');
  const targetBtf = objectBtf(readElf(readFileSync(path), path), path)!.bytes;
  const targetFds = new Set<number>();
  const btfFds = new Set<number>();
  const extLoads: { attachProgFd: number; attachBtfId: number }[] = [];
  let linksToLoadTarget = 0;
  const fake = new FakeKernel((cmd, attr) => {
    switch (cmd) {
      case BPF_PROG_GET_FD_BY_ID: {
        if (getId.get(attr, 'id') !== TARGET_ID) return -errno.ENOENT;
        const fd = openSync('/dev/null', 'r');
        // fd numbers are reused once closed: each stands for what it was last opened as
        btfFds.delete(fd);
        targetFds.add(fd);
        return fd;
      }
      case BPF_BTF_GET_FD_BY_ID: {
        if (getId.get(attr, 'id') !== TARGET_BTF_ID) return -errno.ENOENT;
        const fd = openSync('/dev/null', 'r');
        targetFds.delete(fd);
        btfFds.add(fd);
        return fd;
      }
      case BPF_OBJ_GET_INFO_BY_FD: {
        const fd = infoAttr.get(attr, 'bpf_fd');
        const address = infoAttr.getBig(attr, 'info');
        const length = infoAttr.get(attr, 'info_len');
        if (targetFds.has(fd)) {
          const answer = progInfo.alloc({ type: BPF_PROG_TYPE.XDP, id: TARGET_ID, btf_id: TARGET_BTF_ID, name: 'xdp_target' });
          writeMemory(address, answer.subarray(0, Math.min(length, answer.byteLength)));
          return 0;
        }
        if (btfFds.has(fd)) {
          const given = readMemory(address, length);
          const data = btfInfo.getBig(given, 'btf');
          if (data !== 0n) writeMemory(data, targetBtf.subarray(0, btfInfo.get(given, 'btf_size')));
          writeMemory(address, btfInfo.alloc({ btf: data, btf_size: targetBtf.byteLength, id: TARGET_BTF_ID }).subarray(0, length));
          return 0;
        }
        return undefined;
      }
      case BPF_BTF_LOAD:
        return openSync('/dev/null', 'r');
      case BPF_PROG_LOAD:
        if (progLoad.get(attr, 'prog_type') === BPF_PROG_TYPE.EXT) {
          extLoads.push({ attachProgFd: progLoad.get(attr, 'attach_prog_fd'), attachBtfId: progLoad.get(attr, 'attach_btf_id') });
        }
        return undefined;
      case BPF_LINK_CREATE:
        // as the kernel: the load's target is let go with the first link; another must name one
        if (linkCreate.get(attr, 'target_fd') === 0 && linksToLoadTarget++ > 0) return -errno.EINVAL;
        return openSync('/dev/null', 'r');
      default:
        return undefined;
    }
  });
  return { fake, targetFds, extLoads };
}

/** BPF_LINK_CREATE calls as the kernel reads them: the attr's first `size` bytes, zeros past them. */
function linksOf(fake: FakeKernel): { progFd: number; targetFd: number; attachType: number; targetBtfId: number }[] {
  return fake.calls.filter((c) => c.cmd === BPF_LINK_CREATE).map(({ attr }) => {
    const read = Buffer.concat([attr, Buffer.alloc(linkCreate.layout.size)]);
    return {
      progFd: linkCreate.get(read, 'prog_fd'), targetFd: linkCreate.get(read, 'target_fd'), attachType: linkCreate.get(read, 'attach_type'),
      targetBtfId: linkCreate.get(read, 'target_btf_id'),
    };
  });
}

describe('freplace over a fake kernel holding the target program', function () {
  this.timeout(60000);

  it("loads with the target's fd and verdict()'s id; links to the kernel's target, then to one named at attach time", async () => {
    const { fake, targetFds, extLoads } = fakeWithTarget();
    await withFakeKernel(fake, async () => {
      using ext = await loadBpfFile(fixturePath('modern/freplace.bpf.o'), {
        programs: { select: ['new_verdict'], freplaceTargets: { new_verdict: { id: TARGET_ID } } },
      });
      const program = ext.program('new_verdict');
      expect(extLoads).to.have.length(1);
      expect(targetFds).to.include(extLoads[0]!.attachProgFd);
      expect(extLoads[0]!.attachBtfId).to.equal(VERDICT_ID);

      const first = attachBtfProgram(program);
      expect(first.target).to.equal('freplace/verdict');
      first.close();
      expect(() => attachBtfProgram(program)).to.throw(LoadError, "the kernel holds an extension's target only until its first attachment: name the target (options.freplaceTarget)");
      const again = attachBtfProgram(program, { freplaceTarget: { id: TARGET_ID } });
      again.close();
      const links = linksOf(fake).filter((_, i) => i !== 1);
      expect(links).to.have.length(2);
      expect(links[0]).to.deep.equal({ progFd: program.fd, targetFd: 0, attachType: 0, targetBtfId: 0 });
      expect(links[1]!.progFd).to.equal(program.fd);
      expect(targetFds).to.include(links[1]!.targetFd);
      expect(links[1]).to.deep.include({ attachType: 0, targetBtfId: VERDICT_ID });
    });
  });

  it('a target at attach time is refused for programs that are not extensions, and checked as at load time', async () => {
    const { fake } = fakeWithTarget();
    await withFakeKernel(fake, async () => {
      using ext = await loadBpfFile(fixturePath('modern/freplace.bpf.o'), {
        programs: { select: ['new_verdict'], freplaceTargets: { new_verdict: { id: TARGET_ID } } },
      });
      expect(() => attachBtfProgram(ext.program('new_verdict'), { freplaceTarget: { id: 5 } }))
        .to.throw(LoadError, 'cannot open the freplace target (program id 5)').with.property('code', 'BPF_LOAD_ARGUMENT');
      using other = await loadBpfFile(fixturePath('modern/freplace_target.bpf.o'));
      expect(() => attachBtfProgram(other.program('xdp_target'), { freplaceTarget: { id: TARGET_ID } }))
        .to.throw(LoadError, 'options.freplaceTarget is for freplace programs only').with.property('code', 'BPF_LOAD_ARGUMENT');
    });
  });

  it('a missing target, or a target naming no freplace program of the load, is refused before any system call', async () => {
    for (const [targets, message] of [
      [{}, "prog 'new_verdict': an freplace program replaces 'verdict' of another loaded program, and no target program was given for it"],
      [{ new_verdict: { id: TARGET_ID }, nope: { id: TARGET_ID } }, "programs.freplaceTargets names 'nope', which is no freplace program of this load (freplace programs: new_verdict)"],
    ] as const) {
      const fake = new FakeKernel();
      let error: unknown;
      await withFakeKernel(fake, async () => {
        try {
          (await loadBpfFile(fixturePath('modern/freplace.bpf.o'), { programs: { select: ['new_verdict'], freplaceTargets: targets } })).close();
        } catch (e) {
          error = e;
        }
      });
      expect(error).to.be.instanceOf(LoadError).with.property('code', 'BPF_LOAD_ARGUMENT');
      expect((error as Error).message).to.contain(message);
      expect(fake.calls.map((c) => c.name)).to.deep.equal([]);
    }
  });
});
