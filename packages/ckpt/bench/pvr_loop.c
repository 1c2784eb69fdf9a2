/* pvr_loop PID BASE LEN BUFSIZE: read [BASE, BASE+LEN) of PID with process_vm_readv into one page-aligned,
 * pre-touched buffer of BUFSIZE bytes, one call per buffer, data discarded: the practical limit of the read
 * path. Prints: {"ns": N, "bytes": B} */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 5) { fprintf(stderr, "usage: pvr_loop PID BASE LEN BUFSIZE\n"); return 2; }
	int pid = atoi(argv[1]);
	unsigned long base = strtoul(argv[2], NULL, 0), len = strtoul(argv[3], NULL, 0);
	size_t bs = strtoul(argv[4], NULL, 0);
	char *buf;
	if (posix_memalign((void **)&buf, 4096, bs)) return 1;
	memset(buf, 0, bs);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned long done = 0;
	while (done < len) {
		size_t n = len - done < bs ? len - done : bs;
		struct iovec l = { buf, n }, r = { (void *)(base + done), n };
		ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (got != (ssize_t)n) { perror("process_vm_readv"); return 1; }
		done += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("{\"ns\": %lld, \"bytes\": %lu}\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), done);
	return 0;
}
