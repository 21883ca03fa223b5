import koffi, { type LibraryHandle } from 'koffi';
import { loadBpfFileSync } from '../loader/load/loadBpfFile.js';
import { readObjectFileSync } from '../loader/load/readObject.js';
import { overrideBpfSyscall } from '../syscall/index.js';

/**
 * The floor of a whole-object load from Node: the system calls one
 * loadBpfFileSync() makes, recorded once and made again through koffi with
 * nothing in between — the file read the way bpf-load reads it, each
 * bpf(2) call with the attr bpf-load gave it, then a close(2) per fd. No
 * parse, no bookkeeping, no signal mask. What a load costs above the floor is
 * bpf-load's own; what the floor costs above the C loader is Node's and
 * koffi's, which no loader written for Node can avoid.
 */
export interface LoadFloor {
  /** ns of one replay of the load */
  replayNs(): number;
  /** the bpf(2) calls a replay makes: one per map, program and tail-call slot */
  readonly bpfCalls: number;
}

const BPF_MAP_CREATE = 0;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_PROG_LOAD = 5;
const ATTR_BYTES = 160;
const NR_BPF_X64 = 321;

interface RecordedCall {
  cmd: number;
  size: number;
  /** the attr as bpf-load passed it, its pointers moved to memory the floor owns */
  attr: Buffer;
  /** the fd the call returned when it makes one, else -1: a replay must get the same numbers */
  fd: number;
}

/** Reads of memory at an address bpf-load put in an attr (bench/c/loadbench.c). */
export interface AddressReader {
  copy(to: Buffer, address: number, length: number): void;
  cStringLength(address: number): number;
}

export function addressReader(lib: LibraryHandle): AddressReader {
  const copy = lib.func('void bench_copy_from(_Out_ uint8_t *to, uint64_t from, size_t n)');
  const length = lib.func('size_t bench_cstr_len(uint64_t from)');
  return {
    copy: (to, address, n) => void copy(to, address, n),
    cStringLength: (address) => Number(length(address)),
  };
}

/**
 * Record what one sync load of `path` makes, or say why it cannot be replayed.
 * A load that needs a command other than map create, element update (a
 * tail-call slot) or program load, such as one that pins, is not a floor.
 */
export function recordLoadFloor(path: string, memory: AddressReader): LoadFloor | string {
  if (process.arch !== 'x64') return `the replay knows bpf(2)'s number on x64 only, not ${process.arch}`;
  const owned: Buffer[] = [];
  /** off-heap memory whose address never moves, kept alive with the floor */
  const ownedCopy = (address: number, length: number): number => {
    const copy = Buffer.from(new ArrayBuffer(Math.max(length, 1)));
    if (length > 0) memory.copy(copy, address, length);
    owned.push(copy);
    return Number(koffi.address(copy));
  };
  const calls: RecordedCall[] = [];
  let unknown: number | undefined;
  const restore = overrideBpfSyscall((cmd, attrBuffer, size, real) => {
    const attr = Buffer.from(new ArrayBuffer(ATTR_BYTES));
    attrBuffer.copy(attr, 0, 0, size);
    const pointer = (offset: number, length: number): void => {
      attr.writeBigUInt64LE(BigInt(ownedCopy(Number(attr.readBigUInt64LE(offset)), length)), offset);
    };
    if (cmd === BPF_PROG_LOAD) {
      pointer(8, attr.readUInt32LE(4) * 8);
      const license = Number(attr.readBigUInt64LE(16));
      pointer(16, memory.cStringLength(license) + 1);
      // a load that succeeds asks for no verifier log
      attr.fill(0, 24, 40);
    } else if (cmd === BPF_MAP_UPDATE_ELEM) {
      // the one element a load writes is a tail-call slot: a u32 key and a u32 program fd
      pointer(8, 4);
      pointer(16, 4);
    } else if (cmd !== BPF_MAP_CREATE) {
      unknown ??= cmd;
    }
    const ret = real(cmd, attrBuffer, size);
    calls.push({ cmd, size, attr, fd: cmd === BPF_MAP_UPDATE_ELEM ? -1 : ret });
    return ret;
  });
  try {
    loadBpfFileSync(path).close();
  } finally {
    restore();
  }
  if (unknown !== undefined) return `the load makes bpf(2) command ${unknown}, which the replay does not copy`;
  return new Replay(path, calls, owned);
}

class Replay implements LoadFloor {
  readonly bpfCalls: number;

  constructor(
    private readonly path: string,
    private readonly calls: readonly RecordedCall[],
    /** keeps the memory the recorded attrs point to alive */
    readonly owned: readonly Buffer[],
  ) {
    this.bpfCalls = calls.length;
  }

  replayNs(): number {
    const { syscall, close, attr, attrAddress } = replayNative();
    const t0 = process.hrtime.bigint();
    readObjectFileSync(this.path);
    const fds: number[] = [];
    try {
      for (const call of this.calls) {
        call.attr.copy(attr, 0, 0, call.size);
        const ret = Number(syscall(NR_BPF_X64, call.cmd, attrAddress, call.size));
        if (ret < 0) throw new Error(`${this.path}: replayed bpf(2) command ${call.cmd} failed (errno ${koffi.errno()})`);
        if (call.fd < 0) continue;
        fds.push(ret);
        // the programs' map references are the recorded fd numbers: another number would load them against the wrong map
        if (ret !== call.fd) throw new Error(`${this.path}: the replay got fd ${ret} where the recording got ${call.fd}`);
      }
    } finally {
      for (const fd of fds) close(fd);
    }
    return Number(process.hrtime.bigint() - t0);
  }
}

type KoffiFunction = ReturnType<LibraryHandle['func']>;

/** The bare koffi calls every replay makes, and the attr they pass by address: bound once, for every object's floor. */
interface ReplayNative {
  syscall: KoffiFunction;
  close: KoffiFunction;
  attr: Buffer;
  attrAddress: number;
}

let native: ReplayNative | undefined;

function replayNative(): ReplayNative {
  if (native) return native;
  const libc = koffi.load('libc.so.6');
  const attr = Buffer.from(new ArrayBuffer(ATTR_BYTES));
  native = {
    syscall: libc.func('long syscall(long nr, long cmd, unsigned long attr, unsigned long size)'),
    close: libc.func('int close(int fd)'),
    attr,
    attrAddress: Number(koffi.address(attr)),
  };
  return native;
}
