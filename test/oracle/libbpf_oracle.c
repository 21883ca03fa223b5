// The libbpf oracle: loads a libbpf-style object with the system's libbpf (1.x) and prints, as
// one JSON line, what libbpf made of it: every map and program as the kernel reports them, which
// programs libbpf could not load and why. It then holds everything loaded until its stdin closes,
// so a test can read the programs back (bpftool prog dump xlated id N) while they exist.
//
//   libbpf_oracle OBJ [--pin-root DIR] [--set NAME=VALUE]... [--attach] [--no-hold]
//
// --attach attaches every loaded program the way its section name says (bpf_program__attach),
// so a test can trigger it and read what it wrote; a program that cannot attach says why.
//
// One refused program makes bpf_object__load() fail as a whole. The oracle then loads each
// program alone to learn which ones libbpf accepts, and loads the object once more with only
// those, so one answer covers "what loads" and "what is refused, with which errno".
// Built at test time: cc -O2 -o OUT libbpf_oracle.c -lbpf
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SETS 64
#define MAX_PROGS 256
#define LOG_KEEP 16384

static const char *pin_root;
static const char *sets[MAX_SETS];
static int nsets;
static bool attach;
static struct bpf_link *links[MAX_PROGS];
static int nlinks;

// libbpf's messages of the attempt under way: warnings for the JSON, the tail of everything for a refusal
static char *log_buf;
static size_t log_len;
static FILE *log_file;

static int collect(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(log_file, fmt, args);
}

static void log_reset(void)
{
	if (log_file)
		fclose(log_file);
	free(log_buf);
	log_buf = NULL;
	log_len = 0;
	log_file = open_memstream(&log_buf, &log_len);
}

static const char *log_text(void)
{
	fflush(log_file);
	return log_buf ? log_buf : "";
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_tail(FILE *out, const char *s)
{
	size_t n = strlen(s);
	json_string(out, n > LOG_KEEP ? s + n - LOG_KEEP : s);
}

// `NAME=VALUE` written into the data section that holds NAME (found through the DATASEC of each
// internal map): integers and bools by their size, char arrays as strings.
static int set_variable(struct bpf_object *obj, const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;

	if (!eq || !btf) {
		fprintf(stderr, "--set %s: expected NAME=VALUE on an object with BTF\n", assignment);
		return -EINVAL;
	}
	size_t name_len = (size_t)(eq - assignment);
	const char *value = eq + 1;
	bpf_object__for_each_map(map, obj) {
		if (!bpf_map__is_internal(map))
			continue;
		const struct btf_type *sec = btf__type_by_id(btf, bpf_map__btf_value_type_id(map));
		if (!sec || !btf_is_datasec(sec))
			continue;
		const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
		for (int i = 0; i < btf_vlen(sec); i++, vs++) {
			const struct btf_type *var = btf__type_by_id(btf, vs->type);
			const char *var_name = btf__name_by_offset(btf, var->name_off);
			if (strlen(var_name) != name_len || strncmp(var_name, assignment, name_len) != 0)
				continue;
			size_t size;
			char *data = (char *)bpf_map__initial_value(map, &size);
			if (!data || vs->offset + vs->size > size)
				return -EINVAL;
			const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, var->type));
			if (btf_is_array(t)) {
				memset(data + vs->offset, 0, vs->size);
				strncpy(data + vs->offset, value, vs->size);
				return 0;
			}
			unsigned long long v = strtoull(value, NULL, 0);
			if (value[0] == '-')
				v = (unsigned long long)strtoll(value, NULL, 0);
			memcpy(data + vs->offset, &v, vs->size < 8 ? vs->size : 8);
			return 0;
		}
	}
	fprintf(stderr, "--set %.*s: no such variable in the object's data sections\n", (int)name_len, assignment);
	return -ENOENT;
}

static struct bpf_object *open_object(const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	if (!obj)
		return NULL;
	for (int i = 0; i < nsets; i++) {
		if (set_variable(obj, sets[i]) != 0) {
			bpf_object__close(obj);
			errno = EINVAL;
			return NULL;
		}
	}
	return obj;
}

