import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfSymbolTables, findFunctionOffset } from '../../elf/funcOffset.js';
import {
  LoadError, attachKprobe, attachKprobeMulti, attachKsyscall, attachUprobe, attachUprobeMulti, attachUsdt, kprobeSupport, loadBpfFile,
  resolveBinaryPath, syscallFunctionName, type Attachment, type BpfObject,
} from '../../loader/index.js';
import { haveFeature } from '../../syscall/index.js';
import { bpftoolLinks } from '../support/bpftool.js';
import { repoRoot } from '../support/fixtures.js';
import { processFdCount, requireFeature, requireKernel, requireTool } from '../support/kernel.js';
import { libbpfOracleMissing, loadWithLibbpf, variablesOfMap } from '../support/libbpfOracle.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { waitUntil } from '../support/processes.js';
import { TARGET_NAME, buildUprobeTarget, expectedSum, withPath, type UprobeTarget } from '../support/uprobeTarget.js';

/**
 * uprobes on a program compiled here: attached through the API and by section name
 * (`uprobe/BINARY:FUNCTION[+OFFSET]`, the binary looked up in PATH), they count the calls and see
 * the arguments and return values; a pid filter, detach on close(), uprobe.multi and sleepable
 * uprobes, USDT probes (usdt.bpf.h's argument specs, a semaphore), what a missing binary or
 * function says, and libbpf attaching the same objects beside bpf-load. kprobes: this kernel has none, and every kind of kprobe attach says so.
 */

const MODERN = join(repoRoot, 'fixtures', 'modern');
const UPROBE = join(MODERN, 'uprobe.bpf.o');
const UPROBE_MULTI = join(MODERN, 'uprobe_multi.bpf.o');
const USDT = join(MODERN, 'uprobe_usdt.bpf.o');

function counter(object: BpfObject, name: string): bigint {
  return BigInt(object.variable(name).get() as bigint | number);
}

