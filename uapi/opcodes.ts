// struct bpf_insn, its opcodes and the src_reg values that mark what an immediate holds, from
// include/uapi/linux/bpf.h and bpf_common.h, spelled as there so they can be grepped.

export const INSN_SIZE = 8;

// instruction classes (code & 0x07)
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// sizes (code & 0x18)
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// modes (code & 0xe0)
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// sources (code & 0x08)
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// ALU operations (code & 0xf0)
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// jump operations (code & 0xf0)
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL_OP = 0x80;
export const BPF_EXIT_OP = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

/** BPF_LD | BPF_IMM | BPF_DW: the first half of a 16-byte 64-bit immediate load */
export const BPF_LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
/** BPF_JMP | BPF_CALL */
export const BPF_CALL = BPF_JMP | BPF_CALL_OP;
/** BPF_JMP | BPF_EXIT */
export const BPF_EXIT = BPF_JMP | BPF_EXIT_OP;

// src_reg of an LD_IMM64: what its imm holds
/** a map fd */
export const BPF_PSEUDO_MAP_FD = 1;
/** a map fd, and the second imm an offset into its value (global data) */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** a kernel BTF id of a variable */
export const BPF_PSEUDO_BTF_ID = 3;
/** a relative instruction offset of a function (a callback) */
export const BPF_PSEUDO_FUNC = 4;
/** an index into fd_array */
export const BPF_PSEUDO_MAP_IDX = 5;
/** an index into fd_array, and an offset into the map's value */
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// src_reg of a BPF_CALL
/** imm is a relative instruction offset (a bpf-to-bpf call) */
export const BPF_PSEUDO_CALL = 1;
/** imm is a kernel function's BTF id */
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** enum bpf_func_id: the helpers the probes and tests call */
export const BPF_FUNC = {
  unspec: 0, map_lookup_elem: 1, map_update_elem: 2, map_delete_elem: 3, probe_read: 4, ktime_get_ns: 5,
  trace_printk: 6, get_prandom_u32: 7, get_smp_processor_id: 8, tail_call: 12, get_current_pid_tgid: 14,
  perf_event_output: 25, redirect_map: 51, ringbuf_output: 130, ringbuf_reserve: 131, ringbuf_submit: 132,
} as const;
