/* read_floor FILE...: the floor of a restore's page filling: read every pages file given into one fresh
 * (not pre-touched) anonymous mapping as large as all of them, 4 MiB per read(2). Nothing else: no
 * mapping at the right addresses, no process to rebuild.
 * Prints: {"readNs": N, "bytes": N} */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t total = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) { perror(argv[i]); return 1; }
		total += (size_t)st.st_size;
	}
	int64_t t0 = now_ns();
	char *mem = mmap(NULL, total + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) { perror("mmap"); return 1; }
	size_t off = 0;
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		if (fd < 0) { perror(argv[i]); return 1; }
		for (;;) {
			ssize_t n = read(fd, mem + off, 4 << 20);
			if (n < 0) { perror("read"); return 1; }
			if (n == 0) break;
			off += (size_t)n;
		}
		close(fd);
	}
	printf("{\"readNs\": %lld, \"bytes\": %zu}\n", (long long)(now_ns() - t0), off);
	return 0;
}
