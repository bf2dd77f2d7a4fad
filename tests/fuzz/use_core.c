/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * use_core.c -- open-then-use mutation fuzzing (use_core.h): the base pool,
 * the model of what was put, the mutations, and the use with its oracles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "tx.h"
#include "use_core.h"

#define UC_SIZE	     (16ull << 20)
#define UC_NKEYS     300u
#define UC_NPROBE    16u
#define UC_MAXVER    8u
#define UC_NUSER     12u
#define UC_NNEW	     6u
#define UC_TYPE_USER 7u
#define UC_TYPE_NEW  9u
#define UC_VMAX	     2200u

/* ---- the model ---- */

struct uc_key {
	uint8_t nver;  /* versions ever put: 0 .. nver - 1 */
	int8_t latest; /* the version there; -1: deleted */
	bool unsure;   /* a write failed: any version, or gone */
};

static const uint32_t user_size[UC_NUSER] = {
    64, 100, 200, 1000, 4000, 20000, 100000, 300000, 64, 512, 2048, 700000};

struct uc_obj {
	uint64_t off, size;
};

static struct {
	char path[160];
	uint8_t *base; /* the pool's bytes */
	uint8_t *map;  /* the pool file, mapped */
	struct uc_key keys[UC_NKEYS];
	struct uc_obj user[UC_NUSER];
	uint64_t root; /* the root object (it holds the user objects' oids) */
	/* instances of the targets */
	struct uc_obj *inst[UC_T_NTARGETS];
	size_t ninst[UC_T_NTARGETS];
	/* oids to plant: every object of the base, and freed entries */
	uint64_t *oids;
	size_t noids;
	uint32_t ent_hdr; /* an entry's header size (its key follows) */
	bool checksums;	  /* value checksums */
} B;

/* uc_mix -- splitmix64 */
static uint64_t uc_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t uc_key(unsigned i, char *k)
{
	if (i < UC_NKEYS)
		return (size_t)sprintf(k, "k%05u", i);
	return (size_t)sprintf(k, "probe%04u", i - UC_NKEYS);
}

/* uc_val -- version @j of key @i's value: its length, bytes into @v */
static size_t uc_val(unsigned i, unsigned j, uint8_t *v)
{
	uint64_t h = uc_mix((uint64_t)i << 8 | j);
	/* version 1 of every tenth key keeps version 0's length: in place */
	size_t len = (size_t)(uc_mix((uint64_t)i << 8 |
				     (j == 1 && i % 10 == 0 ? 0 : j)) %
			      600);

	if (h % 16 == 0)
		len = 1500 + (size_t)(h % 600); /* above TX_FILL_INLINE */
	for (size_t k = 0; k < len; k++)
		v[k] = (uint8_t)(uc_mix(h + k / 8) >> (k % 8 * 8));
	return len;
}

static uint8_t uc_pat(unsigned obj, uint64_t off)
{
	return (uint8_t)(uc_mix((uint64_t)obj << 32 | (off / 8)) >>
			 (off % 8 * 8));
}

/* ---- the base pool ---- */

static void uc_inst(enum uc_target t, uint64_t off, uint64_t size)
{
	B.inst[t] = realloc(B.inst[t], (B.ninst[t] + 1) * sizeof(*B.inst[t]));
	B.inst[t][B.ninst[t]++] = (struct uc_obj){off, size};
}

static void uc_oid(uint64_t oid)
{
	B.oids = realloc(B.oids, (B.noids + 1) * sizeof(*B.oids));
	B.oids[B.noids++] = oid;
}

static int uc_put(daxo_pool *p, unsigned i, unsigned j)
{
	char k[16];
	uint8_t v[UC_VMAX];
	size_t kl = uc_key(i, k), vl = uc_val(i, j, v);

	return daxo_put(p, k, kl, v, vl);
}

/* uc_entries -- the entries of the store, sorted as daxo_next gives them */
static size_t uc_entries(daxo_pool *p, uint64_t **out)
{
	size_t n = 0;

	*out = NULL;
	for (daxo_oid o = daxo_first(p, KV_TYPE_ENTRY); o;
	     o = daxo_next(p, o, KV_TYPE_ENTRY)) {
		*out = realloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = o;
	}
	return n;
}

