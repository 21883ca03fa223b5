/* The C side of `npm run bench`: raw syscall(__NR_bpf) with the same key
 * sequence, attr sizes and batch size as bench/tsBench.ts. Built at run time
 * into bench/build/libmapbench.so and called through koffi on the very maps
 * the TypeScript side uses, alternating with it, so both see the same kernel
 * state and the same machine noise. Each bench_* returns ns per operation. */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include <errno.h>

#define ENTRIES (1u << 20)
#define BATCH 4096
#define ELEM_ATTR_SIZE 32
#define BATCH_ATTR_SIZE 56

static uint32_t key_at(uint32_t i)
{
	return (uint32_t)(i * 2654435761u) & (ENTRIES - 1);
}

int bench_map_create(uint32_t type, uint32_t max)
{
	union bpf_attr attr;
	memset(&attr, 0, 48);
	attr.map_type = type;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = max;
	int fd = sys_bpf(BPF_MAP_CREATE, &attr, 48);
	if (fd < 0) { perror("BPF_MAP_CREATE"); exit(1); }
	return fd;
}

static int elem(int cmd, int fd, void *key, void *value, uint64_t flags)
{
	union bpf_attr attr;
	memset(&attr, 0, ELEM_ATTR_SIZE);
	attr.map_fd = fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)value;
	attr.flags = flags;
	return sys_bpf(cmd, &attr, ELEM_ATTR_SIZE);
}

void bench_fill(int fd)
{
	static uint32_t keys[BATCH];
	static uint64_t values[BATCH];
	for (uint32_t start = 0; start < ENTRIES; start += BATCH) {
		for (uint32_t i = 0; i < BATCH; i++) { keys[i] = start + i; values[i] = (uint64_t)(start + i) * 3; }
		union bpf_attr attr;
		memset(&attr, 0, BATCH_ATTR_SIZE);
		attr.batch.keys = (uint64_t)(uintptr_t)keys;
		attr.batch.values = (uint64_t)(uintptr_t)values;
		attr.batch.count = BATCH;
		attr.batch.map_fd = fd;
		if (sys_bpf(BPF_MAP_UPDATE_BATCH, &attr, BATCH_ATTR_SIZE)) { perror("BPF_MAP_UPDATE_BATCH"); exit(1); }
	}
}

static volatile uint64_t sink;

double bench_lookup(int fd, uint32_t n)
{
	uint32_t key; uint64_t value; uint64_t sum = 0;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		key = key_at(i);
		if (elem(BPF_MAP_LOOKUP_ELEM, fd, &key, &value, 0) == 0) sum += value;
	}
	uint64_t t1 = now_ns();
	sink = sum;
	return (double)(t1 - t0) / n;
}

double bench_update(int fd, uint32_t n)
{
	uint32_t key; uint64_t value;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		key = key_at(i);
		value = 7;
		if (elem(BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_ANY)) { perror("update"); exit(1); }
	}
	return (double)(now_ns() - t0) / n;
}

double bench_delete(int fd, uint32_t n)
{
	uint32_t key; int failures = 0;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		key = key_at(i);
		if (elem(BPF_MAP_DELETE_ELEM, fd, &key, NULL, 0)) failures++;
	}
	uint64_t t1 = now_ns();
	sink = failures;
	return (double)(t1 - t0) / n;
}

double bench_next_key(int fd, uint32_t n)
{
	uint32_t key, next;
	uint64_t t0 = now_ns();
	if (elem(BPF_MAP_GET_NEXT_KEY, fd, NULL, &key, 0)) { perror("get_next_key"); exit(1); }
	for (uint32_t i = 1; i < n; i++) {
		if (elem(BPF_MAP_GET_NEXT_KEY, fd, &key, &next, 0)) break;
		key = next;
	}
	return (double)(now_ns() - t0) / n;
}

/* ns per entry for a whole walk with BPF_MAP_LOOKUP_BATCH, reading every key and value */
double bench_batch_walk(int fd)
{
	static uint32_t keys[BATCH];
	static uint64_t values[BATCH];
	uint64_t in_batch = 0, out_batch = 0, sum = 0, total = 0;
	int first = 1;
	uint64_t t0 = now_ns();
	for (;;) {
		union bpf_attr attr;
		memset(&attr, 0, BATCH_ATTR_SIZE);
		attr.batch.in_batch = first ? 0 : (uint64_t)(uintptr_t)&in_batch;
		attr.batch.out_batch = (uint64_t)(uintptr_t)&out_batch;
		attr.batch.keys = (uint64_t)(uintptr_t)keys;
		attr.batch.values = (uint64_t)(uintptr_t)values;
		attr.batch.count = BATCH;
		attr.batch.map_fd = fd;
		long ret = sys_bpf(BPF_MAP_LOOKUP_BATCH, &attr, BATCH_ATTR_SIZE);
		if (ret && errno != ENOENT) { perror("BPF_MAP_LOOKUP_BATCH"); exit(1); }
		for (uint32_t i = 0; i < attr.batch.count; i++) sum += keys[i] + values[i];
		total += attr.batch.count;
		if (ret) break;
		in_batch = out_batch;
		first = 0;
	}
	uint64_t t1 = now_ns();
	sink = sum;
	if (total != ENTRIES) { fprintf(stderr, "batch walk saw %llu entries\n", (unsigned long long)total); exit(1); }
	return (double)(t1 - t0) / total;
}

double bench_create(int count)
{
	uint64_t t0 = now_ns();
	for (int i = 0; i < count; i++) close(bench_map_create(BPF_MAP_TYPE_HASH, 1024));
	return (double)(now_ns() - t0) / count;
}

/* Put back the first n keys of the sequence (after bench_delete), untimed. */
void bench_refill(int fd, uint32_t n)
{
	static uint32_t keys[BATCH];
	static uint64_t values[BATCH];
	for (uint32_t start = 0; start < n; start += BATCH) {
		uint32_t count = n - start < BATCH ? n - start : BATCH;
		for (uint32_t i = 0; i < count; i++) { keys[i] = key_at(start + i); values[i] = (uint64_t)keys[i] * 3; }
		union bpf_attr attr;
		memset(&attr, 0, BATCH_ATTR_SIZE);
		attr.batch.keys = (uint64_t)(uintptr_t)keys;
		attr.batch.values = (uint64_t)(uintptr_t)values;
		attr.batch.count = count;
		attr.batch.map_fd = fd;
		if (sys_bpf(BPF_MAP_UPDATE_BATCH, &attr, BATCH_ATTR_SIZE)) { perror("BPF_MAP_UPDATE_BATCH"); exit(1); }
	}
}
