import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBpfFile } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel } from '../support/kernel.js';
import { compareWithLibbpf, libbpfOracleMissing } from '../support/libbpfOracle.js';
import { viewOf } from './view.js';

/**
 * Every fixtures/modern object bpf-load can load without the kernel's BTF, loaded by bpf-load and
 * by libbpf 1.x side by side: the same maps (name, type, sizes, flags, BTF ids present, data
 * contents) and the same kernel-translated instructions of every program libbpf accepts.
 */

const MODERN = join(repoRoot, 'fixtures', 'modern');

/** Objects not compared, each with why. */
const NEEDS_KERNEL_BTF: Readonly<Record<string, string>> = {
  'tcx.bpf.o': 'libbpf 1.1 refuses the tcx/* section names as a whole (no reference to compare with)',
  'freplace.bpf.o': 'extensions load only against a loaded target program: test/modern/freplace.test.ts runs libbpf on the pair',
  'module_kfunc.bpf.o': 'it calls into a kernel module no kernel here has: test/loader-fake/moduleBtf.test.ts checks its encoding',
};

/** The objects compared, in priority order. */
const COMPARED = [
  'minimal.bpf.o', 'globals.bpf.o', 'maps_btf.bpf.o', 'printk.bpf.o', 'callbacks.bpf.o', 'sections.bpf.o', 'bss_custom.bpf.o',
  'map_in_map.bpf.o', 'prog_array.bpf.o', 'pin_by_name.bpf.o', 'btf_maps.bpf.o',
  // CO-RE against the running kernel's BTF
  'core.bpf.o', 'core_kinds.bpf.o', 'core_task.bpf.o', 'ringbuf_bootstrap.bpf.o',
  // programs loaded against a kernel BTF id
  'tp_btf.bpf.o', 'btf_targets.bpf.o',
  // kprobe/uprobe register access through CO-RE'd pt_regs
  'probes.bpf.o', 'uprobe.bpf.o', 'uprobe_multi.bpf.o', 'uprobe_usdt.bpf.o',
  // .kconfig and __ksym externs resolved against the running kernel
  'kconfig.bpf.o', 'ksym.bpf.o',
  // values of many BTF kinds (printed by type by dump and events); what needs BTF in the kernel
  'typed_values.bpf.o', 'needs_btf.bpf.o',
  // the target of an extension: global and static subprograms with BTF
  'freplace_target.bpf.o',
];

/** Programs refused here before verification (EPERM for fentry/fexit/lsm, by libbpf too): the others are loaded and compared. */
const LOAD_ONLY: Readonly<Record<string, string[]>> = {
  'btf_targets.bpf.o': ['dump_task'],
  // libbpf 1.1 predates uprobe.multi section names
  'uprobe_multi.bpf.o': ['on_add_sleepable'],
};


describe('modern objects: bpf-load loads them as libbpf 1.x does', function () {
  this.timeout(120000);

  before(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
  });

  for (const name of COMPARED) {
    it(`${name}: same maps and translated instructions as libbpf`, async function () {
      const path = join(MODERN, name);
      const pinRoot = freshPinRoot('modern-bpfload');
      const libbpfRoot = freshPinRoot('modern-libbpf');
      const warnings: string[] = [];
      try {
        // programs libbpf refuses on this kernel are left out of both sides by the comparison
        const only = LOAD_ONLY[name];
        const obj = await loadBpfFile(path, { pinning: { root: pinRoot }, onWarning: (w) => warnings.push(w), ...(only ? { programs: only } : {}) });
        try {
          const { differences } = await compareWithLibbpf(path, viewOf(obj), { pinRoot: libbpfRoot });
          expect(differences, warnings.join('\n')).to.deep.equal([]);
        } finally {
          obj.close();
        }
      } finally {
        removePinRoot(pinRoot);
        removePinRoot(libbpfRoot);
      }
    });
  }

  it(`every corpus object is compared or listed as left to the kernel-BTF work (${Object.keys(NEEDS_KERNEL_BTF).join(', ')})`, function () {
    const corpus = readdirSync(MODERN).filter((n) => n.endsWith('.bpf.o')).sort();
    expect([...COMPARED, ...Object.keys(NEEDS_KERNEL_BTF)].sort()).to.deep.equal(corpus);
  });
});
