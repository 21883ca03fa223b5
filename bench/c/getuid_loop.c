/* The event source of the events benchmark: getuid() COUNT times, as fast as
 * one CPU can or at RATE calls a second. It stops itself first (SIGSTOP), so
 * the reader under test can be set up for its pid and start it with SIGCONT. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

int main(int argc, char **argv)
{
	uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	uint64_t rate = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	uint64_t start, i;

	raise(SIGSTOP);
	start = now_ns();
	for (i = 0; i < count; i++) {
		syscall(SYS_getuid);
		if (rate && (i % 100) == 99) {
			/* on schedule: call i+1 is due at start + (i+1)/rate seconds */
			uint64_t due = start + (i + 1) * 1000000000ull / rate;
			uint64_t now = now_ns();
			if (due > now) {
				struct timespec wait = { (due - now) / 1000000000ull, (due - now) % 1000000000ull };
				nanosleep(&wait, NULL);
			}
		}
	}
	return 0;
}
