/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kvutil.h -- helpers for the keyed-store subcommands of the `daxo` tool
 * (put, get, del, ls, dump, load): opening the pool with a message, reading
 * stdin, hex and base64 codecs, UTF-8 checks, and the JSON form of a key or
 * value that dump, load and ls share.
 *
 * JSON form of a byte string (key or value) under the name N:
 *   "N": "text"          if the bytes are valid UTF-8 (NUL bytes allowed,
 *                        escaped as \u0000 by the JSON writer)
 *   "N_base64": "..."    otherwise (RFC 4648, with padding)
 */
#ifndef DAXO_TOOLS_KVUTIL_H
#define DAXO_TOOLS_KVUTIL_H 1

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daxo.h"
#include "opt.h"

/* a growable byte buffer */
struct kvu_buf {
	unsigned char *p;
	size_t len, cap;
};

/* kvu_buf_add -- append; 0 or -ENOMEM */
int kvu_buf_add(struct kvu_buf *b, const void *data, size_t len);
void kvu_buf_free(struct kvu_buf *b);

/*
 * kvu_read_all -- read a whole stream into @b, at most @max bytes: 0,
 * -EFBIG (the stream holds more; what was read is in @b), or -errno
 */
int kvu_read_all(FILE *f, struct kvu_buf *b, size_t max);

/*
 * kvu_open -- open @path (read-only if @rdonly); on failure say why
 * (tool_err) and return NULL.
 */
daxo_pool *kvu_open(const char *cmd, const char *path, bool rdonly);

/* kvu_no_key -- "daxo CMD: KEY: no such key", the key escaped */
void kvu_no_key(const char *cmd, const struct kvu_buf *key);

/*
 * kvu_get -- the value of @key into *@buf (grown with realloc as needed;
 * *@cap is its size), its length in *@vlen. daxo_get's codes, or -ENOMEM.
 */
int kvu_get(daxo_pool *p, const void *key, size_t klen, char **buf,
	    size_t *cap, size_t *vlen);

/* kvu_hex_decode -- @s (even length, [0-9a-fA-F]) into @b; 0 or -EINVAL */
int kvu_hex_decode(const char *s, struct kvu_buf *b);

/*
 * kvu_key_arg -- a key from the command line, as text or (@hex) hex digits,
 * into @key; on failure says "daxo CMD: bad key" and frees @key. 0 or -1.
 */
int kvu_key_arg(const char *cmd, const char *arg, bool hex,
		struct kvu_buf *key);

/* kvu_b64_encode -- a malloc'd NUL-terminated base64 text, or NULL */
char *kvu_b64_encode(const unsigned char *p, size_t len);
/* kvu_b64_decode -- base64 @s of @slen chars into @b; 0 or -EINVAL */
int kvu_b64_decode(const char *s, size_t slen, struct kvu_buf *b);

/* kvu_utf8_valid -- @p is well-formed UTF-8 (no overlongs, surrogates) */
bool kvu_utf8_valid(const unsigned char *p, size_t len);

/* kvu_json_add_bytes -- add @name or @name_base64 to @obj (see above) */
void kvu_json_add_bytes(struct json_object *obj, const char *name,
			const unsigned char *p, size_t len);
/*
 * kvu_json_get_bytes -- read @name or @name_base64 from @obj into @b.
 * Returns 0, -ENOENT (neither present) or -EINVAL (bad type or base64).
 */
int kvu_json_get_bytes(struct json_object *obj, const char *name,
		       struct kvu_buf *b);

/*
 * kvu_print_escaped -- @p as text: printable ASCII as is, backslash as \\,
 * everything else as \xNN (so `daxo ls` lines are unambiguous)
 */
void kvu_print_escaped(FILE *f, const unsigned char *p, size_t len);

/* one key (and value) collected by kvu_collect */
struct kvu_item {
	unsigned char *key;
	size_t klen;
	unsigned char *val; /* NULL unless values were asked for */
	size_t vlen;
};

/*
 * kvu_collect -- every key of @p whose key starts with @prefix (may be
 * NULL), sorted bytewise, with the values if @values. 0 or -errno.
 */
int kvu_collect(daxo_pool *p, const unsigned char *prefix, size_t plen,
		bool values, struct kvu_item **items, size_t *n);
void kvu_items_free(struct kvu_item *items, size_t n);

#endif