// which programs load: alone, each in its own copy of the object
struct verdict {
	char name[128];
	bool accepted;
	int err;
	char *log;
};

static void print_maps(struct bpf_object *obj)
{
	struct bpf_map *map;
	bool first = true;

	printf("\"maps\":[");
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_map__fd(map);

		printf("%s{\"name\":", first ? "" : ",");
		first = false;
		json_string(stdout, bpf_map__name(map));
		printf(",\"internal\":%s,\"autocreate\":%s", bpf_map__is_internal(map) ? "true" : "false",
		       bpf_map__autocreate(map) ? "true" : "false");
		if (bpf_map__pin_path(map)) {
			printf(",\"pin_path\":");
			json_string(stdout, bpf_map__pin_path(map));
			printf(",\"pinned\":%s", bpf_map__is_pinned(map) ? "true" : "false");
		}
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
			printf(",\"created\":false}");
			continue;
		}
		printf(",\"created\":true,\"id\":%u,\"type\":%u,\"type_name\":", info.id, info.type);
		json_string(stdout, libbpf_bpf_map_type_str(info.type));
		printf(",\"kernel_name\":");
		json_string(stdout, info.name);
		printf(",\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u,\"flags\":%u,\"map_extra\":%llu",
		       info.key_size, info.value_size, info.max_entries, info.map_flags,
		       (unsigned long long)info.map_extra);
		printf(",\"btf_id\":%u,\"btf_key_type_id\":%u,\"btf_value_type_id\":%u,\"btf_vmlinux_value_type_id\":%u}",
		       info.btf_id, info.btf_key_type_id, info.btf_value_type_id, info.btf_vmlinux_value_type_id);
	}
	printf("]");
}

static void print_programs(struct bpf_object *obj, struct verdict *verdicts, int nverdicts)
{
	struct bpf_program *prog;
	bool first = true;

	printf("\"programs\":[");
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		struct verdict *v = NULL;

		for (int i = 0; i < nverdicts; i++)
			if (strcmp(verdicts[i].name, name) == 0)
				v = &verdicts[i];
		printf("%s{\"name\":", first ? "" : ",");
		first = false;
		json_string(stdout, name);
		printf(",\"section\":");
		json_string(stdout, bpf_program__section_name(prog));
		printf(",\"type\":%u,\"type_name\":", bpf_program__type(prog));
		json_string(stdout, libbpf_bpf_prog_type_str(bpf_program__type(prog)));
		printf(",\"expected_attach_type\":%u,\"expected_attach_type_name\":", bpf_program__expected_attach_type(prog));
		json_string(stdout, libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(prog)));
		int fd = bpf_program__fd(prog);
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
			printf(",\"loaded\":true,\"id\":%u,\"kernel_type\":%u,\"kernel_name\":", info.id, info.type);
			json_string(stdout, info.name);
			printf(",\"xlated_insns\":%u,\"nr_map_ids\":%u,\"btf_id\":%u,\"nr_func_info\":%u,\"nr_line_info\":%u"
			       ",\"attach_btf_id\":%u,\"attach_btf_obj_id\":%u",
			       info.xlated_prog_len / 8, info.nr_map_ids, info.btf_id, info.nr_func_info,
			       info.nr_line_info, info.attach_btf_id, info.attach_btf_obj_id);
			if (attach) {
				struct bpf_link *link = bpf_program__attach(prog);
				if (link && nlinks < MAX_PROGS) {
					links[nlinks++] = link;
					printf(",\"attached\":true");
				} else {
					int e = errno;
					printf(",\"attached\":false,\"attach_error\":");
					json_string(stdout, strerror(e));
				}
			}
			printf("}");
			continue;
		}
		printf(",\"loaded\":false");
		if (v && !v->accepted) {
			printf(",\"errno\":%d,\"error\":", -v->err);
			json_string(stdout, strerror(-v->err));
			printf(",\"log\":");
			json_tail(stdout, v->log ? v->log : "");
		}
		printf("}");
	}
	printf("]");
}

