/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crash_in_tx.c -- test helper: leave a pool that needs recovery.
 *
 * usage: crash_in_tx POOL LAYOUT
 * Opens POOL, sets its root's first 8 bytes to 0x1111111111111111 (durably,
 * in its own transaction), then begins a second transaction, snapshots the
 * root with daxo_tx_add_range, overwrites it with 0x2222222222222222,
 * persists the new bytes and kills itself with SIGKILL before committing.
 * The next open must roll the root back to 0x1111... and report one
 * recovered log. Exits non-zero (instead of dying) if anything fails first.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daxo.h"

int main(int argc, char **argv)
{
	const uint64_t before = 0x1111111111111111ull;
	const uint64_t after = 0x2222222222222222ull;
	daxo_pool *p;
	daxo_oid oid;
	daxo_tx *tx;
	uint64_t *r;

	if (argc != 3) {
		fprintf(stderr, "usage: crash_in_tx POOL LAYOUT\n");
		return 2;
	}
	if (daxo_open(argv[1], argv[2], 0, &p) || daxo_root(p, 64, &oid) ||
	    !(r = daxo_direct(p, oid)) || daxo_tx_begin(p, &tx) ||
	    daxo_tx_write(tx, r, &before, sizeof(before)) ||
	    daxo_tx_commit(tx) || daxo_tx_begin(p, &tx) ||
	    daxo_tx_add_range(tx, r, sizeof(*r))) {
		fprintf(stderr, "crash_in_tx: %s\n", daxo_errormsg());
		return 1;
	}
	memcpy(r, &after, sizeof(after));
	/* the torn state is on the media: only the undo log can repair it */
	daxo_persist(p, r, sizeof(*r));
	raise(SIGKILL);
	return 1;
}
