import { marshalBtf, sanitizeBtfTypes, type ObjectSpec } from '../../elf/index.js';
import { BpfFd, SyscallError, btfLoad, errnoName, haveFeature } from '../../syscall/index.js';

/** First BTF log buffer, grown on ENOSPC; libbpf's default log is 16 MiB at most. */
const BTF_LOG_START = 64 * 1024;
const BTF_LOG_MAX = 16 * 1024 * 1024;

/**
 * BPF_BTF_LOAD of the object's BTF, every kind the running kernel lacks replaced (found by
 * probes) and DATASECs fixed up at parse time. A kernel without BTF, or one that refuses
 * this BTF, gets none: the object loads without it, as libbpf does, with a warning that
 * carries the kernel's log. undefined when the object has no BTF.
 */
export function loadObjectBtf(spec: ObjectSpec, onWarning: ((message: string) => void) | undefined): BpfFd | undefined {
  if (!spec.btf) return undefined;
  if (!haveFeature('btf')) {
    onWarning?.(`${spec.file}: this kernel has no BTF: maps and programs are loaded without it (no source lines in verifier logs)`);
    return undefined;
  }
  const types = sanitizeBtfTypes(spec.btf.types, {
    datasec: haveFeature('btfDatasec'), func: haveFeature('btfFunc'), funcGlobal: haveFeature('btfFunc'),
    float: haveFeature('btfFloat'), declTag: haveFeature('btfDeclTag'), typeTag: haveFeature('btfTypeTag'), enum64: haveFeature('btfEnum64'),
  });
  const bytes = marshalBtf(types, { strings: spec.btf.strings, littleEndian: spec.byteOrder === 'little' });
  try {
    return btfLoad({ btf: bytes });
  } catch (first) {
    if (!(first instanceof SyscallError)) throw first;
    let log = '';
    for (let size = BTF_LOG_START; size <= BTF_LOG_MAX; size *= 4) {
      const logBuffer = Buffer.alloc(size);
      try {
        btfLoad({ btf: bytes, log_buf: logBuffer, log_level: 1 }).close();
      } catch (error) {
        const end = logBuffer.indexOf(0);
        log = logBuffer.subarray(0, end < 0 ? size : end).toString('utf8');
        if (error instanceof SyscallError && error.errno === 28 /* ENOSPC */) continue;
      }
      break;
    }
    onWarning?.(
      `${spec.file}: the kernel refused the object's BTF (${errnoName(first.errno)}): maps and programs are loaded without it` +
        (log ? `\n${log.trimEnd()}` : ''),
    );
    return undefined;
  }
}
