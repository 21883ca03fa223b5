/* The C side of the events benchmark: a libbpf-free reader of a perf event
 * array (perf_event_open + mmap + epoll, as libbpf's perf_buffer does) and
 * of a ring buffer (mmap + epoll, as libbpf's ring_buffer does), built at run
 * time into bench/build/libeventreader.so and called through koffi. Its perf
 * events stamp each sample with its time, as the TypeScript reader's do; it
 * wakes for every wakeup the kernel sends, copies nothing and merges no CPUs.
 * Each function sets up its reader, starts the stopped generator with SIGCONT,
 * reads until `expect` records arrived (or were lost) or a second passes
 * without any, and fills out[] = { records, lost, ns from start to the last }. */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

#define MAX_CPUS 256

static int map_update(int map_fd, uint32_t key, uint32_t value)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr));
}

static int map_delete(int map_fd, uint32_t key)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	return sys_bpf(BPF_MAP_DELETE_ELEM, &attr, sizeof(attr));
}

int bench_perf(int map_fd, int ncpus, int pages, int generator, uint64_t expect, uint64_t *out)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t data_size = (size_t)pages * page;
	int fds[MAX_CPUS];
	void *rings[MAX_CPUS];
	struct epoll_event events[MAX_CPUS];
	uint64_t records = 0, lost = 0, start, last = 0;
	char *copy = malloc(65536);
	volatile uint64_t sum = 0;
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int cpu, ret = 0;

	if (ncpus > MAX_CPUS)
		return -1;
	for (cpu = 0; cpu < ncpus; cpu++) {
		struct perf_event_attr attr;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = cpu };
		memset(&attr, 0, sizeof(attr));
		attr.type = PERF_TYPE_SOFTWARE;
		attr.size = sizeof(attr);
		attr.config = PERF_COUNT_SW_BPF_OUTPUT;
		attr.sample_period = 1;
		/* what the TypeScript reader asks for: the time orders records across CPUs */
		attr.sample_type = PERF_SAMPLE_TIME | PERF_SAMPLE_RAW;
		attr.wakeup_events = 1;
		fds[cpu] = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fds[cpu] < 0)
			return -2;
		rings[cpu] = mmap(NULL, page + data_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[cpu], 0);
		if (rings[cpu] == MAP_FAILED)
			return -3;
		if (map_update(map_fd, cpu, fds[cpu]) < 0)
			return -4;
		epoll_ctl(epfd, EPOLL_CTL_ADD, fds[cpu], &ev);
	}
	kill(generator, SIGCONT);
	start = now_ns();
	while (records + lost < expect) {
		int n = epoll_wait(epfd, events, ncpus, 1000), i;
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			struct perf_event_mmap_page *meta = rings[events[i].data.u32];
			char *base = (char *)meta + page;
			uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
			uint64_t tail = meta->data_tail;
			while (tail < head) {
				struct perf_event_header *header = (void *)(base + (tail & (data_size - 1)));
				size_t at = tail & (data_size - 1);
				if (at + header->size > data_size) {
					/* reassemble a record that wraps, as libbpf does */
					size_t first = data_size - at;
					memcpy(copy, base + at, first);
					memcpy(copy + first, base, header->size - first);
					header = (void *)copy;
				}
				if (header->type == PERF_RECORD_SAMPLE) {
					/* touch the record, as a consumer would */
					sum += *(uint64_t *)((char *)header + 20);
					records++;
				}
				else if (header->type == PERF_RECORD_LOST)
					lost += ((uint64_t *)header)[2];
				tail += header->size;
			}
			__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
		}
		last = now_ns();
	}
	for (cpu = 0; cpu < ncpus; cpu++) {
		map_delete(map_fd, cpu);
		munmap(rings[cpu], page + data_size);
		close(fds[cpu]);
	}
	close(epfd);
	free(copy);
	out[0] = records;
	out[1] = lost;
	out[2] = last > start ? last - start : 0;
	return ret;
}

#define RINGBUF_BUSY (1u << 31)
#define RINGBUF_DISCARD (1u << 30)

int bench_ring(int map_fd, uint32_t size, int generator, uint64_t expect, uint64_t *out)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t records = 0, start, last = 0;
	struct epoll_event ev = { .events = EPOLLIN }, events[1];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	uint64_t *consumer = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	char *producer = mmap(NULL, page + 2 * (size_t)size, PROT_READ, MAP_SHARED, map_fd, page);
	char *data = producer + page;
	volatile uint64_t sum = 0;

	if (consumer == MAP_FAILED || producer == MAP_FAILED)
		return -3;
	epoll_ctl(epfd, EPOLL_CTL_ADD, map_fd, &ev);
	kill(generator, SIGCONT);
	start = now_ns();
	while (records < expect) {
		uint64_t cons = __atomic_load_n(consumer, __ATOMIC_ACQUIRE);
		uint64_t prod = __atomic_load_n((uint64_t *)producer, __ATOMIC_ACQUIRE);
		if (cons >= prod) {
			if (epoll_wait(epfd, events, 1, 1000) == 0)
				break;
			continue;
		}
		while (cons < prod) {
			uint32_t *header = (uint32_t *)(data + (cons & (size - 1)));
			uint32_t len = __atomic_load_n(header, __ATOMIC_ACQUIRE);
			if (len & RINGBUF_BUSY)
				break;
			if (!(len & RINGBUF_DISCARD)) {
				/* touch the record, as a consumer would */
				sum += *(uint64_t *)(header + 2);
				records++;
			}
			cons += ((len & ~(RINGBUF_BUSY | RINGBUF_DISCARD)) + 8 + 7) & ~7ull;
			__atomic_store_n(consumer, cons, __ATOMIC_RELEASE);
		}
		last = now_ns();
	}
	munmap(consumer, page);
	munmap(producer, page + 2 * (size_t)size);
	close(epfd);
	out[0] = records;
	out[1] = 0;
	out[2] = last > start ? last - start : 0;
	return 0;
}
