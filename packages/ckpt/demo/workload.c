/* The demo workload: MIB MiB (default 256) of page-unique data, a few threads, then it keeps rewriting
 * a small part of its memory (as a live service would) until killed, or until the OWNER pid (if given)
 * is gone: a ckpt demo killed with SIGKILL leaves nothing running behind it.
 * Usage: workload [MIB [OWNER]]
 * Prints: READY pid=P base=0x... len=BYTES */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL

static void fill_page(char *page, uint64_t seed)
{
	uint64_t *w = (uint64_t *)page;
	uint64_t x = (uint64_t)(uintptr_t)page ^ (seed * 0x9e3779b97f4a7c15ULL);
	for (unsigned i = 0; i < PAGE / 8; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; w[i] = x; }
	w[0] = (uint64_t)(uintptr_t)page;
	w[1] = seed;
}

static char *base;
static size_t len;

static void *writer(void *arg)
{
	uint64_t gen = 2 + (uintptr_t)arg;
	unsigned r = 1 + (unsigned)(uintptr_t)arg;
	for (;;) {
		for (int i = 0; i < 64; i++) {
			r = r * 1103515245 + 12345;
			fill_page(base + (size_t)(r >> 4) % (len / PAGE) * PAGE, gen);
		}
		gen += 2;
		usleep(10000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
	pid_t owner = argc > 2 ? (pid_t)strtol(argv[2], NULL, 0) : 0;
	len = mib << 20;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) { perror("mmap"); return 1; }
	for (size_t off = 0; off < len; off += PAGE) fill_page(base + off, 1);
	for (uintptr_t t = 0; t < 2; t++) { pthread_t th; pthread_create(&th, NULL, writer, (void *)t); }
	printf("READY pid=%d base=%p len=%zu\n", getpid(), (void *)base, len);
	fflush(stdout);
	for (;;) {
		sleep(1);
		if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) return 0;
	}
}
