/* jsonpos.c: the position of every value of a JSON text, by path. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"

struct jpos_scanner {
	const char		*p, *end;
	int			 line, col;
	struct jpos_map		*map;
	struct jpos_dup		*dup;
	int			 status;	/* 0, 1 duplicate, -1 memory */
};

static void	jpos_value(struct jpos_scanner *, const char *, int, int);

static int
jpos_plain_word(const char *key)
{
	const char	*k;

	if (*key == '\0')
		return 0;
	for (k = key; *k != '\0'; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return 0;
	return 1;
}

char *
jpos_path_key(const char *parent, const char *key)
{
	char	*out, *o;
	size_t	 len;

	if (jpos_plain_word(key)) {
		len = strlen(parent) + strlen(key) + 2;
		if ((out = malloc(len)) == NULL)
			return NULL;
		snprintf(out, len, "%s%s%s", parent, *parent ? "." : "", key);
		return out;
	}
	len = strlen(parent) + 2 * strlen(key) + 5;
	if ((out = malloc(len)) == NULL)
		return NULL;
	o = out + sprintf(out, "%s[\"", parent);
	for (; *key != '\0'; key++) {
		if (*key == '"' || *key == '\\')
			*o++ = '\\';
		*o++ = *key;
	}
	strcpy(o, "\"]");
	return out;
}

char *
jpos_path_index(const char *parent, size_t index)
{
	char	*out;
	size_t	 len = strlen(parent) + 24;

	if ((out = malloc(len)) == NULL)
		return NULL;
	snprintf(out, len, "%s[%zu]", parent, index);
	return out;
}

static void
jpos_advance(struct jpos_scanner *s)
{
	if (s->p >= s->end)
		return;
	if (*s->p == '\n') {
		s->line++;
		s->col = 1;
	} else if (((unsigned char)*s->p & 0xc0) != 0x80) {
		/* Columns count characters, not UTF-8 continuation bytes. */
		s->col++;
	}
	s->p++;
}

static void
jpos_ws(struct jpos_scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		jpos_advance(s);
}

static int
jpos_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned	 v = 0;
	int		 i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
jpos_utf8(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the string at s->p (on its opening quote) so that keys compare
 * equal to what jansson hands the loader.  Returns NULL on allocation
 * failure; the text is known to be valid JSON.
 */
static char *
jpos_string(struct jpos_scanner *s)
{
	const char	*start = s->p + 1, *q;
	char		*out, *o;
	unsigned	 cp, lo;

	for (q = start; q < s->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if ((out = malloc((size_t)(q - start) + 1)) == NULL)
		return NULL;
	o = out;
	jpos_advance(s);
	while (s->p < s->end && *s->p != '"') {
		if (*s->p != '\\') {
			*o++ = *s->p;
			jpos_advance(s);
			continue;
		}
		jpos_advance(s);
		switch (*s->p) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (jpos_hex4(s->p + 1, s->end, &cp) != 0)
				break;
			s->p += 4;
			s->col += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p > 6 &&
			    s->p[1] == '\\' && s->p[2] == 'u' &&
			    jpos_hex4(s->p + 3, s->end, &lo) == 0) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				s->p += 6;
				s->col += 6;
			}
			o += jpos_utf8(cp, o);
			break;
		default:
			*o++ = *s->p;
			break;
		}
		jpos_advance(s);
	}
	jpos_advance(s);
	*o = '\0';
	return out;
}

static void
jpos_record(struct jpos_scanner *s, const char *path, int kl, int kc)
{
	struct jpos_map		*m = s->map;
	struct jpos_entry	*e;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;

		e = realloc(m->entries, cap * sizeof(*e));
		if (e == NULL) {
			s->status = -1;
			return;
		}
		m->entries = e;
		m->cap = cap;
	}
	e = &m->entries[m->n];
	if ((e->path = strdup(path)) == NULL) {
		s->status = -1;
		return;
	}
	e->key_line = kl;
	e->key_col = kc;
	e->val_line = s->line;
	e->val_col = s->col;
	m->n++;
}

struct jpos_seen {
	char	*key;
	int	 line, col;
};

/*
 * The keys of one object seen so far, hashed: an object with 100,000 keys
 * (pools) must not cost 10^10 comparisons.  Slots hold index + 1 into
 * keys; 0 is empty.  Open addressing, at most half full.
 */
struct jpos_keys {
	struct jpos_seen	*keys;
	size_t			 n, cap;
	size_t			*slots;
	size_t			 nslots;	/* a power of two */
};

