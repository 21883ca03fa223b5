/* The C side of the load-time benchmark: a samples/bpf-style loader written
 * from the raw bpf(2) interface, the way bpf_load.c did it (no libbpf): read
 * the object, find the "maps" section and its symbols, create the maps in
 * offset order, relocate each program's map references (LD_IMM64 ->
 * BPF_PSEUDO_MAP_FD) and BPF_PROG_LOAD it, put the programs of `socket/N`,
 * `kprobe/N` & co. in slot N of the last PROG_ARRAY map (bpf_load.c's
 * populate_prog_array), then close everything. Built at
 * run time into bench/build/libloadbench.so and called through koffi,
 * alternating with loadBpfFileSync() on the same objects.
 *
 * Objects with bpf-to-bpf calls (.text) are not handled: load_object()
 * returns -2 for them, and the benchmark leaves them out. */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

#define MAX_MAPS 64
#define MAX_PROGS 64

static const struct { const char *prefix; int type; } PROG_TYPES[] = {
	{ "socket", BPF_PROG_TYPE_SOCKET_FILTER }, { "kprobe/", BPF_PROG_TYPE_KPROBE },
	{ "kretprobe/", BPF_PROG_TYPE_KPROBE }, { "tracepoint/", BPF_PROG_TYPE_TRACEPOINT },
	{ "raw_tracepoint/", BPF_PROG_TYPE_RAW_TRACEPOINT }, { "xdp", BPF_PROG_TYPE_XDP },
	{ "perf_event", BPF_PROG_TYPE_PERF_EVENT }, { "cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB },
	{ "cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK }, { "sockops", BPF_PROG_TYPE_SOCK_OPS },
	{ "sk_skb", BPF_PROG_TYPE_SK_SKB }, { "sk_msg", BPF_PROG_TYPE_SK_MSG },
	{ "lwt_in", BPF_PROG_TYPE_LWT_IN }, { "lwt_out", BPF_PROG_TYPE_LWT_OUT },
	{ "lwt_xmit", BPF_PROG_TYPE_LWT_XMIT }, { "lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL },
	{ "classifier", BPF_PROG_TYPE_SCHED_CLS }, { "action", BPF_PROG_TYPE_SCHED_ACT },
};

static int prog_type_of(const char *name)
{
	for (size_t i = 0; i < sizeof(PROG_TYPES) / sizeof(PROG_TYPES[0]); i++)
		if (!strncmp(name, PROG_TYPES[i].prefix, strlen(PROG_TYPES[i].prefix))) return PROG_TYPES[i].type;
	return -1;
}

struct map_sym { uint64_t offset; const char *name; };

/* ns spent inside bpf(2) by the last load_object(): what of a load is the kernel's */
static uint64_t bpf_ns;

static long timed_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
	uint64_t t0 = now_ns();
	long ret = sys_bpf(cmd, attr, size);
	bpf_ns += now_ns() - t0;
	return ret;
}

/* bpf_load.c's tail-call sections: the slot number after the prefix, or -1 (`xdp/1` is just a name) */
static int tail_call_slot(const char *name)
{
	static const char *const PREFIXES[] = { "socket/", "kprobe/", "kretprobe/", "sockops/", "sk_skb/", "sk_msg/" };
	for (size_t i = 0; i < sizeof(PREFIXES) / sizeof(PREFIXES[0]); i++) {
		size_t n = strlen(PREFIXES[i]);
		if (strncmp(name, PREFIXES[i], n) || !name[n]) continue;
		for (const char *c = name + n; *c; c++)
			if (*c < '0' || *c > '9') return -1;
		return atoi(name + n);
	}
	return -1;
}

static int by_offset(const void *a, const void *b)
{
	const struct map_sym *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Load the object at path and close it again: 0, -1 on a failure, -2 when it is not handled. */
int load_object(const char *path)
{
	int fds[MAX_MAPS + MAX_PROGS], nfds = 0, ret = -1;
	int map_fd[MAX_MAPS];
	int prog_array_fd = -1;
	struct map_sym maps[MAX_MAPS];
	int nmaps = 0;
	uint8_t *data = NULL;

	bpf_ns = 0;
	int file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0) return -1;
	struct stat st;
	if (fstat(file, &st) || !(data = malloc(st.st_size)) || read(file, data, st.st_size) != st.st_size) {
		close(file);
		goto out;
	}
	close(file);

	Elf64_Ehdr *eh = (Elf64_Ehdr *)data;
	/* only what the benchmark feeds it: little-endian 64-bit BPF objects, sections inside the file */
	if (st.st_size < (off_t)sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_BPF ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size)
		goto out;
	Elf64_Shdr *sh = (Elf64_Shdr *)(data + eh->e_shoff);
	for (int i = 1; i < eh->e_shnum; i++)
		if (sh[i].sh_type != SHT_NOBITS && sh[i].sh_offset + sh[i].sh_size > (uint64_t)st.st_size) goto out;
	const char *shstr = (const char *)data + sh[eh->e_shstrndx].sh_offset;
	int maps_idx = -1, symtab_idx = -1;
	const char *license = "";
	uint32_t kern_version = 0;
	for (int i = 1; i < eh->e_shnum; i++) {
		const char *name = shstr + sh[i].sh_name;
		if (!strcmp(name, "maps")) maps_idx = i;
		else if (!strcmp(name, "license")) license = (const char *)data + sh[i].sh_offset;
		else if (!strcmp(name, "version")) memcpy(&kern_version, data + sh[i].sh_offset, 4);
		else if (!strcmp(name, ".text") && sh[i].sh_size > 0) { ret = -2; goto out; }
		if (sh[i].sh_type == SHT_SYMTAB) symtab_idx = i;
	}
	if (symtab_idx < 0) goto out;
	Elf64_Sym *syms = (Elf64_Sym *)(data + sh[symtab_idx].sh_offset);
	int nsyms = sh[symtab_idx].sh_size / sizeof(Elf64_Sym);
	const char *strtab = (const char *)data + sh[sh[symtab_idx].sh_link].sh_offset;
	if (!kern_version) {
		struct utsname u;
		unsigned a = 0, b = 0, c = 0;
		uname(&u);
		sscanf(u.release, "%u.%u.%u", &a, &b, &c);
		kern_version = (a << 16) + (b << 8) + (c > 255 ? 255 : c);
	}

	if (maps_idx >= 0) {
		for (int i = 0; i < nsyms && nmaps < MAX_MAPS; i++)
			if (syms[i].st_shndx == maps_idx) maps[nmaps++] = (struct map_sym){ syms[i].st_value, strtab + syms[i].st_name };
		qsort(maps, nmaps, sizeof(maps[0]), by_offset);
		size_t def_size = nmaps ? sh[maps_idx].sh_size / nmaps : 0;
		for (int m = 0; m < nmaps; m++) {
			uint32_t def[7] = { 0 };
			memcpy(def, data + sh[maps_idx].sh_offset + maps[m].offset, def_size < sizeof(def) ? def_size : sizeof(def));
			union bpf_attr attr;
			memset(&attr, 0, sizeof(attr));
			attr.map_type = def[0];
			attr.key_size = def[1];
			attr.value_size = def[2];
			attr.max_entries = def[3];
			attr.map_flags = def[4];
			if (def[0] == BPF_MAP_TYPE_ARRAY_OF_MAPS || def[0] == BPF_MAP_TYPE_HASH_OF_MAPS) {
				attr.value_size = 4;
				attr.inner_map_fd = def[5] < (uint32_t)m ? map_fd[def[5]] : 0;
			}
			if (def[4] & BPF_F_NUMA_NODE) attr.numa_node = def[6];
			strncpy(attr.map_name, maps[m].name, BPF_OBJ_NAME_LEN - 1);
			map_fd[m] = timed_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
			if (map_fd[m] < 0) goto out;
			if (def[0] == BPF_MAP_TYPE_PROG_ARRAY) prog_array_fd = map_fd[m];
			fds[nfds++] = map_fd[m];
		}
	}

	for (int i = 1; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_PROGBITS || !(sh[i].sh_flags & SHF_EXECINSTR) || !sh[i].sh_size) continue;
		int type = prog_type_of(shstr + sh[i].sh_name);
		if (type < 0) continue;
		struct bpf_insn *insns = malloc(sh[i].sh_size);
		memcpy(insns, data + sh[i].sh_offset, sh[i].sh_size);
		for (int r = 1; r < eh->e_shnum; r++) {
			if (sh[r].sh_type != SHT_REL || sh[r].sh_info != (uint32_t)i) continue;
			Elf64_Rel *rel = (Elf64_Rel *)(data + sh[r].sh_offset);
			for (size_t k = 0; k < sh[r].sh_size / sizeof(*rel); k++) {
				Elf64_Sym *sym = &syms[ELF64_R_SYM(rel[k].r_info)];
				struct bpf_insn *insn = &insns[rel[k].r_offset / 8];
				if (insn->code != (BPF_LD | BPF_IMM | BPF_DW) || sym->st_shndx != maps_idx) continue;
				for (int m = 0; m < nmaps; m++) {
					if (maps[m].offset != sym->st_value + insn->imm) continue;
					insn->src_reg = BPF_PSEUDO_MAP_FD;
					insn->imm = map_fd[m];
					break;
				}
			}
		}
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.prog_type = type;
		attr.insns = (uint64_t)(uintptr_t)insns;
		attr.insn_cnt = sh[i].sh_size / 8;
		attr.license = (uint64_t)(uintptr_t)license;
		attr.kern_version = kern_version;
		for (int s = 0; s < nsyms; s++) {
			if (syms[s].st_shndx == i && ELF64_ST_TYPE(syms[s].st_info) == STT_FUNC && syms[s].st_value == 0) {
				strncpy(attr.prog_name, strtab + syms[s].st_name, BPF_OBJ_NAME_LEN - 1);
				break;
			}
		}
		int fd = timed_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
		free(insns);
		if (fd < 0) goto out;
		fds[nfds++] = fd;
		int slot = tail_call_slot(shstr + sh[i].sh_name);
		if (slot >= 0) {
			if (prog_array_fd < 0) goto out;
			uint32_t key = slot;
			memset(&attr, 0, sizeof(attr));
			attr.map_fd = prog_array_fd;
			attr.key = (uint64_t)(uintptr_t)&key;
			attr.value = (uint64_t)(uintptr_t)&fd;
			attr.flags = BPF_ANY;
			if (timed_bpf(BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)) < 0) goto out;
		}
	}
	ret = 0;
out:
	for (int i = 0; i < nfds; i++) close(fds[i]);
	free(data);
	return ret;
}

/* ns for one whole load_object() (read, create, relocate, load, close), or a negative result. */
double bench_load(const char *path)
{
	uint64_t t0 = now_ns();
	int ret = load_object(path);
	uint64_t t1 = now_ns();
	return ret < 0 ? ret : (double)(t1 - t0);
}

/* ns the last bench_load() spent inside bpf(2) */
double bench_last_bpf_ns(void)
{
	return (double)bpf_ns;
}

/* For the replay that measures the floor (bench/loadFloor.ts): read memory at an address bpf-load put in an attr. */
void bench_copy_from(uint8_t *to, uint64_t from, size_t n)
{
	memcpy(to, (const void *)(uintptr_t)from, n);
}

size_t bench_cstr_len(uint64_t from)
{
	return strlen((const char *)(uintptr_t)from);
}
