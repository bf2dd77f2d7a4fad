/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * counter.c -- a durable counter: each run adds one to a number kept in the
 * pool's root object and prints the new value.
 *
 *   $ counter /dev/shm/counter.pool
 *   counter: 1
 *   $ counter /dev/shm/counter.pool
 *   counter: 2
 *
 * The pool is created (8 MiB, layout "counter") if it does not exist. The
 * increment is a transaction: after a crash at any moment the stored value
 * is either the old one or the new one, never a torn mix, and a value that
 * was printed is durable (daxo_tx_commit returned 0 before the print).
 *
 * Build against an installed libdaxo:
 *   cc -o counter counter.c $(pkg-config --cflags --libs daxo)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <daxo.h>

#define LAYOUT "counter"

/* the root object: what the program keeps in the pool */
struct counter_root {
	uint64_t count;
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "counter: %s: %s\n", what,
		*daxo_errormsg() ? daxo_errormsg() : daxo_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	struct counter_root *root;
	daxo_pool *pool;
	daxo_oid oid;
	daxo_tx *tx;
	uint64_t next;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: counter POOL\n");
		return 2;
	}

	ret = daxo_open(argv[1], LAYOUT, 0, &pool);
	if (ret == -ENOENT)
		ret = daxo_create(argv[1], LAYOUT, DAXO_MIN_POOL_SIZE, 0644,
				  &pool);
	if (ret)
		return fail("open", ret);

	/* allocated and zeroed by the first call, found again afterwards */
	ret = daxo_root(pool, sizeof(*root), &oid);
	if (ret) {
		fail("root", ret);
		daxo_close(pool);
		return 1;
	}
	root = daxo_direct(pool, oid);

	/* one staged 8-byte write, applied and made durable at commit */
	next = root->count + 1;
	ret = daxo_tx_begin(pool, &tx);
	if (ret == 0) {
		ret = daxo_tx_write(tx, &root->count, &next, sizeof(next));
		if (ret) {
			daxo_tx_abort(tx);
		} else {
			ret = daxo_tx_commit(tx);
		}
	}
	if (ret) {
		fail("transaction", ret);
		daxo_close(pool);
		return 1;
	}

	printf("counter: %" PRIu64 "\n", root->count);
	return daxo_close(pool) ? 1 : 0;
}
