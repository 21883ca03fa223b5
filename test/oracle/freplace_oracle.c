// libbpf's side of an freplace load, for test/modern/freplace.test.ts to compare bpf-load with:
// load TARGET's xdp_target, then EXT's new_verdict against it (bpf_program__set_attach_target),
// attach it (bpf_program__attach_freplace) and run the target with BPF_PROG_TEST_RUN before,
// while attached and after the link is destroyed. One JSON line on stdout:
// {"ext_errno":N,"runs":[before,attached,after]} (runs only when the extension loaded).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int run(int prog_fd)
{
	char packet[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet), .repeat = 1);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	return (int)opts.retval;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s TARGET.o EXT.o\n", argv[0]);
		return 2;
	}
	libbpf_set_print(NULL);
	struct bpf_object *target = bpf_object__open_file(argv[1], NULL);
	if (!target || bpf_object__load(target)) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	int target_fd = bpf_program__fd(bpf_object__find_program_by_name(target, "xdp_target"));
	struct bpf_object *ext = bpf_object__open_file(argv[2], NULL);
	struct bpf_program *prog = ext ? bpf_object__find_program_by_name(ext, "new_verdict") : NULL;
	struct bpf_program *other = ext ? bpf_object__find_program_by_name(ext, "new_clamp") : NULL;
	if (!prog || !other || bpf_program__set_attach_target(prog, target_fd, "verdict")) {
		fprintf(stderr, "cannot open %s\n", argv[2]);
		return 1;
	}
	bpf_program__set_autoload(other, false);
	int err = bpf_object__load(ext);
	if (err) {
		printf("{\"ext_errno\":%d}\n", err < 0 ? -err : err);
		return 0;
	}
	int before = run(target_fd);
	struct bpf_link *link = bpf_program__attach_freplace(prog, target_fd, "verdict");
	if (!link) {
		printf("{\"ext_errno\":0,\"attach_errno\":%d}\n", errno);
		return 0;
	}
	int attached = run(target_fd);
	bpf_link__destroy(link);
	int after = run(target_fd);
	printf("{\"ext_errno\":0,\"runs\":[%d,%d,%d]}\n", before, attached, after);
	bpf_object__close(ext);
	bpf_object__close(target);
	return 0;
}