static size_t
jpos_hash(const char *key)
{
	uint64_t	 h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of key: where it is, or the empty one where it would go. */
static size_t *
jpos_keys_slot(const struct jpos_keys *k, const char *key)
{
	size_t	 i = jpos_hash(key) & (k->nslots - 1);

	while (k->slots[i] != 0 &&
	    strcmp(k->keys[k->slots[i] - 1].key, key) != 0)
		i = (i + 1) & (k->nslots - 1);
	return &k->slots[i];
}

static int
jpos_keys_grow(struct jpos_keys *k)
{
	struct jpos_seen	*keys;
	size_t			*slot, i, nslots;

	if (k->n == k->cap) {
		if ((keys = reallocarray(k->keys, k->cap ? k->cap * 2 : 8,
		    sizeof(*keys))) == NULL)
			return -1;
		k->keys = keys;
		k->cap = k->cap ? k->cap * 2 : 8;
	}
	if ((k->n + 1) * 2 <= k->nslots)
		return 0;
	nslots = k->nslots ? k->nslots * 2 : 16;
	free(k->slots);
	if ((k->slots = calloc(nslots, sizeof(*k->slots))) == NULL) {
		k->nslots = 0;
		return -1;
	}
	k->nslots = nslots;
	for (i = 0; i < k->n; i++) {
		slot = jpos_keys_slot(k, k->keys[i].key);
		if (*slot == 0)
			*slot = i + 1;
	}
	return 0;
}

static void
jpos_keys_free(struct jpos_keys *k)
{
	size_t	 i;

	for (i = 0; i < k->n; i++)
		free(k->keys[i].key);
	free(k->keys);
	free(k->slots);
}

static void
jpos_object(struct jpos_scanner *s, const char *path)
{
	struct jpos_keys	 seen = { NULL, 0, 0, NULL, 0 };
	const struct jpos_seen	*first;
	size_t			*slot;
	char			*key, *child;
	int			 kl, kc;

	jpos_advance(s);
	jpos_ws(s);
	while (s->status == 0 && s->p < s->end && *s->p != '}') {
		kl = s->line;
		kc = s->col;
		if ((key = jpos_string(s)) == NULL) {
			s->status = -1;
			break;
		}
		if (jpos_keys_grow(&seen) == -1) {
			free(key);
			s->status = -1;
			break;
		}
		slot = jpos_keys_slot(&seen, key);
		if (*slot != 0 && s->dup != NULL) {
			first = &seen.keys[*slot - 1];
			s->dup->parent = strdup(path);
			s->dup->key = key;
			s->dup->first_line = first->line;
			s->dup->first_col = first->col;
			s->dup->line = kl;
			s->dup->col = kc;
			s->status = s->dup->parent ? 1 : -1;
			break;
		}
		/* A repeated key (no dup wanted) stays the first one's. */
		seen.keys[seen.n++] = (struct jpos_seen){ key, kl, kc };
		if (*slot == 0)
			*slot = seen.n;
		jpos_ws(s);
		jpos_advance(s);	/* ':' */
		jpos_ws(s);
		if ((child = jpos_path_key(path, key)) == NULL) {
			s->status = -1;
			break;
		}
		jpos_value(s, child, kl, kc);
		free(child);
		jpos_ws(s);
		if (s->p < s->end && *s->p == ',') {
			jpos_advance(s);
			jpos_ws(s);
		}
	}
	jpos_advance(s);
	jpos_keys_free(&seen);
}

static void
jpos_array(struct jpos_scanner *s, const char *path)
{
	size_t	 index = 0;
	char	*child;

	jpos_advance(s);
	jpos_ws(s);
	while (s->status == 0 && s->p < s->end && *s->p != ']') {
		if ((child = jpos_path_index(path, index++)) == NULL) {
			s->status = -1;
			return;
		}
		jpos_value(s, child, 0, 0);
		free(child);
		jpos_ws(s);
		if (s->p < s->end && *s->p == ',') {
			jpos_advance(s);
			jpos_ws(s);
		}
	}
	jpos_advance(s);
}

static void
jpos_value(struct jpos_scanner *s, const char *path, int kl, int kc)
{
	char	*skip;

	jpos_record(s, path, kl, kc);
	if (s->status != 0 || s->p >= s->end)
		return;
	switch (*s->p) {
	case '{':
		jpos_object(s, path);
		break;
	case '[':
		jpos_array(s, path);
		break;
	case '"':
		if ((skip = jpos_string(s)) == NULL)
			s->status = -1;
		free(skip);
		break;
	default:
		/* number, true, false, null */
		while (s->p < s->end && *s->p != ',' && *s->p != '}' &&
		    *s->p != ']' && *s->p != ' ' && *s->p != '\t' &&
		    *s->p != '\n' && *s->p != '\r')
			jpos_advance(s);
		break;
	}
}

int
jpos_scan(const char *text, size_t len, struct jpos_map *map,
    struct jpos_dup *dup)
{
	struct jpos_scanner	 s = { text, text + len, 1, 1, map, dup, 0 };

	memset(map, 0, sizeof(*map));
	if (dup != NULL)
		memset(dup, 0, sizeof(*dup));
	/* A UTF-8 byte order mark is not JSON, but editors write it. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		s.p += 3;
	jpos_ws(&s);
	jpos_value(&s, "", 0, 0);
	return s.status;
}

void
jpos_free(struct jpos_map *map)
{
	size_t	 i;

	for (i = 0; i < map->n; i++)
		free(map->entries[i].path);
	free(map->entries);
	memset(map, 0, sizeof(*map));
}

void
jpos_dup_clear(struct jpos_dup *dup)
{
	free(dup->parent);
	free(dup->key);
	memset(dup, 0, sizeof(*dup));
}

const struct jpos_entry *
jpos_find(const struct jpos_map *map, const char *path)
{
	size_t	 i;

	for (i = 0; i < map->n; i++)
		if (strcmp(map->entries[i].path, path) == 0)
			return &map->entries[i];
	return NULL;
}
