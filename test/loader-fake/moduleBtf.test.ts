import { expect } from 'chai';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBtf } from '../../elf/btf/index.js';
import { forgetKernelBtf, SYS_KERNEL_BTF, VMLINUX } from '../../loader/btf/index.js';
import { loadBpfFile } from '../../loader/index.js';
import {
  BPF_BTF_GET_FD_BY_ID, BPF_BTF_GET_NEXT_ID, BPF_BTF_LOAD, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_LOAD, BPF_PROG_TYPE, StructCodec, errno,
} from '../../syscall/index.js';
import { GET_ID_ATTR, INFO_ATTR, PROG_LOAD_ATTR } from '../../uapi/attrs.js';
import { BTF_INFO } from '../../uapi/info.js';
import { FakeKernel, withFakeKernel } from '../support/fakeKernel.js';
import { fixturePath } from '../support/fixtures.js';
import { readMemory, writeMemory } from '../support/processMemory.js';
import { requireFeature } from '../support/kernel.js';
import { btfBytes, info, KIND, StringTable } from '../btf/builder.js';

/**
 * Module BTF where no kernel here can show it (this one is built without modules: see
 * test/kernel/moduleBtf.test.ts): a fake kernel lists one module, fakemod, among its BTF objects,
 * and answers BPF_OBJ_GET_INFO_BY_FD through the pointers it is given, as the kernel does. A
 * program calling fakemod's kfunc and reading its typed ksym, and one on fentry of its function,
 * must reach BPF_PROG_LOAD with libbpf's encoding: fd_array, the call's off, the ld_imm64's fd,
 * attach_btf_obj_fd.
 */

const getId = new StructCodec(GET_ID_ATTR);
const infoAttr = new StructCodec(INFO_ATTR);
const btfInfo = new StructCodec(BTF_INFO);
const progLoad = new StructCodec(PROG_LOAD_ATTR);

/**
 * fakemod's BTF, split over the running kernel's vmlinux: FUNC bpf_fakemod_kfunc(int) -> int,
 * VAR fakemod_counter (int), FUNC fakemod_func(int) -> int (an fentry target).
 */
function fakeModuleBtf(): { bytes: Buffer; kfuncId: number; varId: number; funcId: number } {
  const vmlinux = parseBtf(readFileSync(join(SYS_KERNEL_BTF, VMLINUX)));
  const intId = vmlinux.byName('int').find((id) => vmlinux.kindOf(id) === 'INT')!;
  const first = vmlinux.firstId + vmlinux.ownTypeCount;
  const s = new StringTable();
  const base = vmlinux.stringTable.length;
  const off = (name: string): number => base + s.add(name);
  const types = [
    0, info(KIND.FUNC_PROTO, 1), intId, 0, intId, // [first] int (int)
    off('bpf_fakemod_kfunc'), info(KIND.FUNC, 1), first, // [first + 1], global
    off('fakemod_counter'), info(KIND.VAR), intId, 1, // [first + 2]
    off('fakemod_func'), info(KIND.FUNC, 1), first, // [first + 3]
  ];
  return { bytes: btfBytes(types, s.bytes()), kfuncId: first + 1, varId: first + 2, funcId: first + 3 };
}

