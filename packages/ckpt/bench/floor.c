/* floor PID BASE LEN NPAGES SEED: the physical floor of a frozen pre-dump step. One PAGEMAP_SCAN walk of
 * [BASE, BASE+LEN) (PRESENT pages: the same page-table walk a collect of the written set makes), then a
 * process_vm_readv of NPAGES pages of that range, spread at random (xorshift from SEED, sorted), at most
 * 1024 iovecs a call, into one pre-touched buffer on transparent huge pages (2 MiB aligned, MADV_HUGEPAGE:
 * as ckpt's read buffers since 2026-12-06; into 4 KiB pages the copy cost this VM 5-10x more a page).
 * Nothing is written anywhere.
 * Prints: {"scanNs": N, "copyNs": N, "pages": N, "regions": N} */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN 0xc0606610UL
#define PAGE_IS_PRESENT 8
#define PAGE 4096UL
#define HUGE (2UL << 20)
#define IOV_MAX_BATCH 1024

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
	return *s;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 6) { fprintf(stderr, "usage: floor PID BASE LEN NPAGES SEED\n"); return 2; }
	int pid = atoi(argv[1]);
	uint64_t base = strtoull(argv[2], NULL, 0), len = strtoull(argv[3], NULL, 0);
	size_t n = strtoul(argv[4], NULL, 0);
	uint64_t seed = strtoull(argv[5], NULL, 0) | 1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0) { perror(path); return 1; }

	/* everything the copy needs is allocated and touched before the clock starts */
	uint64_t total = len / PAGE;
	uint64_t *addrs = malloc((n ? n : 1) * sizeof *addrs);
	for (size_t i = 0; i < n; i++) addrs[i] = base + (rnd(&seed) % total) * PAGE;
	qsort(addrs, n, sizeof *addrs, cmp);
	char *buf;
	size_t blen = ((n ? n : 1) * PAGE + HUGE - 1) & ~(HUGE - 1);
	if (posix_memalign((void **)&buf, HUGE, blen)) return 1;
	madvise(buf, blen, MADV_HUGEPAGE); /* a hint: without THP, 4 KiB pages */
	memset(buf, 0, blen);
	struct iovec *l = malloc(IOV_MAX_BATCH * sizeof *l), *r = malloc(IOV_MAX_BATCH * sizeof *r);
	enum { VEC = 4096 };
	struct page_region *vec = calloc(VEC, sizeof *vec);

	int64_t t0 = now_ns();
	uint64_t from = base, regions = 0;
	while (from < base + len) {
		struct pm_scan_arg a = { .size = sizeof a, .start = from, .end = base + len,
			.vec = (uint64_t)(uintptr_t)vec, .vec_len = VEC,
			.category_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT };
		long got = ioctl(fd, PAGEMAP_SCAN, &a);
		if (got < 0) { perror("PAGEMAP_SCAN"); return 1; }
		regions += got;
		if (a.walk_end <= from) break;
		from = a.walk_end;
	}
	int64_t t1 = now_ns();
	size_t done = 0;
	while (done < n) {
		size_t k = n - done < IOV_MAX_BATCH ? n - done : IOV_MAX_BATCH;
		for (size_t i = 0; i < k; i++) {
			l[i].iov_base = buf + (done + i) * PAGE;
			l[i].iov_len = PAGE;
			r[i].iov_base = (void *)(uintptr_t)addrs[done + i];
			r[i].iov_len = PAGE;
		}
		ssize_t got = process_vm_readv(pid, l, k, r, k, 0);
		if (got != (ssize_t)(k * PAGE)) { perror("process_vm_readv"); return 1; }
		done += k;
	}
	int64_t t2 = now_ns();
	printf("{\"scanNs\": %lld, \"copyNs\": %lld, \"pages\": %zu, \"regions\": %llu}\n",
	       (long long)(t1 - t0), (long long)(t2 - t1), n, (unsigned long long)regions);
	return 0;
}