static bool uc_has(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* uc_targets -- find the instances of each target in the closed base */
static void uc_targets(daxo_pool *p)
{
	const struct pool_hdr *h = (const struct pool_hdr *)B.base;
	struct heap_geom g;

	uc_inst(UC_T_HDR, 0, POOL_HDR_SIZE);
	uc_inst(UC_T_HDR, POOL_HDR_COPY_OFF, POOL_HDR_SIZE);
	uc_inst(UC_T_META, POOL_META_OFF, 32);
	for (uint32_t l = 0; l < h->nlanes; l++) {
		uint64_t lo = h->lanes_off + (uint64_t)l * h->lane_size;
		const uint64_t *w = (const uint64_t *)(B.base + lo);
		bool used = false;
		for (unsigned s = 0; s < pool_lane_slots(h) && !used; s++)
			used = w[s * TX_SLOT_SIZE / 8] != 0;
		if (used)
			uc_inst(UC_T_LANE, lo, h->lane_size);
	}
	heap_geom_of(h, &g);
	uc_inst(UC_T_CHUNK, g.heap_off, g.nchunks * g.ent_size);
	for (uint64_t i = 0; i < g.nchunks;) {
		struct chdr d;
		if (!heap_chdr_decode(&g, i,
				      *(const uint64_t *)(B.base +
							  heap_chdr_off(&g, i)),
				      &d))
			d.span = 0;
		if (d.kind == CHUNK_RUN && d.arg < g.nclasses) {
			struct run_geom rg;
			heap_run_geom(&g, d.arg, &rg);
			uc_inst(UC_T_RUN, heap_chunk_off(&g, i), rg.slots_off);
		}
		i += d.span ? d.span : 1;
	}
	for (daxo_oid o = daxo_first(p, DAXO_TYPE_ANY); o;
	     o = daxo_next(p, o, DAXO_TYPE_ANY)) {
		uint32_t t = daxo_oid_type(p, o);
		uc_oid(o);
		if (t == KV_TYPE_ANCHOR)
			uc_inst(UC_T_ANCHOR, o, sizeof(struct kv_anchor));
		if (t == KV_TYPE_TABLE) {
			const struct kv_table *kt = daxo_direct(p, o);
			uc_inst(UC_T_TABLE, o,
				64 + 8 * (kt->nbuckets & ((1ull << 48) - 1)));
		}
		if (t == KV_TYPE_ENTRY) {
			const struct kv_entry *e = daxo_direct(p, o);
			uc_inst(UC_T_ENTRY, o, B.ent_hdr);
			uc_inst(UC_T_KEY, o + B.ent_hdr, e->klen);
			/* without checksums a value's bytes are the user's:
			 * any bytes there are an answer */
			if (B.checksums && e->vlen)
				uc_inst(
				    UC_T_VALUE,
				    o + ALIGN_UP(B.ent_hdr + e->klen, 64ull),
				    e->vlen);
		}
	}
}

int uc_init(const char *path, bool checksums)
{
	struct daxo_create_opts opts = {
	    .flags = checksums ? DAXO_CREATE_CHECKSUMS : 0};
	daxo_pool *p;
	daxo_oid root;
	uint64_t *before = NULL, *after = NULL;
	size_t nb, na;
	int fd;

	memset(&B, 0, sizeof(B));
	snprintf(B.path, sizeof(B.path), "%s", path);
	unlink(path);
	B.checksums = checksums;
	B.ent_hdr =
	    (uint32_t)kv_koff(kv_fmt_of(checksums ? POOL_INCOMPAT_KV_CSUM : 0));
	if (daxo_pool_create(path, "use", UC_SIZE, 0600, &opts, &p) ||
	    daxo_root(p, UC_NUSER * 8, &root))
		goto fail;
	uint64_t *r = daxo_direct(p, root);
	B.root = root;
	for (unsigned i = 0; i < UC_NUSER; i++) {
		if (daxo_alloc(p, user_size[i], UC_TYPE_USER, &r[i]))
			goto fail;
		uint8_t *o = daxo_direct(p, r[i]);
		for (uint64_t k = 0; k < user_size[i]; k++)
			o[k] = uc_pat(i, k);
		daxo_persist(p, o, user_size[i]);
		B.user[i] = (struct uc_obj){r[i], user_size[i]};
	}
	for (unsigned i = 0; i < UC_NKEYS; i++) {
		if (uc_put(p, i, 0))
			goto fail;
		B.keys[i] = (struct uc_key){1, 0, false};
	}
	nb = uc_entries(p, &before);
	/* replaced (some in place), then deleted: freed entries to plant */
	for (unsigned i = 0; i < UC_NKEYS; i += 5) {
		if (uc_put(p, i, 1))
			goto fail;
		B.keys[i].nver = 2;
		B.keys[i].latest = 1;
	}
	for (unsigned i = 3; i < UC_NKEYS; i += 7) {
		char k[16];
		if (daxo_del(p, k, uc_key(i, k)))
			goto fail;
		B.keys[i].latest = -1;
	}
	na = uc_entries(p, &after);
	for (size_t i = 0; i < nb; i++)
		if (!uc_has(after, na, before[i]))
			uc_oid(before[i]);
	free(before);
	free(after);
	daxo_close(p);

	fd = open(path, O_RDWR);
	B.base = malloc(UC_SIZE);
	if (fd < 0 || !B.base ||
	    pread(fd, B.base, UC_SIZE, 0) != (ssize_t)UC_SIZE) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	B.map = mmap(NULL, UC_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (B.map == MAP_FAILED)
		return -1;
	if (daxo_open(path, "use", DAXO_RDONLY, &p))
		return -1;
	uc_targets(p);
	daxo_close(p);
	return 0;
fail:
	fprintf(stderr, "use_core: making the base pool: %s\n",
		daxo_errormsg());
	return -1;
}

void uc_fini(void)
{
	if (B.map && B.map != MAP_FAILED)
		munmap(B.map, UC_SIZE);
	free(B.base);
	for (unsigned t = 0; t < UC_T_NTARGETS; t++)
		free(B.inst[t]);
	free(B.oids);
	unlink(B.path);
	memset(&B, 0, sizeof(B));
}

static void uc_restore(void)
{
	for (uint64_t o = 0; o < UC_SIZE; o += 65536)
		if (memcmp(B.map + o, B.base + o, 65536))
			memcpy(B.map + o, B.base + o, 65536);
}

/* ---- mutations ---- */

static const char *const uc_tnames[UC_T_NTARGETS] = {
    "header", "meta",	"lanes",   "chunks", "runs",
    "anchor", "tables", "entries", "keys",   "values"};
static unsigned uc_allowed[UC_T_NTARGETS], uc_nallowed;

const char *uc_target_name(unsigned t)
{
	return t < UC_T_NTARGETS ? uc_tnames[t] : "?";
}

void uc_targets_only(unsigned mask)
{
	uc_nallowed = 0;
	for (unsigned t = 0; t < UC_T_NTARGETS; t++)
		if (!mask || (mask & (1u << t)))
			uc_allowed[uc_nallowed++] = t;
}

int uc_targets_parse(const char *list, bool skip)
{
	char buf[256], *save = NULL;
	unsigned mask = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *w = strtok_r(buf, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		unsigned t = 0;
		while (t < UC_T_NTARGETS && strcmp(w, uc_tnames[t]) != 0)
			t++;
		if (t == UC_T_NTARGETS)
			return -1;
		mask |= 1u << t;
	}
	return (int)(skip ? ~mask & ((1u << UC_T_NTARGETS) - 1) : mask);
}

static void uc_apply(const struct uc_mut *m)
{
	unsigned t;

	if (!uc_nallowed)
		uc_targets_only(0);
	t = uc_allowed[m->target % uc_nallowed];
	const struct uc_obj *in;
	uint64_t at, w;

	if (!B.ninst[t])
		return;
	in = &B.inst[t][m->pick % B.ninst[t]];
	if (!in->size)
		return;
	at = in->off + m->off % in->size;
	/* word kinds: the aligned word, if it lies inside the instance */
	uint64_t wat = in->off + (m->off % in->size & ~7ull);
	bool word = wat + 8 <= in->off + in->size;
	memcpy(&w, B.map + (word ? wat : 0), 8);

	switch (m->kind % UC_K_NKINDS) {
	case UC_K_FLIP:
		B.map[at] ^= (uint8_t)(1u << (m->val % 8));
		return;
	case UC_K_BYTE:
		B.map[at] = (uint8_t)m->val;
		return;
	case UC_K_ZERO:
		w = 0;
		break;
	case UC_K_WORD:
		w = m->val;
		break;
	case UC_K_OID: {
		uint64_t o = B.oids[(m->val >> 8) % B.noids];
		/* mostly the oid itself, else a little off it */
		static const int64_t d[8] = {0, 0, 0, 0, 8, -8, 64, -64};
		/* keep the word's high bits where links keep a tag */
		w = (w & ~((1ull << 48) - 1)) | (o + (uint64_t)d[m->val % 8]);
		break;
	}
	case UC_K_COPY: {
		const struct uc_obj *src =
		    &B.inst[t][(m->val >> 8) % B.ninst[t]];
		uint64_t len = 8 + m->val % 57, o = m->off % in->size;
		if (o + len > in->size)
			len = in->size - o;
		if (o + len > src->size)
			len = src->size > o ? src->size - o : 0;
		memmove(B.map + in->off + o, B.map + src->off + o, len);
		return;
	}
	default: /* UC_K_ADD */
		w += (uint64_t)((int64_t)(m->val % 33) - 16);
		break;
	}
	if (word)
		memcpy(B.map + wat, &w, 8);
}

/* ---- use and oracles ---- */

static const int uc_codes[UC_NCODES] = {
    EUCLEAN, EIO,     ENOSPC, EINVAL, EPROTONOSUPPORT, EBUSY, ENOMEM,  EROFS,
    EDEADLK, ENOBUFS, EEXIST, ENOENT, EAGAIN,	       ELOOP, ENOTSUP, 0};

const char *uc_code_name(unsigned i)
{
	static const char *const n[UC_NCODES] = {
	    "EUCLEAN",	       "EIO",	  "ENOSPC",  "EINVAL",
	    "EPROTONOSUPPORT", "EBUSY",	  "ENOMEM",  "EROFS",
	    "EDEADLK",	       "ENOBUFS", "EEXIST",  "ENOENT",
	    "EAGAIN",	       "ELOOP",	  "ENOTSUP", "other"};

	return i < UC_NCODES ? n[i] : "?";
}

struct uc_ctx {
	daxo_pool *p;
	struct uc_result *r;
	struct uc_key keys[UC_NKEYS];
	struct uc_obj fresh[UC_NNEW]; /* objects the use allocated */
	unsigned nfresh;
	/* foreach */
	uint8_t seen[UC_NKEYS];
	uint64_t calls;
};

unsigned uc_code_slot(int rc)
{
	for (unsigned i = 0; i < UC_NCODES - 1; i++)
		if (-rc == uc_codes[i])
			return i;
	return UC_NCODES - 1;
}

/* uc_rc -- count a call's result; @rc is returned */
static int uc_rc(struct uc_ctx *c, int rc)
{
	c->r->calls++;
	if (rc < 0)
		c->r->refused[uc_code_slot(rc)]++;
	return rc;
}

__attribute__((format(printf, 3, 4))) static void
uc_fail(struct uc_ctx *c, uint64_t *counter, const char *fmt, ...)
{
	va_list ap;

	(*counter)++;
	if (c->r->what[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->r->what, sizeof(c->r->what), fmt, ap);
	va_end(ap);
}

/*
 * uc_judge -- the value @v (@len bytes) was given for key @i: wrong unless
 * some version was put; stale unless it is the one there
 */
static void uc_judge(struct uc_ctx *c, unsigned i, const void *v, size_t len,
		     const char *how)
{
	uint8_t want[UC_VMAX];

	if (i >= UC_NKEYS) {
		uc_fail(c, &c->r->wrong, "%s: a value for probe key %u", how,
			i - UC_NKEYS);
		return;
	}
	const struct uc_key *k = &c->keys[i];
	for (unsigned j = 0; j < k->nver; j++) {
		size_t wl = uc_val(i, j, want);
		if (wl == len && memcmp(want, v, len) == 0) {
			if (!k->unsure && (int)j != k->latest)
				c->r->stale++;
			return;
		}
	}
	uc_fail(c, &c->r->wrong,
		"%s: key k%05u: %zu bytes that were never put for it", how, i,
		len);
}

struct uc_view {
	struct uc_ctx *c;
	unsigned i;
};

static int uc_view_cb(const void *v, size_t len, void *arg)
{
	struct uc_view *w = arg;

	uc_judge(w->c, w->i, v, len, "daxo_get_view");
	return 0;
}

/* uc_gets -- every key and every probe key, against the model */
static void uc_gets(struct uc_ctx *c, const char *when)
{
	static uint8_t buf[UC_VMAX];
	char k[16];

	for (unsigned i = 0; i < UC_NKEYS + UC_NPROBE; i++) {
		size_t kl = uc_key(i, k), got = 0;
		int rc;
		if (i % 8 == 7) {
			struct uc_view w = {c, i};
			rc = uc_rc(c,
				   daxo_get_view(c->p, k, kl, uc_view_cb, &w));
		} else {
			rc = uc_rc(
			    c, daxo_get(c->p, k, kl, buf, sizeof(buf), &got));
			if (rc == 0)
				uc_judge(c, i, buf, got, when);
			else if (rc == -ENOBUFS)
				uc_fail(c, &c->r->wrong,
					"%s: key %s: %zu bytes, more than "
					"ever put",
					when, k, got);
		}
		if (rc == -ENOENT && i < UC_NKEYS && c->keys[i].latest >= 0 &&
		    !c->keys[i].unsure)
			c->r->lost++;
		if (rc == 0 && i < UC_NKEYS && c->keys[i].latest < 0 &&
		    !c->keys[i].unsure)
			c->r->stale++;
	}
}

static int uc_each_cb(const void *key, size_t klen, const void *v, size_t vlen,
		      void *arg)
{
	struct uc_ctx *c = arg;
	char k[16];
	unsigned i;

	if (++c->calls > 4 * (UC_NKEYS + UC_NPROBE)) {
		uc_fail(c, &c->r->wrong, "daxo_foreach: %llu callbacks",
			(unsigned long long)c->calls);
		return -ELOOP;
	}
	char got[16];
	if (klen >= sizeof(got))
		klen = sizeof(got) - 1; /* cannot be a key: no match below */
	memcpy(got, key, klen);
	got[klen] = 0;
	if (sscanf(got, "k%05u", &i) != 1 || i >= UC_NKEYS ||
	    uc_key(i, k) != klen || memcmp(k, key, klen) != 0) {
		uc_fail(c, &c->r->wrong,
			"daxo_foreach: a key never put (%zu bytes)", klen);
		return 0;
	}
	if (c->seen[i]++)
		uc_fail(c, &c->r->wrong, "daxo_foreach: key k%05u twice", i);
	uc_judge(c, i, v, vlen, "daxo_foreach");
	return 0;
}

static void uc_each(struct uc_ctx *c)
{
	memset(c->seen, 0, sizeof(c->seen));
	c->calls = 0;
	uc_rc(c, daxo_foreach(c->p, uc_each_cb, c));
}

/*
 * uc_objects -- daxo_root names the root object (or fails); the user
 * objects' bytes are as in the base, the new ones' as written
 */
static void uc_objects(struct uc_ctx *c, const char *when)
{
	daxo_oid root = 0;

	int r = uc_rc(c, daxo_root(c->p, 0, &root));
	if ((r == 0 && root != B.root) || r == -ENOENT)
		uc_fail(c, &c->r->wrong,
			"%s: daxo_root answered %d, %llu; the root is at %llu",
			when, r, (unsigned long long)root,
			(unsigned long long)B.root);
	for (unsigned i = 0; i < UC_NUSER; i++) {
		uint64_t off = B.user[i].off;
		if (memcmp(B.map + off, B.base + off, B.user[i].size))
			uc_fail(c, &c->r->reuse,
				"%s: user object %u at %llu changed", when, i,
				(unsigned long long)off);
	}
	for (unsigned i = 0; i < c->nfresh; i++) {
		const uint8_t *o = B.map + c->fresh[i].off;
		for (uint64_t k = 0; k < c->fresh[i].size; k++)
			if (o[k] != uc_pat(100 + i, k)) {
				uc_fail(c, &c->r->reuse,
					"%s: new object %u at %llu changed",
					when, i,
					(unsigned long long)c->fresh[i].off);
				break;
			}
	}
}

static bool uc_overlap(const struct uc_obj *a, uint64_t off, uint64_t size)
{
	return off < a->off + a->size && a->off < off + size;
}

/* uc_alloc -- a new object: never over a live one */
static void uc_alloc(struct uc_ctx *c, uint64_t size)
{
	daxo_oid o = 0;

	if (uc_rc(c, daxo_alloc(c->p, size, UC_TYPE_NEW, &o)) || !o)
		return;
	if (o < ((const struct pool_hdr *)B.base)->heap_off ||
	    o + size > UC_SIZE) {
		uc_fail(c, &c->r->reuse, "daxo_alloc: %llu outside the heap",
			(unsigned long long)o);
		return;
	}
	for (unsigned i = 0; i < UC_NUSER; i++)
		if (uc_overlap(&B.user[i], o, size))
			uc_fail(c, &c->r->reuse,
				"daxo_alloc: %llu + %llu over user object %u",
				(unsigned long long)o, (unsigned long long)size,
				i);
	for (unsigned i = 0; i < c->nfresh; i++)
		if (uc_overlap(&c->fresh[i], o, size))
			uc_fail(c, &c->r->reuse,
				"daxo_alloc: %llu + %llu over new object %u",
				(unsigned long long)o, (unsigned long long)size,
				i);
	if (c->nfresh == UC_NNEW)
		return;
	uint8_t *d = daxo_direct(c->p, o);
	for (uint64_t k = 0; k < size; k++)
		d[k] = uc_pat(100 + c->nfresh, k);
	daxo_persist(c->p, d, size);
	c->fresh[c->nfresh++] = (struct uc_obj){o, size};
}

/* uc_writes -- replace, add and delete keys, allocate, as the model says */
static void uc_writes(struct uc_ctx *c)
{
	static const uint64_t sizes[UC_NNEW] = {64,  1000, 300000,
						100, 4000, 128};

	for (unsigned i = 1; i < UC_NKEYS; i += 9) {
		struct uc_key *k = &c->keys[i];
		if (k->nver >= UC_MAXVER)
			continue;
		int rc = uc_rc(c, uc_put(c->p, i, k->nver));
		k->nver++;
		if (rc == 0) {
			k->latest = (int8_t)(k->nver - 1);
			k->unsure = false;
		} else {
			k->unsure = true;
		}
	}
	for (unsigned i = 2; i < UC_NKEYS; i += 23) {
		char key[16];
		int rc = uc_rc(c, daxo_del(c->p, key, uc_key(i, key)));
		if (rc == 0) {
			c->keys[i].latest = -1;
			c->keys[i].unsure = false;
		} else if (rc != -ENOENT) {
			c->keys[i].unsure = true;
		}
	}
	for (unsigned i = 0; i < UC_NNEW; i++)
		uc_alloc(c, sizes[i]);
}

void uc_run(const struct uc_mut *m, size_t n, struct uc_result *r)
{
	static struct uc_ctx c;

	memset(r, 0, sizeof(*r));
	memset(&c, 0, sizeof(c));
	c.r = r;
	memcpy(c.keys, B.keys, sizeof(c.keys));
	uc_restore();
	for (size_t i = 0; i < n; i++)
		uc_apply(&m[i]);

	r->open_rc = daxo_open(B.path, NULL, 0, &c.p);
	uc_rc(&c, r->open_rc);
	if (r->open_rc == 0) {
		uc_gets(&c, "daxo_get");
		uc_each(&c);
		uc_writes(&c);
		uc_gets(&c, "daxo_get after writes");
		uc_each(&c);
		uc_objects(&c, "after writes");
		uc_rc(&c, daxo_close(c.p));
		c.p = NULL;
		if (uc_rc(&c, daxo_open(B.path, NULL, 0, &c.p)) == 0) {
			uc_gets(&c, "daxo_get after reopen");
			uc_each(&c);
			uc_objects(&c, "after reopen");
			uc_rc(&c, daxo_close(c.p));
		}
	}
	/* the checker, on whatever is left: it must not crash or hang */
	r->calls++;
	(void)daxo_check(B.path, 0, NULL, NULL);
}
