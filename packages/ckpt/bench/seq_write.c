/* seq_write FILE LEN BUFSIZE: write LEN bytes to FILE (created, truncated) with write(2) of BUFSIZE bytes
 * from one page-aligned buffer holding non-zero data, no fsync (as ckpt's image writes): the disk anchor.
 * Prints: {"ns": N, "bytes": B} */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) { fprintf(stderr, "usage: seq_write FILE LEN BUFSIZE\n"); return 2; }
	unsigned long len = strtoul(argv[2], NULL, 0);
	size_t bs = strtoul(argv[3], NULL, 0);
	char *buf;
	if (posix_memalign((void **)&buf, 4096, bs)) return 1;
	for (size_t i = 0; i < bs; i++) buf[i] = (char)(i * 131 + 7);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) { perror("open"); return 1; }
	unsigned long done = 0;
	while (done < len) {
		size_t n = len - done < bs ? len - done : bs;
		ssize_t w = write(fd, buf, n);
		if (w <= 0) { perror("write"); return 1; }
		done += (unsigned long)w;
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("{\"ns\": %lld, \"bytes\": %lu}\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), done);
	return 0;
}