describe('module BTF over a fake kernel with one module (fakemod): kfunc calls and typed ksyms', function () {
  this.timeout(60000);
  before(function () {
    // the fake's module is split over the real vmlinux BTF: it needs /sys/kernel/btf/vmlinux, not bpf(2)
    requireFeature(this, 'kernel BTF', existsSync(join(SYS_KERNEL_BTF, VMLINUX)) ? undefined : `${SYS_KERNEL_BTF}/${VMLINUX} does not exist`);
  });
  beforeEach(() => forgetKernelBtf());
  afterEach(() => forgetKernelBtf());

  it('loads with fd_array [0, fakemod\'s BTF fd], the call\'s off 1 and imm its BTF id, the ksym\'s ld_imm64 holding the id and that fd; fentry with attach_btf_obj_fd', async () => {
    const module = fakeModuleBtf();
    const objects = new Map<number, { name: string; bytes: Uint8Array }>([
      [1, { name: 'vmlinux', bytes: readFileSync(join(SYS_KERNEL_BTF, VMLINUX)) }],
      [7, { name: 'fakemod', bytes: module.bytes }],
      [9, { name: '', bytes: Buffer.alloc(24) }], // a program's BTF: not the kernel's, skipped
    ]);
    const opened = new Map<number, number>(); // fd -> BTF id
    const loads: { fdArray: number[]; call: { off: number; imm: number; src: number }; ksym: { src: number; imm: number; fd: number } }[] = [];
    const fentry: { attachBtfId: number; attachBtfObjFd: number }[] = [];
    const fake = new FakeKernel((cmd, attr) => {
      switch (cmd) {
        case BPF_BTF_GET_NEXT_ID: {
          const next = [...objects.keys()].find((id) => id > getId.get(attr, 'id'));
          if (next === undefined) return -errno.ENOENT;
          getId.encode(attr, { id: getId.get(attr, 'id'), next_id: next });
          return 0;
        }
        case BPF_BTF_GET_FD_BY_ID: {
          if (!objects.has(getId.get(attr, 'id'))) return -errno.ENOENT;
          const fd = openSync('/dev/null', 'r');
          opened.set(fd, getId.get(attr, 'id'));
          return fd;
        }
        case BPF_OBJ_GET_INFO_BY_FD: {
          const id = opened.get(infoAttr.get(attr, 'bpf_fd'));
          if (id === undefined) return undefined;
          const object = objects.get(id)!;
          const address = infoAttr.getBig(attr, 'info');
          const length = infoAttr.get(attr, 'info_len');
          const given = readMemory(address, length);
          const btfAddress = btfInfo.getBig(given, 'btf');
          const nameAddress = btfInfo.getBig(given, 'name');
          if (btfAddress !== 0n) writeMemory(btfAddress, object.bytes.subarray(0, btfInfo.get(given, 'btf_size')));
          if (nameAddress !== 0n) writeMemory(nameAddress, Buffer.from(`${object.name}\0`));
          const answer = btfInfo.alloc({
            btf: btfAddress, btf_size: object.bytes.byteLength, id, name: nameAddress, name_len: btfInfo.get(given, 'name_len'),
            kernel_btf: object.name === '' ? 0 : 1,
          });
          writeMemory(address, answer.subarray(0, length));
          return 0;
        }
        case BPF_BTF_LOAD:
          return openSync('/dev/null', 'r');
        case BPF_PROG_LOAD: {
          if (progLoad.get(attr, 'prog_type') === BPF_PROG_TYPE.TRACING) {
            fentry.push({ attachBtfId: progLoad.get(attr, 'attach_btf_id'), attachBtfObjFd: progLoad.get(attr, 'attach_prog_fd') });
            return undefined;
          }
          const count = progLoad.get(attr, 'insn_cnt');
          const insns = readMemory(progLoad.getBig(attr, 'insns'), count * 8);
          const fdArrayAddress = progLoad.getBig(attr, 'fd_array');
          const fdArray = fdArrayAddress === 0n ? [] : [...new Int32Array(new Uint8Array(readMemory(fdArrayAddress, 8)).buffer)];
          const at = (i: number): { code: number; src: number; off: number; imm: number } => ({
            code: insns[i * 8]!, src: insns[i * 8 + 1]! >> 4, off: insns.readInt16LE(i * 8 + 2), imm: insns.readInt32LE(i * 8 + 4),
          });
          const callAt = [...Array(count).keys()].find((i) => at(i).code === 0x85)!;
          const ldAt = [...Array(count).keys()].find((i) => at(i).code === 0x18)!;
          loads.push({
            fdArray,
            call: { off: at(callAt).off, imm: at(callAt).imm, src: at(callAt).src },
            ksym: { src: at(ldAt).src, imm: at(ldAt).imm, fd: at(ldAt + 1).imm },
          });
          return undefined;
        }
        default:
          return undefined;
      }
    });
    const obj = await withFakeKernel(fake, () => loadBpfFile(fixturePath('modern/module_kfunc.bpf.o')));
    obj.close();
    expect(loads).to.have.length(1);
    const [load] = loads;
    const moduleFds = [...opened].filter(([, id]) => id === 7).map(([fd]) => fd);
    expect(load!.fdArray[0]).to.equal(0);
    expect(moduleFds).to.include(load!.fdArray[1]);
    expect(load!.call).to.deep.equal({ src: 2 /* BPF_PSEUDO_KFUNC_CALL */, imm: module.kfuncId, off: 1 });
    expect(load!.ksym).to.deep.equal({ src: 3 /* BPF_PSEUDO_BTF_ID */, imm: module.varId, fd: load!.fdArray[1] });
    expect(fentry).to.have.length(1);
    expect(fentry[0]!.attachBtfId).to.equal(module.funcId);
    expect(moduleFds).to.include(fentry[0]!.attachBtfObjFd);
  });
});
