/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb.h -- daxo-ycsb, a YCSB-style driver: the stores it runs and what the
 * driver hands them.
 *
 * A store is a struct ycsb_store: open an empty store of one value size in
 * a directory, give each worker thread a context, read a key's value into a
 * buffer, put a value (insert or replace), and say what its counters are.
 * Every put must be durable when it returns (bench/README.md, "daxo-ycsb",
 * says how each store makes it so). ycsb_main.c generates the request
 * traces, loads the records, and runs the rows through bench_run.c.
 *
 * The stores other than daxo and libpmemobj are built only when meson finds
 * their library (options `lmdb` and `rocksdb`): their descriptors are weak,
 * and the driver lists those that are linked in.
 */
#ifndef DAXO_BENCH_YCSB_H
#define DAXO_BENCH_YCSB_H 1

#include <stddef.h>
#include <stdint.h>

#include "bench.h"
/* struct daxo_get_req: the driver's read request, for every store */
#include "daxo.h"

/* the store's view of the run */
struct ycsb_params {
	uint64_t records; /* keys the store will hold */
	size_t klen;	  /* every key's length */
	size_t vsize;	  /* every value's length */
	int max_threads;  /* most worker threads at once */
};

struct ycsb_store {
	const char *name;
	/* open an empty store under @dir (the store names its own files
	 * with bench_pool_path). 0 or -errno with a message in err. */
	int (*open)(void **st, const char *dir, const struct ycsb_params *p,
		    char *err, size_t errlen);
	/* close it and remove its files */
	void (*close)(void *st);
	/* a worker thread's context, made and freed on the main thread */
	int (*thread_init)(void *st, void **tctx, char *err, size_t errlen);
	void (*thread_fini)(void *st, void *tctx);
	/* copy the value of @key into @buf (at most @cap bytes), its full
	 * length into *@vlen: 0, -ENOENT, or another -errno */
	int (*read)(void *tctx, const void *key, size_t klen, void *buf,
		    size_t cap, size_t *vlen);
	/* reads of @n keys at once (--batch): each request's rc, vlen and
	 * buffer set as read() would. May be NULL: the driver then calls
	 * read() for each, as a program would. */
	int (*read_many)(void *tctx, struct daxo_get_req *q, size_t n);
	/* insert or replace, durable on return: 0 or -errno */
	int (*put)(void *tctx, const void *key, size_t klen, const void *val,
		   size_t vlen);
	/* after the load (untimed): settle, e.g. compact. May be NULL. */
	int (*loaded)(void *st, char *err, size_t errlen);
	/* the calling thread's counters (monotonic); message of the calling
	 * thread's last failure */
	void (*counts)(struct bench_counts *out);
	const char *(*errmsg)(void);
	const char *count_source;
	int counts_libpmem;
};

extern const struct ycsb_store ycsb_daxo;
extern const struct ycsb_store ycsb_pmemobj;
/* built when their libraries are found */
extern const struct ycsb_store ycsb_lmdb __attribute__((weak));
extern const struct ycsb_store ycsb_rocksdb __attribute__((weak));

/* counters of a store with none: zeros */
void ycsb_no_counts(struct bench_counts *out);

#endif
