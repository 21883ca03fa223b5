// libbpf 1.x's whole-object load, timed in C for bench/libbpfLoad.ts: bpf_object__open_mem()
// of bytes read once, bpf_object__load() (maps, BTF, CO-RE, programs), bpf_object__close().
// Built as a shared library with -lbpf and called through koffi, so no Node code is in the figure.
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OBJECTS 64

static struct {
	char *path;
	void *bytes;
	size_t size;
} cache[MAX_OBJECTS];

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static int object_bytes(const char *path, void **bytes, size_t *size)
{
	int i;

	for (i = 0; i < MAX_OBJECTS && cache[i].path; i++) {
		if (strcmp(cache[i].path, path) == 0) {
			*bytes = cache[i].bytes;
			*size = cache[i].size;
			return 0;
		}
	}
	if (i == MAX_OBJECTS)
		return -ENOSPC;
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *buf = malloc(n);
	if (!buf || fread(buf, 1, n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return -EIO;
	}
	fclose(f);
	cache[i].path = strdup(path);
	cache[i].bytes = buf;
	cache[i].size = n;
	*bytes = buf;
	*size = n;
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/** libbpf's version, major * 1000 + minor. */
int libbpf_bench_version(void)
{
	return libbpf_major_version() * 1000 + libbpf_minor_version();
}

/**
 * ns of one whole load of the object at `path` (read from disk once, then from memory), pins by
 * name under `pin_root`; < 0: -errno of a failed open or load.
 */
double libbpf_bench_load(const char *path, const char *pin_root)
{
	void *bytes = NULL;
	size_t size = 0;
	int err = object_bytes(path, &bytes, &size);
	char name[64];
	const char *base = strrchr(path, '/');

	if (err)
		return err;
	// the name bpf_object__open_file() would give (file name up to its first dot): internal maps
	// are named after it, as in the loads the oracle compares
	snprintf(name, sizeof(name), "%s", base ? base + 1 : path);
	name[strcspn(name, ".")] = 0;
	libbpf_set_print(quiet);
	double t0 = now_ns();
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root, .object_name = name);
	struct bpf_object *obj = bpf_object__open_mem(bytes, size, &opts);
	if (!obj)
		return -errno;
	err = bpf_object__load(obj);
	bpf_object__close(obj);
	double t1 = now_ns();
	return err ? (err < 0 ? err : -err) : t1 - t0;
}
