/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kvutil.c -- helpers of the keyed-store subcommands (see kvutil.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvutil.h"

int kvu_buf_add(struct kvu_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		unsigned char *np;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = 0; /* always NUL-terminated, for convenience */
	return 0;
}

void kvu_buf_free(struct kvu_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int kvu_read_all(FILE *f, struct kvu_buf *b, size_t max)
{
	unsigned char tmp[65536];
	size_t n;

	if (kvu_buf_add(b, NULL, 0))
		return -ENOMEM;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (n > max - b->len)
			return -EFBIG;
		if (kvu_buf_add(b, tmp, n))
			return -ENOMEM;
	}
	return ferror(f) ? -EIO : 0;
}

void kvu_no_key(const char *cmd, const struct kvu_buf *key)
{
	fprintf(stderr, "daxo %s: ", cmd);
	kvu_print_escaped(stderr, key->p, key->len);
	fprintf(stderr, ": no such key\n");
}

daxo_pool *kvu_open(const char *cmd, const char *path, bool rdonly)
{
	daxo_pool *p = NULL;
	int r = daxo_open(path, NULL, rdonly ? DAXO_RDONLY : 0, &p);

	if (r) {
		tool_err(cmd, path, r);
		return NULL;
	}
	return p;
}

int kvu_get(daxo_pool *p, const void *key, size_t klen, char **buf,
	    size_t *cap, size_t *vlen)
{
	for (;;) { /* grow the buffer until the whole value fits */
		int r;

		if (!*buf || *cap == 0) {
			char *nb = realloc(*buf, *cap ? *cap : 4096);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap = *cap ? *cap : 4096;
		}
		r = daxo_get(p, key, klen, *buf, *cap, vlen);
		if (r != -ENOBUFS)
			return r;
		char *nb = realloc(*buf, *vlen);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = *vlen;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kvu_hex_decode(const char *s, struct kvu_buf *b)
{
	size_t len = strlen(s);

	if (len % 2)
		return -EINVAL;
	if (kvu_buf_add(b, NULL, 0))
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		unsigned char c;
		if (hi < 0 || lo < 0)
			return -EINVAL;
		c = (unsigned char)(hi << 4 | lo);
		if (kvu_buf_add(b, &c, 1))
			return -ENOMEM;
	}
	return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *kvu_b64_encode(const unsigned char *p, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = 0;
	return out;
}

static int b64val(int c)
{
	const char *q = c ? strchr(b64, c) : NULL;

	return q ? (int)(q - b64) : -1;
}

int kvu_b64_decode(const char *s, size_t slen, struct kvu_buf *b)
{
	if (slen % 4)
		return -EINVAL;
	if (kvu_buf_add(b, NULL, 0))
		return -ENOMEM;
	for (size_t i = 0; i < slen; i += 4) {
		int v[4], pad = 0;
		unsigned char out[3];
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == slen && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad || (v[j] = b64val(s[i + j])) < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[0] = (unsigned char)(w >> 16);
		out[1] = (unsigned char)(w >> 8);
		out[2] = (unsigned char)w;
		if (kvu_buf_add(b, out, (size_t)(3 - pad)))
			return -ENOMEM;
	}
	return 0;
}

bool kvu_utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t j = 1; j <= n; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

void kvu_json_add_bytes(struct json_object *obj, const char *name,
			const unsigned char *p, size_t len)
{
	char key[64];

	if (kvu_utf8_valid(p, len)) {
		json_object_object_add(
		    obj, name,
		    json_object_new_string_len((const char *)p, (int)len));
		return;
	}
	snprintf(key, sizeof(key), "%s_base64", name);
	char *e = kvu_b64_encode(p, len);
	json_object_object_add(obj, key, json_object_new_string(e ? e : ""));
	free(e);
}

int kvu_json_get_bytes(struct json_object *obj, const char *name,
		       struct kvu_buf *b)
{
	struct json_object *v;
	char key[64];

	if (json_object_object_get_ex(obj, name, &v)) {
		if (!json_object_is_type(v, json_type_string))
			return -EINVAL;
		return kvu_buf_add(b, json_object_get_string(v),
				   (size_t)json_object_get_string_len(v));
	}
	snprintf(key, sizeof(key), "%s_base64", name);
	if (json_object_object_get_ex(obj, key, &v)) {
		if (!json_object_is_type(v, json_type_string))
			return -EINVAL;
		return kvu_b64_decode(json_object_get_string(v),
				      (size_t)json_object_get_string_len(v), b);
	}
	return -ENOENT;
}

void kvu_print_escaped(FILE *f, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\')
			fputs("\\\\", f);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

struct collect {
	const unsigned char *prefix;
	size_t plen;
	bool values;
	struct kvu_item *items;
	size_t n, cap;
	int err;
};

static int collect_cb(const void *k, size_t kl, const void *v, size_t vl,
		      void *arg)
{
	struct collect *c = arg;
	struct kvu_item *it;

	if (c->plen && (kl < c->plen || memcmp(k, c->prefix, c->plen)))
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 64;
		struct kvu_item *ni = realloc(c->items, ncap * sizeof(*ni));
		if (!ni)
			goto nomem;
		c->items = ni;
		c->cap = ncap;
	}
	it = &c->items[c->n];
	memset(it, 0, sizeof(*it));
	it->key = malloc(kl);
	if (!it->key)
		goto nomem;
	memcpy(it->key, k, kl);
	it->klen = kl;
	it->vlen = vl;
	if (c->values) {
		it->val = malloc(vl ? vl : 1);
		if (!it->val) {
			free(it->key);
			goto nomem;
		}
		if (vl)
			memcpy(it->val, v, vl);
	}
	c->n++;
	return 0;
nomem:
	c->err = -ENOMEM;
	return 1;
}

static int item_cmp(const void *a, const void *b)
{
	const struct kvu_item *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->key, y->key, n);

	if (r)
		return r;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int kvu_collect(daxo_pool *p, const unsigned char *prefix, size_t plen,
		bool values, struct kvu_item **items, size_t *n)
{
	struct collect c = {prefix, plen, values, NULL, 0, 0, 0};
	int r = daxo_foreach(p, collect_cb, &c);

	if (c.err)
		r = c.err;
	if (r < 0) {
		kvu_items_free(c.items, c.n);
		return r;
	}
	if (c.n)
		qsort(c.items, c.n, sizeof(*c.items), item_cmp);
	*items = c.items;
	*n = c.n;
	return 0;
}

void kvu_items_free(struct kvu_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].key);
		free(items[i].val);
	}
	free(items);
}

int kvu_key_arg(const char *cmd, const char *arg, bool hex,
		struct kvu_buf *key)
{
	if (hex ? kvu_hex_decode(arg, key) : kvu_buf_add(key, arg, strlen(arg))) {
		fprintf(stderr, "daxo %s: bad key '%s'\n", cmd, arg);
		kvu_buf_free(key);
		return -1;
	}
	return 0;
}
