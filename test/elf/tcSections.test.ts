import { expect } from 'chai';
import { parseObject, programOrder } from '../../elf/index.js';
import { tcTailCallSlot } from '../../elf/tcConvention.js';
import { fixtureBytes } from '../support/fixtures.js';

describe('elf: the tc convention\'s sections', () => {
  it('every executable section but .text is a program under the tc convention, typed sched_cls until told otherwise', () => {
    const spec = parseObject(fixtureBytes('tc_sections_kern.o'), { convention: 'tc' });
    expect(programOrder(spec).map((p) => [p.section, p.name, p.kind, p.type, p.tailCall?.tcMapId, p.tailCall?.slot])).to.deep.equal([
      ['ingress', 'tc_ingress', 'untyped', 3, undefined, undefined],
      ['egress', 'tc_egress', 'untyped', 3, undefined, undefined],
      ['1/0', 'tail_dec', 'untyped', 3, 1, 0],
      ['0xabc/1', 'tail_hex', 'untyped', 3, 0xabc, 1],
    ]);
    expect(spec.skippedSections).to.deep.equal([]);
    expect(spec.warnings).to.deep.equal([]);
  });

  it('the default convention skips sections with no known prefix, lists them, and reads one when named', () => {
    const skipped = parseObject(fixtureBytes('free_sections_kern.o'));
    expect(programOrder(skipped).map((p) => p.section)).to.deep.equal(['socket1']);
    expect(skipped.skippedSections).to.deep.equal(['filter']);
    const named = parseObject(fixtureBytes('free_sections_kern.o'), { sections: ['filter'] });
    expect(programOrder(named).map((p) => [p.section, p.kind, p.type])).to.deep.equal([['socket1', 'socket', 1], ['filter', 'untyped', 0]]);
    expect(named.skippedSections).to.deep.equal([]);
  });

  it('tail-call sections are read like sscanf("%i/%i"): decimal, 0x hex, leading-0 octal, sign; text after the key ignored', () => {
    const cases: [string, { mapId: number; key: number } | undefined][] = [
      ['42/0', { mapId: 42, key: 0 }],
      ['0xabccba/0', { mapId: 0xabccba, key: 0 }],
      ['0XAB/0x10', { mapId: 0xab, key: 16 }],
      ['010/07', { mapId: 8, key: 7 }],
      [' 1/ 2', { mapId: 1, key: 2 }],
      ['+3/4abc', { mapId: 3, key: 4 }],
      ['-1/0', { mapId: 0xffffffff, key: 0 }],
      ['08/1', undefined],
      ['ingress', undefined],
      ['1/', undefined],
      ['/1', undefined],
      ['socket/1', undefined],
    ];
    for (const [section, slot] of cases) expect(tcTailCallSlot(section), section).to.deep.equal(slot);
  });

  it('bpf_load.c\'s socket/N slot rule is the default convention\'s only', () => {
    const spec = parseObject(fixtureBytes('tailcall_kern.o'));
    const slotted = programOrder(spec).filter((p) => p.tailCall !== undefined);
    expect(slotted.length).to.be.greaterThan(0);
    expect(slotted.every((p) => p.tailCall!.tcMapId === undefined)).to.equal(true);
    // named: the object's last PROG_ARRAY
    expect(new Set(slotted.map((p) => p.tailCall!.map))).to.deep.equal(new Set(['jmp_table']));
  });
});