describe('uprobes', function () {
  this.timeout(60000);
  let target: UprobeTarget;

  before(function () {
    requireKernel(this);
    requireTool(this, 'cc');
    requireFeature(this, 'the uprobe PMU', uprobePmuMissing());
    target = buildUprobeTarget();
  });

  after(() => target?.remove());

  it('attachUprobe: a uprobe and a uretprobe on target_add count every call and see its argument and return value', async () => {
    const object = await loadBpfFile(UPROBE);
    try {
      const entry = attachUprobe(object.program('on_entry'), { binary: target.path, function: 'target_add' });
      const exit = attachUprobe(object.program('on_return'), { binary: target.path, function: 'target_add', retprobe: true });
      expect([entry.kind, entry.target, entry.via]).to.deep.equal(['uprobe', `${target.path}:target_add`, 'link']);
      expect(bpftoolLinks().filter((l) => l.id === entry.linkId || l.id === exit.linkId)).to.have.length(2);
      expect(target.run(5)).to.equal(String(expectedSum(5)));
      expect(counter(object, 'entry_calls')).to.equal(5n);
      expect(counter(object, 'entry_arg')).to.equal(4n);
      expect(counter(object, 'return_calls')).to.equal(5n);
      expect(counter(object, 'return_value')).to.equal(1004n);
      entry.close();
      exit.close();
      expect(entry.closed).to.equal(true);
      target.run(3);
      expect(counter(object, 'entry_calls'), 'detached: no more hits').to.equal(5n);
      expect(counter(object, 'return_calls')).to.equal(5n);
    } finally {
      object.close();
    }
  });

  it('a pinned uprobe link outlives its attachment and object; removing the pin detaches', async () => {
    const pinRoot = freshPinRoot('uprobe-pin');
    try {
      const object = await loadBpfFile(UPROBE);
      const attachment = attachUprobe(object.program('on_entry'), { binary: target.path, function: 'target_add' });
      const linkId = attachment.linkId!;
      const bss = object.map('uprobe.bss');
      const bssId = bss.id;
      attachment.pin(join(pinRoot, 'entry'));
      attachment.close();
      object.close();
      expect(bpftoolLinks().some((l) => l.id === linkId), 'still attached through its pin').to.equal(true);
      target.run(2);
      expect((variablesOfMap(bssId) as Record<string, number>)['entry_calls']).to.equal(2);
      removePinRoot(pinRoot);
      await waitUntil(`link ${linkId} to go`, () => !bpftoolLinks().some((l) => l.id === linkId));
    } finally {
      removePinRoot(pinRoot);
    }
  });

  it("via: 'legacy' (PERF_EVENT_IOC_SET_BPF) and a bare file offset work as well", async () => {
    const object = await loadBpfFile(UPROBE);
    try {
      const named = attachUprobe(object.program('on_entry'), { binary: target.path, function: 'target_add', via: 'legacy' });
      expect(named.via).to.equal('legacy');
      target.run(2);
      expect(counter(object, 'entry_calls')).to.equal(2n);
      named.close();
      // the same place by its file offset (the function's symbol resolved here, then given as a number)
      const found = findFunctionOffset(new ElfSymbolTables(readFileSync(target.path), target.path), 'target_add');
      const byOffset = attachUprobe(object.program('on_entry'), { binary: target.path, offset: (found as { offset: number }).offset });
      target.run(3);
      expect(counter(object, 'entry_calls')).to.equal(5n);
      byOffset.close();
    } finally {
      object.close();
    }
  });

  it('by section name: uprobe/NAME:FUNCTION, uretprobe/NAME:FUNCTION and NAME:FUNCTION+1, the binary found in PATH', async () => {
    await withPath(target.dir, async () => {
      expect(resolveBinaryPath(TARGET_NAME)).to.deep.equal({ path: target.path });
      const object = await loadBpfFile(UPROBE, { attach: true });
      try {
        expect((object.attachments as Attachment[]).map((a) => `${a.kind} ${a.program} ${a.target} ${a.via}`)).to.deep.equal([
          `uprobe on_named_entry ${target.path}:target_add link`,
          `uprobe on_named_return ${target.path}:target_add link`,
          `uprobe on_offset ${target.path}:target_mul+0x1 link`,
        ]);
        expect(target.run(4)).to.equal(String(expectedSum(4)));
        expect(counter(object, 'named_entry_calls')).to.equal(4n);
        expect(counter(object, 'named_entry_arg')).to.equal(1000n);
        expect(counter(object, 'named_return_calls')).to.equal(4n);
        expect(counter(object, 'named_return_value')).to.equal(1003n);
        expect(counter(object, 'offset_calls')).to.equal(4n);
        // the bare `uprobe` and `uretprobe` sections name no target: left alone
        expect(counter(object, 'entry_calls')).to.equal(0n);
      } finally {
        object.close();
      }
    });
  });

  it('pid: only the process asked for is counted', async () => {
    const object = await loadBpfFile(UPROBE);
    const watched = target.startWaiting(3);
    const other = target.startWaiting(5);
    try {
      const attachment = attachUprobe(object.program('on_entry'), { binary: target.path, function: 'target_add', pid: watched.child.pid! });
      expect(attachment.target).to.equal(`${target.path}:target_add`);
      expect(await other.go()).to.equal(String(expectedSum(5)));
      expect(await watched.go()).to.equal(String(expectedSum(3)));
      expect(counter(object, 'entry_calls')).to.equal(3n);
      expect(counter(object, 'entry_tgid')).to.equal(BigInt(watched.child.pid!));
      attachment.close();
    } finally {
      watched.child.kill();
      other.child.kill();
      object.close();
    }
  });

  it('a missing function or binary: a bpf-load error naming both, and a load with attach: true leaves nothing open', async () => {
    const object = await loadBpfFile(UPROBE);
    try {
      const missingFunction = catchError(() => attachUprobe(object.program('on_entry'), { binary: target.path, function: 'no_such_function' }));
      expect(missingFunction).to.be.instanceOf(LoadError);
      expect(missingFunction.code).to.equal('BPF_LOAD_INPUT');
      expect(missingFunction.message).to.equal(
        `${UPROBE}: sec 'uprobe': prog 'on_entry': attach uprobe to ${target.path}:no_such_function: ` +
        `no function 'no_such_function' in its symbol tables (.dynsym, .symtab) of ${target.path} ` +
        `(list its functions with: nm -D --defined-only ${target.path}; nm ${target.path})`,
      );
      const missingBinary = catchError(() => attachUprobe(object.program('on_entry'), { binary: 'bpf_load_no_such_binary', function: 'target_add' }));
      expect(missingBinary.code).to.equal('BPF_LOAD_INPUT');
      expect(missingBinary.message).to.match(/attach uprobe to bpf_load_no_such_binary:target_add: no binary 'bpf_load_no_such_binary' in \S*\/usr\/bin\b/);
      const notElf = catchError(() => attachUprobe(object.program('on_entry'), { binary: join(MODERN, 'uprobe.bpf.c'), function: 'on_entry' }));
      expect(notElf.code).to.equal('BPF_LOAD_INPUT');
      expect(notElf.message).to.match(/uprobe\.bpf\.c:on_entry: .*not an ELF file/);
      const badArgument = catchError(() => attachUprobe(object.program('on_entry'), { binary: target.path } as never));
      expect(badArgument.code).to.equal('BPF_LOAD_ARGUMENT');
    } finally {
      object.close();
    }
    // without the target in PATH, the section names' binary is nowhere: the whole load is undone
    const before = processFdCount();
    const failed = await loadBpfFile(UPROBE, { attach: true }).then(() => undefined, (e: unknown) => e as LoadError);
    expect(failed).to.be.instanceOf(LoadError);
    expect(failed!.code).to.equal('BPF_LOAD_INPUT');
    expect(failed!.message).to.match(
      new RegExp(`sec 'uprobe/${TARGET_NAME}:target_add': prog 'on_named_entry': attach uprobe to ${TARGET_NAME}:target_add: no binary '${TARGET_NAME}' in `),
    );
    expect(processFdCount()).to.equal(before);
  });

  it('uprobe.multi (one link for every target_* function), uretprobe.multi and a sleepable uprobe.s, by section name', async function () {
    requireFeature(this, 'uprobe_multi links (Linux 6.6)', haveFeature('uprobeMultiLink') ? undefined : 'this kernel has none');
    await withPath(target.dir, async () => {
      const object = await loadBpfFile(UPROBE_MULTI, { attach: true });
      try {
        expect((object.attachments as Attachment[]).map((a) => `${a.kind} ${a.program} ${a.target} ${a.via}`)).to.deep.equal([
          `uprobe_multi on_any_target ${target.path}:target_* link`,
          `uprobe_multi on_add_return ${target.path}:target_add link`,
          `uprobe on_add_sleepable ${target.path}:target_add link`,
        ]);
        target.run(3);
        expect(counter(object, 'multi_calls'), 'target_add and target_mul, 3 times each').to.equal(6n);
        expect(counter(object, 'multi_return_calls')).to.equal(3n);
        expect(counter(object, 'sleepable_calls')).to.equal(3n);
        expect(counter(object, 'sleepable_arg')).to.equal(1002n);
      } finally {
        object.close();
      }
    });
  });

  it('attachUprobeMulti: by function names and by pid; a program not loaded for uprobe_multi is refused', async function () {
    requireFeature(this, 'uprobe_multi links (Linux 6.6)', haveFeature('uprobeMultiLink') ? undefined : 'this kernel has none');
    const object = await loadBpfFile(UPROBE_MULTI);
    const watched = target.startWaiting(2);
    try {
      const link = attachUprobeMulti(object.program('on_any_target'), {
        binary: target.path, functions: ['target_add', 'target_mul'], pid: watched.child.pid!,
      });
      target.run(4);
      await watched.go();
      expect(counter(object, 'multi_calls'), 'only the watched process: 2 calls of each').to.equal(4n);
      link.close();
      const plain = await loadBpfFile(UPROBE);
      try {
        const refused = catchError(() => attachUprobeMulti(plain.program('on_entry'), { binary: target.path, pattern: 'target_*' }));
        expect(refused.code).to.equal('BPF_LOAD_ARGUMENT');
        expect(refused.message).to.match(/not loaded for uprobe_multi links/);
      } finally {
        plain.close();
      }
      const none = catchError(() => attachUprobeMulti(object.program('on_any_target'), { binary: target.path, pattern: 'nothing_*' }));
      expect(none.message).to.match(/no function of .* matches 'nothing_\*'/);
    } finally {
      watched.child.kill();
      object.close();
    }
  });

  it('usdt/NAME:PROVIDER:PROBE by section name: BPF_USDT() reads the arguments; the semaphore is raised while attached', async () => {
    await withPath(target.dir, async () => {
      const object = await loadBpfFile(USDT, { attach: true });
      try {
        expect((object.attachments as Attachment[]).map((a) => `${a.kind} ${a.program} ${a.target} ${a.via}`)).to.deep.equal([
          `usdt on_tick ${target.path}:bpf_load:tick link`,
        ]);
        expect(target.run(5)).to.equal(String(expectedSum(5)));
        // the program runs only where the semaphore was raised: the kernel's reference counter did it
        expect(counter(object, 'tick_calls')).to.equal(5n);
        expect(counter(object, 'tick_index')).to.equal(4n);
        expect(counter(object, 'tick_sum')).to.equal(BigInt(expectedSum(5)));
        expect(counter(object, 'tick_arg_count')).to.equal(2n);
        expect(counter(object, 'tick_cookie')).to.equal(0n);
      } finally {
        object.close();
      }
      target.run(2);
    });
  });

  it('attachUsdt: a cookie for bpf_usdt_cookie() and a pid; a missing probe, and a program without usdt.bpf.h, are refused', async () => {
    const object = await loadBpfFile(USDT);
    const watched = target.startWaiting(3);
    try {
      const attachment = attachUsdt(object.program('on_tick'), {
        binary: target.path, provider: 'bpf_load', name: 'tick', cookie: 0xfeedn, pid: watched.child.pid!,
      });
      target.run(4);
      await watched.go();
      expect(counter(object, 'tick_calls'), 'only the watched process').to.equal(3n);
      expect(counter(object, 'tick_cookie')).to.equal(0xfeedn);
      attachment.close();
      const missing = catchError(() => attachUsdt(object.program('on_tick'), { binary: target.path, provider: 'bpf_load', name: 'tock' }));
      expect(missing.code).to.equal('BPF_LOAD_INPUT');
      expect(missing.message).to.match(new RegExp(`attach usdt to ${target.path}:bpf_load:tock: no USDT probe bpf_load:tock in ${target.path} \\(list its probes with: readelf -n`));
    } finally {
      watched.child.kill();
      object.close();
    }
    const plain = await loadBpfFile(UPROBE);
    try {
      const noSpecs = catchError(() => attachUsdt(plain.program('on_entry'), { binary: target.path, provider: 'bpf_load', name: 'tick' }));
      expect(noSpecs.code).to.equal('BPF_LOAD_INPUT');
      expect(noSpecs.message).to.match(/uses no __bpf_usdt_specs map: it does not read its arguments through libbpf's usdt.bpf.h/);
    } finally {
      plain.close();
    }
  });

  it('libbpf attaches the USDT object by its section name beside bpf-load: both see the same calls and arguments', async function () {
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
    await withPath(target.dir, async () => {
      const pinRoot = freshPinRoot('usdt-oracle');
      const load = await loadWithLibbpf(USDT, { pinRoot, attach: true });
      const object = await loadBpfFile(USDT, { attach: true });
      try {
        expect(load.ok, load.log).to.equal(true);
        expect(load.program('on_tick').attached, load.program('on_tick').attach_error ?? '').to.equal(true);
        target.run(4);
        const theirs = variablesOfMap(load.map('uprobe_u.bss').id!) as Record<string, number | bigint>;
        for (const name of ['tick_calls', 'tick_index', 'tick_sum', 'tick_arg_count', 'tick_cookie']) {
          expect(BigInt(theirs[name]!), name).to.equal(counter(object, name));
        }
        expect(counter(object, 'tick_calls')).to.equal(4n);
      } finally {
        object.close();
        await load.close();
        removePinRoot(pinRoot);
      }
    });
  });

  it('libbpf attaches the same object by its section names beside bpf-load: both count the same calls', async function () {
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
    await withPath(target.dir, async () => {
      const pinRoot = freshPinRoot('uprobe-oracle');
      const load = await loadWithLibbpf(UPROBE, { pinRoot, attach: true });
      const object = await loadBpfFile(UPROBE, { attach: true });
      try {
        expect(load.ok, load.log).to.equal(true);
        for (const name of ['on_named_entry', 'on_named_return', 'on_offset']) {
          expect(load.program(name).attached, `${name}: ${load.program(name).attach_error ?? ''}`).to.equal(true);
        }
        target.run(6);
        const theirs = variablesOfMap(load.map('uprobe.bss').id!) as Record<string, number | bigint>;
        for (const name of ['named_entry_calls', 'named_entry_arg', 'named_return_calls', 'named_return_value', 'offset_calls']) {
          expect(BigInt(theirs[name]!), name).to.equal(counter(object, name));
        }
        expect(counter(object, 'named_entry_calls')).to.equal(6n);
      } finally {
        object.close();
        await load.close();
        removePinRoot(pinRoot);
      }
    });
  });
});

describe('kprobes on a kernel without them', function () {
  before(function () {
    requireKernel(this);
  });

  it('kprobe, kretprobe, ksyscall, kprobe.multi: BPF_LOAD_NOT_SUPPORTED, saying CONFIG_KPROBES (CONFIG_FPROBE) is not set', async function () {
    requireFeature(this, 'a kernel without kprobes (this test checks the refusal)', kprobeSupport().supported ? 'this kernel has kprobes' : undefined);
    const object = await loadBpfFile(join(MODERN, 'probes.bpf.o'));
    try {
      const kprobe = catchError(() => attachKprobe(object.program('enter_unlinkat'), 'do_unlinkat'));
      expect(kprobe.code).to.equal('BPF_LOAD_NOT_SUPPORTED');
      expect(kprobe.message).to.match(/prog 'enter_unlinkat': attach kprobe to do_unlinkat: this kernel has no kprobes \(CONFIG_KPROBES is not set\)/);
      expect(kprobe.errnoName).to.equal('EOPNOTSUPP');
      const kretprobe = catchError(() => attachKprobe(object.program('leave_unlinkat'), 'do_unlinkat', { retprobe: true }));
      expect(kretprobe.message).to.match(/attach kretprobe to do_unlinkat: this kernel has no kprobes \(CONFIG_KPROBES is not set\)/);
      const ksyscall = catchError(() => attachKsyscall(object.program('enter_getppid'), 'getppid'));
      expect(ksyscall.code).to.equal('BPF_LOAD_NOT_SUPPORTED');
      expect(ksyscall.message).to.match(/attach ksyscall to getppid: this kernel has no kprobes \(CONFIG_KPROBES is not set\)/);
      const multi = catchError(() => attachKprobeMulti(object.program('enter_unlinkat'), { pattern: 'do_unlink*' }));
      expect(multi.code).to.equal('BPF_LOAD_NOT_SUPPORTED');
      expect(multi.message).to.match(/attach kprobe\.multi to do_unlink\*: this kernel has no kprobe_multi links \(CONFIG_FPROBE is not set\)/);
    } finally {
      object.close();
    }
    // by section name, as --attach does: the first kprobe stops the load, which undoes everything
    const before = processFdCount();
    const failed = await loadBpfFile(join(MODERN, 'probes.bpf.o'), { attach: true }).then(() => undefined, (e: unknown) => e as LoadError);
    expect(failed?.code).to.equal('BPF_LOAD_NOT_SUPPORTED');
    expect(failed?.message).to.match(/sec 'kprobe\/do_unlinkat': prog 'enter_unlinkat': attach kprobe to do_unlinkat: this kernel has no kprobes/);
    expect(processFdCount()).to.equal(before);
  });

  it("ksyscall's kernel function: the architecture's syscall wrapper where the kernel has one, as libbpf names it", function () {
    requireFeature(this, 'x86-64', process.arch === 'x64' ? undefined : `this is ${process.arch}`);
    expect(syscallFunctionName('getppid')).to.equal('__x64_sys_getppid');
  });
});

function uprobePmuMissing(): string | undefined {
  return existsSync('/sys/bus/event_source/devices/uprobe/type') ? undefined : 'no /sys/bus/event_source/devices/uprobe (CONFIG_UPROBE_EVENTS)';
}

function catchError(run: () => unknown): LoadError {
  try {
    run();
  } catch (error) {
    if (error instanceof LoadError) return error;
    throw error;
  }
  throw new Error('expected a LoadError, nothing was thrown');
}
