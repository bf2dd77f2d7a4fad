/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * load.c -- `daxo load POOL`: read the JSON that `daxo dump POOL --json`
 * writes from stdin and put every entry into the pool's keyed store
 * (inserting or replacing; keys not in the input are kept unless --clear).
 *
 * The input is streamed: memory holds one entry at a time, never the
 * document. It is read twice: a first pass checks all of it (the document's
 * format and version, every entry's key and value) before the pool is
 * changed; the second stores the entries, each with its own atomic put, so
 * an interrupted load leaves a prefix of the entries loaded. A file on
 * standard input is read again from where it started; a pipe is kept in an
 * unlinked temporary file ($TMPDIR) for the second pass. No dump of the
 * pool can be larger than eight times the pool: longer input is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool clear;

static const struct opt load_opts[] = {
    OPT_BOOL('c', "clear", &clear,
	     "first delete every key that is in the store"),
    OPT_END(),
};

/* the input, read in blocks and parsed a value at a time */
struct in {
	FILE *f;
	FILE *spool;	/* pass 1 of a pipe: a copy of what was read */
	uint64_t off;	/* bytes consumed before buf */
	uint64_t max;	/* bound of the whole input */
	size_t pos, len;
	bool eof;
	struct json_tokener *tok;
	char buf[65536];
};

/* the state of one pass over the document */
struct pass {
	daxo_pool *p; /* NULL: the checking pass */
	const char *path;
	bool format_ok, version_ok, have_entries, have_count;
	int64_t count; /* "count": the entries the dump says it holds */
	size_t n;      /* entries seen */
};

static int in_err(const struct in *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* in_err -- "daxo load: standard input, byte N: ..."; returns -1 */
static int in_err(const struct in *in, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "daxo load: standard input, byte %llu: ",
		(unsigned long long)(in->off + in->pos));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* in_fill -- the next block into buf, when buf is used up; 0 or -1 */
static int in_fill(struct in *in)
{
	size_t n;

	if (in->pos < in->len || in->eof)
		return 0;
	in->off += in->len;
	in->pos = in->len = 0;
	n = fread(in->buf, 1, sizeof(in->buf), in->f);
	if (n == 0) {
		in->eof = true;
		if (ferror(in->f))
			return in_err(in, "cannot read: %s", strerror(errno));
		return 0;
	}
	if (n > in->max - in->off)
		return in_err(in, "the input is longer than any dump of this "
				  "pool can be");
	if (in->spool && fwrite(in->buf, 1, n, in->spool) != n)
		return in_err(in, "cannot keep the input for the second pass: %s",
			      strerror(errno));
	in->len = n;
	return 0;
}

/* in_peek -- the next byte that is not white space, or -1 at the end */
static int in_peek(struct in *in, int *c)
{
	for (;;) {
		if (in_fill(in))
			return -1;
		if (in->pos == in->len) {
			*c = -1;
			return 0;
		}
		*c = (unsigned char)in->buf[in->pos];
		if (!strchr(" \t\r\n", *c))
			return 0;
		in->pos++;
	}
}

/* in_expect -- the next byte must be one of @set: which, in *@c */
static int in_expect(struct in *in, const char *set, int *c)
{
	if (in_peek(in, c))
		return -1;
	if (*c < 0 || !strchr(set, *c))
		return in_err(in, "not a daxo-kv-dump document: expected '%s'",
			      set);
	in->pos++;
	return 0;
}

/* in_value -- parse one JSON value (json-c's tokener, fed block by block) */
static int in_value(struct in *in, struct json_object **out)
{
	json_tokener_reset(in->tok);
	for (;;) {
		enum json_tokener_error e;
		struct json_object *o;

		if (in_fill(in))
			return -1;
		if (in->pos == in->len)
			return in_err(in, "the input ends inside a value");
		o = json_tokener_parse_ex(in->tok, in->buf + in->pos,
					  (int)(in->len - in->pos));
		e = json_tokener_get_error(in->tok);
		if (e == json_tokener_continue) {
			in->pos = in->len;
			continue;
		}
		if (e != json_tokener_success)
			return in_err(in, "not JSON: %s",
				      json_tokener_error_desc(e));
		in->pos += json_tokener_get_parse_end(in->tok);
		*out = o;
		return 0;
	}
}

/* entry -- check (and in the loading pass, store) entry @o */
static int entry(struct in *in, struct pass *ps, struct json_object *o)
{
	struct kvu_buf k = {0}, v = {0};
	int r = json_object_is_type(o, json_type_object)
		    ? kvu_json_get_bytes(o, "key", &k)
		    : -EINVAL;

	if (!r)
		r = kvu_json_get_bytes(o, "value", &v);
	if (!r && (k.len == 0 || k.len > DAXO_KEY_MAX)) {
		fprintf(stderr,
			"daxo load: entry %zu (byte %llu): a key of %zu bytes "
			"(a key is 1 to %u bytes)\n",
			ps->n, (unsigned long long)(in->off + in->pos), k.len,
			DAXO_KEY_MAX);
		r = -EINVAL;
	} else if (r) {
		fprintf(stderr,
			"daxo load: entry %zu (byte %llu): missing or bad key "
			"or value\n",
			ps->n, (unsigned long long)(in->off + in->pos));
	} else if (ps->p) {
		r = daxo_put(ps->p, k.p, k.len, v.p, v.len);
		if (r)
			fprintf(stderr,
				"daxo load: entry %zu: %s\n"
				"daxo load: %zu entries loaded\n",
				ps->n, tool_msg(r), ps->n);
	}
	kvu_buf_free(&k);
	kvu_buf_free(&v);
	ps->n++;
	return r ? -1 : 0;
}

static int entries(struct in *in, struct pass *ps)
{
	struct json_object *o;
	int c, r;

	if (in_expect(in, "[", &c) || in_peek(in, &c))
		return -1;
	if (c == ']') {
		in->pos++;
		return 0;
	}
	do {
		if (in_value(in, &o))
			return -1;
		r = entry(in, ps, o);
		json_object_put(o);
		if (r || in_expect(in, ",]", &c))
			return -1;
	} while (c == ',');
	return 0;
}

/* walk -- one pass over the document: {"name": value, ...} */
static int walk(struct in *in, struct pass *ps)
{
	struct json_object *name, *v;
	int c;

	if (in_peek(in, &c))
		return -1;
	if (c < 0) {
		fprintf(stderr, "daxo load: standard input is empty: expected "
				"a document written by 'daxo dump --json'\n");
		return -1;
	}
	if (in_expect(in, "{", &c))
		return -1;
	do {
		if (in_value(in, &name))
			return -1;
		if (!json_object_is_type(name, json_type_string)) {
			json_object_put(name);
			return in_err(in, "not a daxo-kv-dump document: "
					  "expected a member name");
		}
		if (in_expect(in, ":", &c)) {
			json_object_put(name);
			return -1;
		}
		if (!strcmp(json_object_get_string(name), "entries")) {
			json_object_put(name);
			if (ps->have_entries)
				return in_err(in, "\"entries\" twice");
			ps->have_entries = true;
			if (entries(in, ps))
				return -1;
		} else {
			if (in_value(in, &v)) {
				json_object_put(name);
				return -1;
			}
			if (!strcmp(json_object_get_string(name), "format"))
				ps->format_ok =
				    json_object_is_type(v, json_type_string) &&
				    !strcmp(json_object_get_string(v),
					    "daxo-kv-dump");
			else if (!strcmp(json_object_get_string(name),
					 "version"))
				ps->version_ok =
				    json_object_is_type(v, json_type_int) &&
				    json_object_get_int64(v) == 1;
			else if (!strcmp(json_object_get_string(name),
					 "count")) {
				ps->have_count = true;
				ps->count =
				    json_object_is_type(v, json_type_int)
					? json_object_get_int64(v)
					: -1;
			}
			json_object_put(v);
			json_object_put(name);
		}
		if (in_expect(in, ",}", &c))
			return -1;
	} while (c == ',');
	if (in_peek(in, &c))
		return -1;
	if (c >= 0)
		return in_err(in, "more input after the document");
	if (!ps->format_ok || !ps->version_ok || !ps->have_entries) {
		fprintf(stderr, "daxo load: not a daxo-kv-dump version 1 "
				"document\n");
		return -1;
	}
	/* a dump cut or edited where the JSON still closes: refused whole */
	if (ps->have_count && (ps->count < 0 || (uint64_t)ps->count != ps->n)) {
		fprintf(stderr,
			"daxo load: the document's \"count\" is not its %zu "
			"entries: a cut or edited dump\n",
			ps->n);
		return -1;
	}
	return 0;
}

static int del_all(daxo_pool *p)
{
	struct kvu_item *items;
	size_t n;
	int r = kvu_collect(p, NULL, 0, false, &items, &n);

	for (size_t i = 0; !r && i < n; i++)
		r = daxo_del(p, items[i].key, items[i].klen);
	if (!r)
		kvu_items_free(items, n);
	return r;
}

/* rewind_input -- back to the start for the loading pass */
static int rewind_input(struct in *in, off_t start)
{
	if (in->spool) {
		in->f = in->spool;
		in->spool = NULL;
		if (fflush(in->f) == 0 && fseeko(in->f, 0, SEEK_SET) == 0)
			goto ok;
	} else if (fseeko(in->f, start, SEEK_SET) == 0) {
		goto ok;
	}
	fprintf(stderr, "daxo load: cannot read the input again: %s\n",
		strerror(errno));
	return -1;
ok:
	in->off = in->pos = in->len = 0;
	in->eof = false;
	return 0;
}

/* spool -- an unlinked file in $TMPDIR (or /tmp) for a pipe's input */
static FILE *spool(void)
{
	const char *d = getenv("TMPDIR");
	char name[4096];
	int fd;
	FILE *f;

	if (!d || !*d)
		d = "/tmp";
	fd = open(d, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EOPNOTSUPP) { /* no O_TMPFILE there */
		snprintf(name, sizeof(name), "%s/daxo-load.XXXXXX", d);
		fd = mkostemp(name, O_CLOEXEC);
		if (fd >= 0)
			unlink(name);
	}
	f = fd >= 0 ? fdopen(fd, "w+") : NULL;

	if (!f && fd >= 0)
		close(fd);
	return f;
}

static int load_run(int argc, char **argv)
{
	static struct in in; /* 64 KiB: not on the stack */
	struct pass check = {.path = argv[0]}, load = {.path = argv[0]};
	struct stat st;
	off_t start = -1;
	daxo_pool *p = NULL;
	int r, ret = 1;

	(void)argc;
	/* the bound: the pool file's size (the pool is opened after the
	 * checking pass, so that `daxo dump A | daxo load A` works) */
	in.max = 8 * DAXO_MAX_POOL_SIZE;
	if (stat(argv[0], &st) == 0 && S_ISREG(st.st_mode))
		in.max = 8 * (uint64_t)st.st_size + (1u << 20);
	in.f = stdin;
	in.tok = json_tokener_new();
	if (!in.tok) {
		fprintf(stderr, "daxo load: out of memory\n");
		goto out;
	}
	/* a regular file is read twice; anything else is kept for pass 2 */
	if (fstat(fileno(stdin), &st) == 0 && S_ISREG(st.st_mode))
		start = ftello(stdin);
	if (start < 0 && !(in.spool = spool())) {
		tool_errno("load", "temporary file for the input", errno);
		goto out;
	}
	if (walk(&in, &check) || rewind_input(&in, start))
		goto out;
	p = kvu_open("load", argv[0], false);
	if (!p)
		goto out;
	if (clear && (r = del_all(p))) {
		tool_err("load", argv[0], r);
		goto out;
	}
	load.p = p;
	if (walk(&in, &load))
		goto out;
	ret = 0;
out:
	if (in.tok)
		json_tokener_free(in.tok);
	if (in.spool)
		fclose(in.spool);
	else if (in.f != stdin)
		fclose(in.f);
	if (p && daxo_close(p))
		ret = 1;
	return ret;
}

const struct cmd cmd_load = {
    .name = "load",
    .summary = "import a JSON dump into the keyed store",
    .synopsis = "POOL [--clear] < DUMP.json",
    .about =
	"Read a document written by 'daxo dump POOL --json' from standard\n"
	"input and store each of its entries in the pool's keyed store,\n"
	"replacing values of keys that exist. The input is checked in\n"
	"full before anything is written (a pipe is kept in a temporary\n"
	"file in $TMPDIR for that); each entry is stored atomically.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = load_opts,
    .exits = "0 ok, 1 failed, 2 usage error.",
    .run = load_run,
};