static int fail_json(const char *path, const char *stage, int err)
{
	printf("{\"object\":");
	json_string(stdout, path);
	printf(",\"ok\":false,\"stage\":\"%s\",\"errno\":%d,\"error\":", stage, -err);
	json_string(stdout, strerror(-err));
	printf(",\"log\":");
	json_tail(stdout, log_text());
	printf("}\n");
	fflush(stdout);
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool hold = true;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pin-root") == 0 && i + 1 < argc)
			pin_root = argv[++i];
		else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < MAX_SETS)
			sets[nsets++] = argv[++i];
		else if (strcmp(argv[i], "--attach") == 0)
			attach = true;
		else if (strcmp(argv[i], "--no-hold") == 0)
			hold = false;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: %s OBJ [--pin-root DIR] [--set NAME=VALUE]... [--attach] [--no-hold]\n", argv[0]);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: %s OBJ [--pin-root DIR] [--set NAME=VALUE]... [--attach] [--no-hold]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(collect);
	log_reset();

	struct bpf_object *obj = open_object(path);
	if (!obj)
		return fail_json(path, "open", -errno);

	struct verdict verdicts[MAX_PROGS];
	int nverdicts = 0;
	char *warnings = NULL;
	int err = bpf_object__load(obj);
	if (err) {
		// find out program by program, then load what libbpf accepts
		char *whole_log = strdup(log_text());
		struct bpf_program *prog;
		bpf_object__for_each_program(prog, obj) {
			if (nverdicts == MAX_PROGS)
				break;
			struct verdict *v = &verdicts[nverdicts++];
			snprintf(v->name, sizeof(v->name), "%s", bpf_program__name(prog));
			v->log = NULL;
			log_reset();
			struct bpf_object *alone = open_object(path);
			struct bpf_program *p;
			if (!alone) {
				v->accepted = false;
				v->err = -errno;
				continue;
			}
			bpf_object__for_each_program(p, alone)
				bpf_program__set_autoload(p, strcmp(bpf_program__name(p), v->name) == 0);
			v->err = bpf_object__load(alone);
			v->accepted = v->err == 0;
			if (!v->accepted)
				v->log = strdup(log_text());
			bpf_object__close(alone);
		}
		bpf_object__close(obj);
		log_reset();
		obj = open_object(path);
		if (!obj)
			return fail_json(path, "open", -errno);
		int accepted = 0;
		bpf_object__for_each_program(prog, obj) {
			bool ok = false;
			for (int i = 0; i < nverdicts; i++)
				if (strcmp(verdicts[i].name, bpf_program__name(prog)) == 0)
					ok = verdicts[i].accepted;
			bpf_program__set_autoload(prog, ok);
			accepted += ok;
		}
		err = accepted ? bpf_object__load(obj) : err;
		if (err || !accepted) {
			// nothing loads: say why the whole object failed
			log_reset();
			fputs(whole_log, log_file);
			return fail_json(path, "load", err);
		}
		free(whole_log);
	}
	warnings = strdup(log_text());

	printf("{\"object\":");
	json_string(stdout, path);
	printf(",\"ok\":true,\"name\":");
	json_string(stdout, bpf_object__name(obj));
	printf(",\"kernel_version\":%u,", bpf_object__kversion(obj));
	const struct btf *btf = bpf_object__btf(obj);
	printf("\"btf_fd\":%d,", btf ? btf__fd(btf) : -1);
	if (btf && btf__fd(btf) >= 0) {
		struct bpf_btf_info info = {};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(btf__fd(btf), &info, &len) == 0)
			printf("\"btf_id\":%u,", info.id);
	}
	print_maps(obj);
	printf(",");
	print_programs(obj, verdicts, nverdicts);
	printf(",\"warnings\":");
	json_tail(stdout, warnings);
	printf("}\n");
	fflush(stdout);

	if (hold) {
		char buf[256];
		while (read(0, buf, sizeof(buf)) > 0)
			;
	}
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return 0;
}
