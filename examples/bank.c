/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bank.c -- bank transfers in persistent memory: accounts in the root
 * object, each transfer a transaction, a transaction history kept as a
 * linked list of records allocated in the same transaction.
 *
 *   bank POOL init N AMOUNT     create the pool with N accounts
 *   bank POOL transfer A B AMT  move AMT from account A to B
 *   bank POOL random COUNT      COUNT random transfers
 *   bank POOL show              balances, total and the last transfers
 *
 * The total never changes, whatever moment the program is killed at: run
 * `bank POOL random 1000000` and kill -9 it, then `bank POOL show`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <daxo.h>

#define MAX_ACCOUNTS 1024
#define TYPE_RECORD 1

struct bank {
	uint64_t naccounts;
	uint64_t ntransfers;
	daxo_oid history; /* newest record first */
	uint64_t balance[MAX_ACCOUNTS];
};

struct record {
	daxo_oid next;
	uint64_t from, to, amount, seq;
};

static int die(const char *what, int err)
{
	fprintf(stderr, "bank: %s: %s (%s)\n", what, daxo_strerror(err),
		daxo_errormsg());
	return 1;
}

/* transfer -- one transaction: two balances, the counter, a new record */
static int transfer(daxo_pool *p, struct bank *b, uint64_t from, uint64_t to,
		    uint64_t amount)
{
	daxo_tx *tx;
	daxo_oid rec;
	int ret;

	if (from >= b->naccounts || to >= b->naccounts)
		return -EINVAL;
	if (b->balance[from] < amount)
		return -ENOSPC;
	ret = daxo_tx_begin(p, &tx);
	if (ret)
		return ret;
	/* undo style for the balances: snapshot, then change in place */
	if ((ret = daxo_tx_add_range(tx, &b->balance[from], 8)) ||
	    (ret = daxo_tx_add_range(tx, &b->balance[to], 8)))
		goto abort;
	b->balance[from] -= amount;
	b->balance[to] += amount;
	/* a new object belongs to the transaction: fill it directly */
	if ((ret = daxo_tx_alloc(tx, sizeof(struct record), TYPE_RECORD, &rec)))
		goto abort;
	struct record *r = daxo_direct(p, rec);
	*r = (struct record){b->history, from, to, amount, b->ntransfers + 1};
	/* redo style for the list head and the counter */
	uint64_t n = b->ntransfers + 1;
	if ((ret = daxo_tx_write(tx, &b->history, &rec, sizeof(rec))) ||
	    (ret = daxo_tx_write(tx, &b->ntransfers, &n, sizeof(n))))
		goto abort;
	return daxo_tx_commit(tx);
abort:
	daxo_tx_abort(tx);
	return ret;
}

static void show(daxo_pool *p, struct bank *b)
{
	uint64_t total = 0;

	for (uint64_t i = 0; i < b->naccounts; i++) {
		printf("account %3" PRIu64 ": %" PRIu64 "\n", i, b->balance[i]);
		total += b->balance[i];
	}
	printf("total: %" PRIu64 " in %" PRIu64 " accounts, %" PRIu64
	       " transfers\n",
	       total, b->naccounts, b->ntransfers);
	int n = 0;
	for (daxo_oid o = b->history; o && n < 5; n++) {
		struct record *r = daxo_direct(p, o);
		printf("  #%" PRIu64 ": %" PRIu64 " -> %" PRIu64 ": %" PRIu64 "\n",
		       r->seq, r->from, r->to, r->amount);
		o = r->next;
	}
}

int main(int argc, char **argv)
{
	daxo_pool *p;
	daxo_oid root;
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: bank POOL init N AMOUNT | transfer A B "
				"AMT | random COUNT | show\n");
		return 2;
	}
	if (!strcmp(argv[2], "init")) {
		if (argc != 5)
			return 2;
		uint64_t n = strtoull(argv[3], NULL, 0);
		uint64_t amount = strtoull(argv[4], NULL, 0);
		if (n == 0 || n > MAX_ACCOUNTS)
			return die("init", -EINVAL);
		if ((ret = daxo_create(argv[1], "bank", 32 << 20, 0644, &p)))
			return die("create", ret);
		if ((ret = daxo_root(p, sizeof(struct bank), &root)))
			return die("root", ret);
		struct bank *b = daxo_direct(p, root);
		daxo_tx *tx;
		if ((ret = daxo_tx_begin(p, &tx)))
			return die("tx", ret);
		daxo_tx_add_range(tx, b, sizeof(*b));
		b->naccounts = n;
		for (uint64_t i = 0; i < n; i++)
			b->balance[i] = amount;
		if ((ret = daxo_tx_commit(tx)))
			return die("commit", ret);
		show(p, b);
		return daxo_close(p) ? 1 : 0;
	}
	if ((ret = daxo_open(argv[1], "bank", 0, &p)))
		return die("open", ret);
	if ((ret = daxo_root(p, sizeof(struct bank), &root)))
		return die("root", ret);
	struct bank *b = daxo_direct(p, root);
	if (!strcmp(argv[2], "transfer") && argc == 6) {
		ret = transfer(p, b, strtoull(argv[3], NULL, 0),
			       strtoull(argv[4], NULL, 0),
			       strtoull(argv[5], NULL, 0));
		if (ret)
			return die("transfer", ret);
	} else if (!strcmp(argv[2], "random") && argc == 4) {
		uint64_t count = strtoull(argv[3], NULL, 0);
		for (uint64_t i = 0; i < count; i++) {
			uint64_t from = (uint64_t)rand() % b->naccounts;
			uint64_t to = (uint64_t)rand() % b->naccounts;
			uint64_t amt = b->balance[from] / 3;
			ret = transfer(p, b, from, to, amt);
			if (ret == -ENOSPC && daxo_first(p, TYPE_RECORD)) {
				printf("pool full of history: stopping\n");
				break;
			}
			if (ret)
				return die("transfer", ret);
		}
	} else if (strcmp(argv[2], "show") != 0) {
		fprintf(stderr, "bank: unknown command '%s'\n", argv[2]);
		return 2;
	}
	show(p, b);
	return daxo_close(p) ? 1 : 0;
}
