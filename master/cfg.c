/*
 * cfg.c: the JSON configuration, from text to one validated tree.
 *
 * Each JSON object is described by a static table of keys (name, kind,
 * offset, default, bounds), as nginx describes directives with
 * ngx_command_t.  One walker gives unknown-key, type and range errors and
 * fills defaults; cross-object rules (pool references, duplicates) run in a
 * second pass once every object is parsed, as relayd's load_config() does.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cfg.h"
#include "jsonpos.h"
#include "store-t.h"
#include "tls_cfg.h"
#include "units.h"

#ifndef SHUNT_STATE_DIR
#define SHUNT_STATE_DIR "/var/lib/shunt"
#endif

/* Every allocation of one config, freed together by cfg_free(). */
struct cfg_mem {
	struct cfg_mem	*next;
	max_align_t	 data[];
};

struct cfg_ctx {
	struct shunt_config	*cfg;
	struct cfg_error	*err;
	struct jpos_map		 pos;
	const char		*basedir;
	unsigned		 flags;		/* CFG_LOAD_* */
	int			 failed;
};

enum cfg_kind {
	CFG_UINT,
	CFG_BOOL,
	CFG_STRING,
	CFG_PATH,		/* a string; relative to the config's directory */
	CFG_DURATION,
	CFG_SIZE,
	CFG_ENUM,
	CFG_SUB,		/* handled by a function of its own */
};

struct cfg_key;
typedef int cfg_sub_fn(struct cfg_ctx *, json_t *, const char *path,
    void *base);

struct cfg_key {
	const char		*name;
	enum cfg_kind		 kind;
	size_t			 offset;
	const char		*dflt;		/* NULL: none, or set elsewhere */
	uint64_t		 min, max;
	const char *const	*names;		/* CFG_ENUM, NULL-terminated */
	cfg_sub_fn		*sub;
	int			 required;
	const char		*hint;		/* appended to range errors */
};

enum cfg_where { CFG_AT_VALUE, CFG_AT_KEY };

static const char *const balance_names[] = {
	[CFG_BALANCE_ROUND_ROBIN] = "round_robin",
	[CFG_BALANCE_LEAST_CONN] = "least_conn",
	NULL
};

static const char *const level_names[] = {
	[CFG_LOG_ERROR] = "error",
	[CFG_LOG_WARN] = "warn",
	[CFG_LOG_INFO] = "info",
	[CFG_LOG_DEBUG] = "debug",
	NULL
};

static void *
cfg_alloc(struct shunt_config *cfg, size_t size)
{
	struct cfg_mem	*m;

	if ((m = calloc(1, sizeof(*m) + size)) == NULL)
		return NULL;
	m->next = cfg->mem;
	cfg->mem = m;
	return m->data;
}

static char *
cfg_strdup(struct shunt_config *cfg, const char *s)
{
	size_t	 len = strlen(s) + 1;
	char	*d;

	if ((d = cfg_alloc(cfg, len)) != NULL)
		memcpy(d, s, len);
	return d;
}

/*
 * Record the first error only: later ones are usually consequences.  The
 * position comes from the scanner's map; display is the path shown to the
 * operator (empty for the top level).
 */
static int __attribute__((format(printf, 5, 6)))
cfg_fail_at(struct cfg_ctx *ctx, const char *pos_path, enum cfg_where where,
    const char *display, const char *fmt, ...)
{
	const struct jpos_entry	*e;
	size_t			 off = 0;
	int			 n;
	va_list			 ap;

	if (ctx->failed)
		return -1;
	ctx->failed = 1;
	ctx->err->msg[0] = '\0';
	if (display != NULL && *display != '\0') {
		n = snprintf(ctx->err->msg, sizeof(ctx->err->msg), "%s: ",
		    display);
		if (n > 0 && (size_t)n < sizeof(ctx->err->msg))
			off = (size_t)n;
	}
	va_start(ap, fmt);
	vsnprintf(ctx->err->msg + off, sizeof(ctx->err->msg) - off, fmt, ap);
	va_end(ap);
	if ((e = jpos_find(&ctx->pos, pos_path)) != NULL) {
		if (where == CFG_AT_KEY && e->key_line != 0) {
			ctx->err->line = e->key_line;
			ctx->err->column = e->key_col;
		} else {
			ctx->err->line = e->val_line;
			ctx->err->column = e->val_col;
		}
	}
	return -1;
}

#define cfg_fail(ctx, path, ...) \
	cfg_fail_at((ctx), (path), CFG_AT_VALUE, (path), __VA_ARGS__)

static int
cfg_nomem(struct cfg_ctx *ctx)
{
	return cfg_fail_at(ctx, "", CFG_AT_VALUE, "", "out of memory");
}

static const char *
cfg_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:	return "an object";
	case JSON_ARRAY:	return "an array";
	case JSON_STRING:	return "a string";
	case JSON_INTEGER:	return "an integer";
	case JSON_REAL:		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:	return "a boolean";
	case JSON_NULL:		return "null";
	}
	return "something else";
}

static size_t
cfg_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, prev, diag, cur;
	size_t	 row[64];

	if (lb >= sizeof(row) / sizeof(row[0]) || la >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			prev = row[j];
			cur = diag + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			row[j] = cur;
			diag = prev;
		}
	}
	return row[lb];
}

/* The closest candidate to word, if one is close enough to be a typo. */
static const char *
cfg_suggest(const char *word, const char *const *cands, size_t ncands)
{
	const char	*best = NULL;
	size_t		 bestd = SIZE_MAX, d, i, limit;

	limit = strlen(word) / 3;
	if (limit < 2)
		limit = 2;
	for (i = 0; i < ncands; i++) {
		if (cands[i] == NULL)
			continue;
		d = cfg_distance(word, cands[i]);
		if (d <= limit && d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return best;
}

static void
cfg_did_you_mean(char *buf, size_t len, const char *suggestion)
{
	if (suggestion != NULL)
		snprintf(buf, len, " (did you mean \"%s\"?)", suggestion);
	else
		buf[0] = '\0';
}

static int
cfg_resolve_path(struct cfg_ctx *ctx, const char *in, char **out)
{
	char	 buf[PATH_MAX];

	if (in[0] == '/' || ctx->basedir == NULL) {
		*out = cfg_strdup(ctx->cfg, in);
	} else {
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", ctx->basedir,
		    in) >= sizeof(buf))
			return -1;
		*out = cfg_strdup(ctx->cfg, buf);
	}
	return *out == NULL ? -1 : 0;
}

static int
cfg_range(struct cfg_ctx *ctx, const struct cfg_key *k, const char *path,
    uint64_t v, const char *shown)
{
	char	 lo[32], hi[32];

	if (v >= k->min && v <= k->max)
		return 0;
	if (k->kind == CFG_DURATION) {
		units_format_duration(k->min, lo, sizeof(lo));
		units_format_duration(k->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)k->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)k->max);
	}
	if (v < k->min && k->min == 1 && k->kind != CFG_DURATION)
		return cfg_fail(ctx, path, "must be at least 1, got %s%s%s",
		    shown, k->hint ? ": " : "", k->hint ? k->hint : "");
	if (v < k->min && k->min == 1)
		return cfg_fail(ctx, path, "must be longer than 0, got %s%s%s",
		    shown, k->hint ? ": " : "", k->hint ? k->hint : "");
	return cfg_fail(ctx, path, "must be between %s and %s, got %s%s%s",
	    lo, hi, shown, k->hint ? ": " : "", k->hint ? k->hint : "");
}

/* Convert one present value per its key description. */
static int
cfg_convert(struct cfg_ctx *ctx, const struct cfg_key *k, json_t *v,
    const char *path, void *base)
{
	void		*field = (char *)base + k->offset;
	char		 why[256], shown[64], sugg[96];
	uint64_t	 n;
	json_int_t	 i;
	size_t		 e;

	switch (k->kind) {
	case CFG_UINT:
		if (!json_is_integer(v))
			return cfg_fail(ctx, path, "expected an integer, got %s",
			    cfg_json_type(v));
		i = json_integer_value(v);
		snprintf(shown, sizeof(shown), "%lld", (long long)i);
		if (i < 0)
			return cfg_range(ctx, k, path, 0, shown) ? -1 :
			    cfg_fail(ctx, path, "must not be negative, got %s",
			    shown);
		if (cfg_range(ctx, k, path, (uint64_t)i, shown) != 0)
			return -1;
		*(uint64_t *)field = (uint64_t)i;
		return 0;
	case CFG_BOOL:
		if (!json_is_boolean(v))
			return cfg_fail(ctx, path, "expected true or false, "
			    "got %s", cfg_json_type(v));
		*(bool *)field = json_is_true(v);
		return 0;
	case CFG_STRING:
	case CFG_PATH:
		if (!json_is_string(v))
			return cfg_fail(ctx, path, "expected a string, got %s",
			    cfg_json_type(v));
		if (json_string_length(v) == 0)
			return cfg_fail(ctx, path, "must not be empty");
		if (strlen(json_string_value(v)) != json_string_length(v))
			return cfg_fail(ctx, path, "must not contain NUL");
		if (k->kind == CFG_PATH) {
			if (cfg_resolve_path(ctx, json_string_value(v),
			    (char **)field) != 0)
				return cfg_fail(ctx, path, "path is too long");
		} else if ((*(char **)field = cfg_strdup(ctx->cfg,
		    json_string_value(v))) == NULL)
			return cfg_nomem(ctx);
		return 0;
	case CFG_DURATION:
		if (!json_is_string(v))
			return cfg_fail(ctx, path, "expected a duration string "
			    "such as \"250ms\" or \"2s\", got %s%s",
			    cfg_json_type(v), json_is_integer(v) ?
			    " (add a unit: ms, s, m, h or d)" : "");
		if (units_parse_duration(json_string_value(v), &n, why,
		    sizeof(why)) != 0)
			return cfg_fail(ctx, path, "%s", why);
		snprintf(shown, sizeof(shown), "\"%s\"", json_string_value(v));
		if (cfg_range(ctx, k, path, n, shown) != 0)
			return -1;
		*(uint64_t *)field = n;
		return 0;
	case CFG_SIZE:
		if (json_is_integer(v)) {
			if (json_integer_value(v) < 0)
				return cfg_fail(ctx, path, "must not be "
				    "negative, got %lld",
				    (long long)json_integer_value(v));
			n = (uint64_t)json_integer_value(v);
			snprintf(shown, sizeof(shown), "%llu",
			    (unsigned long long)n);
		} else if (json_is_string(v)) {
			if (units_parse_size(json_string_value(v), &n, why,
			    sizeof(why)) != 0)
				return cfg_fail(ctx, path, "%s", why);
			snprintf(shown, sizeof(shown), "\"%s\"",
			    json_string_value(v));
		} else
			return cfg_fail(ctx, path, "expected a size (bytes as "
			    "an integer, or a string such as \"32k\"), got %s",
			    cfg_json_type(v));
		if (cfg_range(ctx, k, path, n, shown) != 0)
			return -1;
		*(uint64_t *)field = n;
		return 0;
	case CFG_ENUM:
		if (!json_is_string(v))
			return cfg_fail(ctx, path, "expected a string, got %s",
			    cfg_json_type(v));
		for (e = 0; k->names[e] != NULL; e++)
			if (strcmp(k->names[e], json_string_value(v)) == 0) {
				*(int *)field = (int)e;
				return 0;
			}
		{
			char	 list[256];
			size_t	 off = 0;

			list[0] = '\0';
			for (e = 0; k->names[e] != NULL; e++)
				off += (size_t)snprintf(list + off,
				    sizeof(list) - off, "%s\"%s\"",
				    e == 0 ? "" : k->names[e + 1] == NULL ?
				    " or " : ", ", k->names[e]);
			cfg_did_you_mean(sugg, sizeof(sugg),
			    cfg_suggest(json_string_value(v), k->names, e));
			return cfg_fail(ctx, path, "unknown value \"%s\": "
			    "expected %s%s", json_string_value(v), list, sugg);
		}
	case CFG_SUB:
		return k->sub(ctx, v, path, base);
	}
	return -1;
}

/* Fill the defaults a table names; the walk then overwrites what is set. */
static void
cfg_defaults(const struct cfg_key *table, void *base)
{
	const struct cfg_key	*k;
	void			*field;
	char			 why[128];
	size_t			 e;

	for (k = table; k->name != NULL; k++) {
		if (k->dflt == NULL)
			continue;
		field = (char *)base + k->offset;
		switch (k->kind) {
		case CFG_UINT:
			*(uint64_t *)field = strtoull(k->dflt, NULL, 10);
			break;
		case CFG_BOOL:
			*(bool *)field = strcmp(k->dflt, "true") == 0;
			break;
		case CFG_DURATION:
			(void)units_parse_duration(k->dflt, field, why,
			    sizeof(why));
			break;
		case CFG_SIZE:
			(void)units_parse_size(k->dflt, field, why,
			    sizeof(why));
			break;
		case CFG_ENUM:
			for (e = 0; k->names[e] != NULL; e++)
				if (strcmp(k->names[e], k->dflt) == 0)
					*(int *)field = (int)e;
			break;
		case CFG_STRING:
		case CFG_PATH:
		case CFG_SUB:
			break;
		}
	}
}

/*
 * Unknown keys first, in file order, so a typo is reported before the
 * "missing key" it causes; then the known keys in table order, which lets
 * tables put what others depend on (limits, pools) first.
 */
static int
cfg_walk(struct cfg_ctx *ctx, json_t *obj, const struct cfg_key *table,
    void *base, const char *path, const char *what)
{
	const struct cfg_key	*k;
	const char		*key, *names[64];
	json_t			*v;
	char			*child, sugg[96];
	size_t			 n = 0;
	int			 rc = 0;

	if (!json_is_object(obj))
		return cfg_fail(ctx, path, "expected %s (a JSON object), got "
		    "%s", what, cfg_json_type(obj));
	for (k = table; k->name != NULL && n < 64; k++)
		names[n++] = k->name;
	json_object_foreach(obj, key, v) {
		for (k = table; k->name != NULL; k++)
			if (strcmp(k->name, key) == 0)
				break;
		if (k->name != NULL)
			continue;
		if ((child = jpos_path_key(path, key)) == NULL)
			return cfg_nomem(ctx);
		cfg_did_you_mean(sugg, sizeof(sugg), cfg_suggest(key, names, n));
		cfg_fail_at(ctx, child, CFG_AT_KEY, path,
		    "unknown key \"%s\" in %s%s", key, what, sugg);
		free(child);
		return -1;
	}
	for (k = table; k->name != NULL && rc == 0; k++) {
		if ((v = json_object_get(obj, k->name)) == NULL) {
			if (k->required)
				rc = cfg_fail(ctx, path, "missing required key "
				    "\"%s\" in %s", k->name, what);
			continue;
		}
		if ((child = jpos_path_key(path, k->name)) == NULL)
			return cfg_nomem(ctx);
		rc = cfg_convert(ctx, k, v, child, base);
		free(child);
	}
	return rc;
}

/*
 * "host:port" or "[v6]:port" to a sockaddr.  For listeners, "*" or an empty
 * host means every IPv4 address.  IP literals never touch DNS.
 */
static int
cfg_parse_addr(struct cfg_ctx *ctx, json_t *v, const char *path,
    int passive, struct cfg_addr *addr)
{
	const char	*text, *colon, *hstart, *hend, *p;
	char		 host[256], port[8];
	struct addrinfo	 hints, *res = NULL;
	unsigned long	 pnum;
	int		 rc;

	if (!json_is_string(v))
		return cfg_fail(ctx, path, "expected an address string such "
		    "as \"127.0.0.1:8080\", got %s", cfg_json_type(v));
	text = json_string_value(v);
	if (text[0] == '[') {
		hstart = text + 1;
		if ((hend = strchr(hstart, ']')) == NULL)
			return cfg_fail(ctx, path, "address \"%s\" lacks the "
			    "closing ']' of its IPv6 host", text);
		if (hend[1] != ':')
			return cfg_fail(ctx, path, "address \"%s\" has no "
			    "port: write \"[v6]:port\", e.g. \"[::1]:8080\"",
			    text);
		colon = hend + 1;
	} else {
		hstart = text;
		if ((colon = strrchr(text, ':')) == NULL)
			return cfg_fail(ctx, path, "address \"%s\" has no "
			    "port: write \"host:port\", e.g. "
			    "\"127.0.0.1:8080\"", text);
		if (memchr(text, ':', (size_t)(colon - text)) != NULL)
			return cfg_fail(ctx, path, "address \"%s\": put an "
			    "IPv6 host in brackets, e.g. \"[::1]:8080\"", text);
		hend = colon;
	}
	if ((size_t)(hend - hstart) >= sizeof(host))
		return cfg_fail(ctx, path, "host name in \"%s\" is too long",
		    text);
	memcpy(host, hstart, (size_t)(hend - hstart));
	host[hend - hstart] = '\0';
	for (p = colon + 1; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			break;
	errno = 0;
	pnum = strtoul(colon + 1, NULL, 10);
	if (colon[1] == '\0' || *p != '\0' || pnum == 0 || pnum > 65535 ||
	    p - colon > 6)
		return cfg_fail(ctx, path, "invalid port \"%s\" in address "
		    "\"%s\": expected a number from 1 to 65535", colon + 1,
		    text);
	snprintf(port, sizeof(port), "%lu", pnum);
	if (strcmp(host, "*") == 0 || host[0] == '\0') {
		if (!passive)
			return cfg_fail(ctx, path, "address \"%s\" has no host",
			    text);
		strcpy(host, "0.0.0.0");
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST |
	    (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME) {
		if (text[0] == '[')
			return cfg_fail(ctx, path, "\"%s\" is not an IPv6 "
			    "address", host);
		hints.ai_flags &= ~AI_NUMERICHOST;
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0)
		return cfg_fail(ctx, path, "cannot resolve host \"%s\": %s",
		    host, gai_strerror(rc));
	memcpy(&addr->sa, res->ai_addr, res->ai_addrlen);
	addr->salen = res->ai_addrlen;
	freeaddrinfo(res);
	addr->port = (uint16_t)pnum;
	if ((addr->text = cfg_strdup(ctx->cfg, text)) == NULL ||
	    (addr->host = cfg_strdup(ctx->cfg, host)) == NULL)
		return cfg_nomem(ctx);
	return 0;
}

static int
cfg_sockaddr_equal(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->salen == b->salen && memcmp(&a->sa, &b->sa, a->salen) == 0;
}

static int
cfg_readable(struct cfg_ctx *ctx, const char *file, const char *path,
    const char *what)
{
	if (access(file, R_OK) == -1)
		return cfg_fail(ctx, path, "cannot read %s \"%s\": %s", what,
		    file, strerror(errno));
	return 0;
}

/* --- limits ------------------------------------------------------------ */

#define LIM(f) offsetof(struct cfg_limits, f)
static const struct cfg_key limits_keys[] = {
	{ "header_timeout", CFG_DURATION, LIM(header_timeout_ms), "10s",
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "body_timeout", CFG_DURATION, LIM(body_timeout_ms), "60s",
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "keepalive_timeout", CFG_DURATION, LIM(keepalive_timeout_ms), "75s",
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "shutdown_timeout", CFG_DURATION, LIM(shutdown_timeout_ms), "30s",
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "max_header_size", CFG_SIZE, LIM(max_header_size), "32k",
	    1024, 16 * 1024 * 1024, NULL, NULL, 0, NULL },
	{ "max_headers", CFG_UINT, LIM(max_headers), "100",
	    1, 10000, NULL, NULL, 0, NULL },
	{ "max_body_size", CFG_SIZE, LIM(max_body_size), "1g",
	    0, UINT64_MAX, NULL, NULL, 0, NULL },
	{ "max_connections", CFG_UINT, LIM(max_connections), "10000",
	    1, 1000000, NULL, NULL, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_sub_limits(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	struct cfg_limits	*lim = &((struct shunt_config *)base)->limits;

	return cfg_walk(ctx, v, limits_keys, lim, path, "limits");
}

/* --- log --------------------------------------------------------------- */

#define LOGK(f) offsetof(struct cfg_log, f)
static const struct cfg_key log_keys[] = {
	{ "error", CFG_PATH, LOGK(error), NULL, 0, 0, NULL, NULL, 0, NULL },
	{ "access", CFG_PATH, LOGK(access), NULL, 0, 0, NULL, NULL, 0, NULL },
	{ "level", CFG_ENUM, LOGK(level), "info", 0, 0, level_names, NULL, 0,
	    NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_sub_log(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	return cfg_walk(ctx, v, log_keys, &((struct shunt_config *)base)->log,
	    path, "log");
}

/* --- pools and peers ------------------------------------------------------ */

#define RTY(f) offsetof(struct cfg_retry, f)
static const struct cfg_key retry_keys[] = {
	{ "tries", CFG_UINT, RTY(tries), "2", 1, 100, NULL, NULL, 0,
	    "the first try counts, so 1 means no retry" },
	{ "non_idempotent", CFG_BOOL, RTY(non_idempotent), "false", 0, 0,
	    NULL, NULL, 0, NULL },
	{ "buffer", CFG_SIZE, RTY(buffer), "64k", 0, 1024 * 1024 * 1024,
	    NULL, NULL, 0, NULL },
	{ "deadline", CFG_DURATION, RTY(deadline_ms), NULL, 1, 86400000,
	    NULL, NULL, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

#define HLT(f) offsetof(struct cfg_health, f)
static const struct cfg_key health_keys[] = {
	{ "max_fails", CFG_UINT, HLT(max_fails), "1", 1, 1000, NULL, NULL, 0,
	    NULL },
	{ "fail_timeout", CFG_DURATION, HLT(fail_timeout_ms), "10s", 1,
	    86400000, NULL, NULL, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

#define KAL(f) offsetof(struct cfg_keepalive, f)
static const struct cfg_key keepalive_keys[] = {
	{ "max_idle", CFG_UINT, KAL(max_idle), "32", 0, 100000, NULL, NULL, 0,
	    NULL },
	{ "idle_timeout", CFG_DURATION, KAL(idle_timeout_ms), "60s", 1,
	    86400000, NULL, NULL, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_sub_retry(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	return cfg_walk(ctx, v, retry_keys, &((struct cfg_pool *)base)->retry,
	    path, "retry");
}

static int
cfg_sub_health(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	return cfg_walk(ctx, v, health_keys,
	    &((struct cfg_pool *)base)->health, path, "health");
}

static int
cfg_sub_keepalive(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	return cfg_walk(ctx, v, keepalive_keys,
	    &((struct cfg_pool *)base)->keepalive, path, "keepalive");
}

static int
cfg_sub_peer_addr(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	size_t	 len;

	/* Before resolving: the store keys peers by the address as written. */
	if (json_is_string(v) &&
	    (len = strlen(json_string_value(v))) >= STORE_ADDR_MAX)
		return cfg_fail(ctx, path, "address \"%.20s...\" is %zu bytes "
		    "long: at most %d fit the health store",
		    json_string_value(v), len, STORE_ADDR_MAX - 1);
	return cfg_parse_addr(ctx, v, path, 0, &((struct cfg_peer *)base)->addr);
}

#define PEER(f) offsetof(struct cfg_peer, f)
static const struct cfg_key peer_keys[] = {
	{ "address", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_peer_addr, 1,
	    NULL },
	{ "weight", CFG_UINT, PEER(weight), "1", 1, 10000, NULL, NULL, 0,
	    NULL },
	{ "backup", CFG_BOOL, PEER(backup), "false", 0, 0, NULL, NULL, 0,
	    NULL },
	{ "tls", CFG_BOOL, PEER(tls), "false", 0, 0, NULL, NULL, 0, NULL },
	{ "sni", CFG_STRING, PEER(sni), NULL, 0, 0, NULL, NULL, 0, NULL },
	{ "verify", CFG_BOOL, PEER(verify), "true", 0, 0, NULL, NULL, 0,
	    NULL },
	{ "ca_file", CFG_PATH, PEER(ca_file), NULL, 0, 0, NULL, NULL, 0,
	    NULL },
	/* No defaults: a peer inherits its pool's timeouts. */
	{ "connect_timeout", CFG_DURATION, PEER(timeouts.connect_ms), NULL,
	    1, 3600000, NULL, NULL, 0, NULL },
	{ "read_timeout", CFG_DURATION, PEER(timeouts.read_ms), NULL,
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "send_timeout", CFG_DURATION, PEER(timeouts.send_ms), NULL,
	    1, 86400000, NULL, NULL, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

/*
 * The peers of one pool by address, hashed, so that a pool of 100,000
 * peers is checked for duplicates in linear time, not 5 * 10^9 compares.
 * A slot holds a peer's index + 1; 0 is empty.  At most half full.
 */
struct cfg_addr_set {
	size_t	*slots;
	size_t	 mask;
};

static size_t
cfg_addr_hash(const struct cfg_addr *a)
{
	const unsigned char	*p = (const unsigned char *)&a->sa;
	uint64_t		 h = 1469598103934665603ULL;	/* FNV-1a */
	socklen_t		 i;

	for (i = 0; i < a->salen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return (size_t)h;
}

static int
cfg_addr_set_init(struct cfg_addr_set *set, size_t n)
{
	size_t	 nslots = 16;

	while (nslots < 2 * n)
		nslots *= 2;
	set->mask = nslots - 1;
	set->slots = calloc(nslots, sizeof(*set->slots));
	return set->slots != NULL ? 0 : -1;
}

/*
 * Add pool->peers[i]: -1 (and nothing added) when an earlier peer has the
 * same address, *first then names the earliest such peer.
 */
static int
cfg_addr_set_add(struct cfg_addr_set *set, const struct cfg_pool *pool,
    size_t i, size_t *first)
{
	const struct cfg_addr	*a = &pool->peers[i].addr;
	size_t			 h = cfg_addr_hash(a) & set->mask;

	for (; set->slots[h] != 0; h = (h + 1) & set->mask) {
		if (cfg_sockaddr_equal(&pool->peers[set->slots[h] - 1].addr,
		    a)) {
			*first = set->slots[h] - 1;
			return -1;
		}
	}
	set->slots[h] = i + 1;
	return 0;
}

static int
cfg_peers_walk(struct cfg_ctx *ctx, json_t *v, const char *path,
    struct cfg_pool *pool, struct cfg_addr_set *set)
{
	struct cfg_peer	*peer;
	const char	*tls_only[] = { "sni", "verify", "ca_file" };
	json_t		*pv;
	char		*child, *key;
	size_t		 i, j, nprimary = 0;

	json_array_foreach(v, i, pv) {
		peer = &pool->peers[i];
		peer->index = i;
		peer->pool = pool;
		peer->timeouts = pool->timeouts;
		cfg_defaults(peer_keys, peer);
		if ((child = jpos_path_index(path, i)) == NULL)
			return cfg_nomem(ctx);
		if (cfg_walk(ctx, pv, peer_keys, peer, child, "a peer") != 0) {
			free(child);
			return -1;
		}
		for (j = 0; j < 3 && !peer->tls; j++) {
			if (json_object_get(pv, tls_only[j]) == NULL)
				continue;
			key = jpos_path_key(child, tls_only[j]);
			cfg_fail_at(ctx, key ? key : child, CFG_AT_KEY, child,
			    "\"%s\" applies to TLS peers only: add \"tls\": "
			    "true", tls_only[j]);
			free(key);
			free(child);
			return -1;
		}
		if (peer->ca_file != NULL && peer->tls &&
		    !(ctx->flags & CFG_LOAD_NO_TLS)) {
			key = jpos_path_key(child, "ca_file");
			if (cfg_readable(ctx, peer->ca_file, key ? key : child,
			    "CA file") != 0) {
				free(key);
				free(child);
				return -1;
			}
			free(key);
		}
		if (cfg_addr_set_add(set, pool, i, &j) == -1) {
			key = jpos_path_key(child, "address");
			cfg_fail(ctx, key ? key : child, "duplicate peer \"%s\" "
			    "in pool \"%s\": the same address as %s[%zu]",
			    peer->addr.text, pool->name, path, j);
			free(key);
			free(child);
			return -1;
		}
		if (!peer->backup)
			nprimary++;
		free(child);
	}
	if (nprimary == 0)
		return cfg_fail(ctx, path, "every peer of pool \"%s\" is a "
		    "backup: at least one must be a primary", pool->name);
	return 0;
}

static int
cfg_sub_peers(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	struct cfg_pool		*pool = base;
	struct cfg_addr_set	 set;
	int			 rc;

	if (!json_is_array(v))
		return cfg_fail(ctx, path, "expected an array of peers, got %s",
		    cfg_json_type(v));
	if (json_array_size(v) == 0)
		return cfg_fail(ctx, path, "pool \"%s\" has no peers: add at "
		    "least one {\"address\": \"host:port\"}", pool->name);
	pool->npeers = json_array_size(v);
	if ((pool->peers = cfg_alloc(ctx->cfg, pool->npeers *
	    sizeof(*pool->peers))) == NULL ||
	    cfg_addr_set_init(&set, pool->npeers) == -1)
		return cfg_nomem(ctx);
	rc = cfg_peers_walk(ctx, v, path, pool, &set);
	free(set.slots);
	return rc;
}

#define POOL(f) offsetof(struct cfg_pool, f)
static const struct cfg_key pool_keys[] = {
	{ "balance", CFG_ENUM, POOL(balance), "round_robin", 0, 0,
	    balance_names, NULL, 0, NULL },
	{ "connect_timeout", CFG_DURATION, POOL(timeouts.connect_ms), "1s",
	    1, 3600000, NULL, NULL, 0, NULL },
	{ "read_timeout", CFG_DURATION, POOL(timeouts.read_ms), "60s",
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "send_timeout", CFG_DURATION, POOL(timeouts.send_ms), "60s",
	    1, 86400000, NULL, NULL, 0, NULL },
	{ "retry", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_retry, 0, NULL },
	{ "health", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_health, 0, NULL },
	{ "keepalive", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_keepalive, 0,
	    NULL },
	/* Last: peers inherit the pool's timeouts read above. */
	{ "peers", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_peers, 1, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_pool_name_ok(const char *name)
{
	if (*name == '\0')
		return 0;
	for (; *name != '\0'; name++)
		if (!isalnum((unsigned char)*name) && *name != '_' &&
		    *name != '-' && *name != '.')
			return 0;
	return 1;
}

static int
cfg_sub_pools(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	struct shunt_config	*cfg = base;
	struct cfg_pool		*pool;
	const char		*name;
	json_t			*pv;
	char			*child;
	size_t			 i = 0;
	int			 rc;

	if (!json_is_object(v))
		return cfg_fail(ctx, path, "expected an object of named pools "
		    "such as {\"web\": {\"peers\": [...]}}, got %s",
		    cfg_json_type(v));
	if (json_object_size(v) == 0)
		return cfg_fail(ctx, path, "no pools: define at least one");
	cfg->npools = json_object_size(v);
	if ((cfg->pools = cfg_alloc(cfg, cfg->npools *
	    sizeof(*cfg->pools))) == NULL)
		return cfg_nomem(ctx);
	/* jansson keeps insertion order: pools stay in config order. */
	json_object_foreach(v, name, pv) {
		pool = &cfg->pools[i];
		pool->index = i++;
		if ((child = jpos_path_key(path, name)) == NULL)
			return cfg_nomem(ctx);
		if (!cfg_pool_name_ok(name)) {
			cfg_fail_at(ctx, child, CFG_AT_KEY, path, "pool name "
			    "\"%s\" may only contain letters, digits, '.', "
			    "'_' and '-'", name);
			free(child);
			return -1;
		}
		if (strlen(name) >= STORE_NAME_MAX) {
			cfg_fail_at(ctx, child, CFG_AT_KEY, path, "pool name "
			    "\"%.20s...\" is %zu bytes long: at most %d fit "
			    "the health store", name, strlen(name),
			    STORE_NAME_MAX - 1);
			free(child);
			return -1;
		}
		if ((pool->name = cfg_strdup(cfg, name)) == NULL) {
			free(child);
			return cfg_nomem(ctx);
		}
		cfg_defaults(pool_keys, pool);
		cfg_defaults(retry_keys, &pool->retry);
		cfg_defaults(health_keys, &pool->health);
		cfg_defaults(keepalive_keys, &pool->keepalive);
		rc = cfg_walk(ctx, pv, pool_keys, pool, child, "a pool");
		free(child);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* --- listeners and routes ------------------------------------------------- */

static int
cfg_sub_route_host(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	struct cfg_route	*route = base;
	const char		*s;
	char			*h;

	if (!json_is_string(v))
		return cfg_fail(ctx, path, "expected a host name string, got %s",
		    cfg_json_type(v));
	s = json_string_value(v);
	if (*s == '\0')
		return cfg_fail(ctx, path, "must not be empty");
	if (s[0] != '[' && strchr(s, ':') != NULL)
		return cfg_fail(ctx, path, "route host \"%s\" must not carry a "
		    "port: hosts are compared without it", s);
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || *s == '/')
			return cfg_fail(ctx, path, "\"%s\" is not a host name",
			    json_string_value(v));
	if ((h = route->host = cfg_strdup(ctx->cfg, json_string_value(v))) ==
	    NULL)
		return cfg_nomem(ctx);
	for (; *h != '\0'; h++)
		*h = (char)tolower((unsigned char)*h);
	return 0;
}

static int
cfg_sub_route_prefix(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	struct cfg_route	*route = base;

	if (!json_is_string(v))
		return cfg_fail(ctx, path, "expected a path string such as "
		    "\"/api/\", got %s", cfg_json_type(v));
	if (json_string_value(v)[0] != '/')
		return cfg_fail(ctx, path, "path_prefix \"%s\" must start "
		    "with '/'", json_string_value(v));
	if ((route->path_prefix = cfg_strdup(ctx->cfg,
	    json_string_value(v))) == NULL)
		return cfg_nomem(ctx);
	return 0;
}

#define RTE(f) offsetof(struct cfg_route, f)
static const struct cfg_key route_keys[] = {
	{ "host", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_route_host, 0, NULL },
	{ "path_prefix", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_route_prefix, 0,
	    NULL },
	{ "pool", CFG_STRING, RTE(pool_name), NULL, 0, 0, NULL, NULL, 1,
	    NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_sub_routes(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	struct cfg_listener	*l = base;
	struct cfg_route	*r;
	json_t			*rv;
	char			*child;
	size_t			 i;
	int			 rc;

	if (!json_is_array(v))
		return cfg_fail(ctx, path, "expected an array of routes, got %s",
		    cfg_json_type(v));
	l->nroutes = json_array_size(v);
	if (l->nroutes == 0)
		return 0;
	if ((l->routes = cfg_alloc(ctx->cfg, l->nroutes *
	    sizeof(*l->routes))) == NULL)
		return cfg_nomem(ctx);
	json_array_foreach(v, i, rv) {
		r = &l->routes[i];
		if ((child = jpos_path_index(path, i)) == NULL)
			return cfg_nomem(ctx);
		rc = cfg_walk(ctx, rv, route_keys, r, child, "a route");
		if (rc == 0 && r->host == NULL && r->path_prefix == NULL)
			rc = cfg_fail(ctx, child, "a route needs \"host\", "
			    "\"path_prefix\" or both");
		free(child);
		if (rc != 0)
			return -1;
	}
	return 0;
}

#define LTLS(f) offsetof(struct cfg_tls_listener, f)
static const struct cfg_key listener_tls_keys[] = {
	{ "cert", CFG_PATH, LTLS(cert), NULL, 0, 0, NULL, NULL, 1, NULL },
	{ "key", CFG_PATH, LTLS(key), NULL, 0, 0, NULL, NULL, 1, NULL },
	{ "chain", CFG_PATH, LTLS(chain), NULL, 0, 0, NULL, NULL, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_sub_listener_tls(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	struct cfg_listener	*l = base;
	const char		*what[] = { "cert", "key", "chain" };
	const char		*desc[] = { "certificate file", "key file",
				    "chain file" };
	char			*files[3], *child;
	size_t			 i;

	if ((l->tls = cfg_alloc(ctx->cfg, sizeof(*l->tls))) == NULL)
		return cfg_nomem(ctx);
	if (cfg_walk(ctx, v, listener_tls_keys, l->tls, path, "tls") != 0)
		return -1;
	files[0] = l->tls->cert;
	files[1] = l->tls->key;
	files[2] = l->tls->chain;
	for (i = 0; i < 3 && !(ctx->flags & CFG_LOAD_NO_TLS); i++) {
		if (files[i] == NULL)
			continue;
		if ((child = jpos_path_key(path, what[i])) == NULL)
			return cfg_nomem(ctx);
		if (cfg_readable(ctx, files[i], child, desc[i]) != 0) {
			free(child);
			return -1;
		}
		free(child);
	}
	return 0;
}

static int
cfg_sub_listener_limits(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	return cfg_walk(ctx, v, limits_keys,
	    &((struct cfg_listener *)base)->limits, path, "limits");
}

static int
cfg_sub_listen(struct cfg_ctx *ctx, json_t *v, const char *path, void *base)
{
	return cfg_parse_addr(ctx, v, path, 1,
	    &((struct cfg_listener *)base)->addr);
}

#define LSN(f) offsetof(struct cfg_listener, f)
static const struct cfg_key listener_keys[] = {
	{ "listen", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_listen, 1, NULL },
	{ "pool", CFG_STRING, LSN(pool_name), NULL, 0, 0, NULL, NULL, 1,
	    NULL },
	{ "routes", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_routes, 0, NULL },
	{ "tls", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_listener_tls, 0, NULL },
	{ "limits", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_listener_limits, 0,
	    NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

static int
cfg_sub_listeners(struct cfg_ctx *ctx, json_t *v, const char *path,
    void *base)
{
	struct shunt_config	*cfg = base;
	struct cfg_listener	*l;
	json_t			*lv;
	char			*child;
	size_t			 i;
	int			 rc;

	if (!json_is_array(v))
		return cfg_fail(ctx, path, "expected an array of listeners, "
		    "got %s", cfg_json_type(v));
	if (json_array_size(v) == 0)
		return cfg_fail(ctx, path, "no listeners: add at least one "
		    "{\"listen\": \"host:port\", \"pool\": \"name\"}");
	cfg->nlisteners = json_array_size(v);
	if ((cfg->listeners = cfg_alloc(cfg, cfg->nlisteners *
	    sizeof(*cfg->listeners))) == NULL)
		return cfg_nomem(ctx);
	json_array_foreach(v, i, lv) {
		l = &cfg->listeners[i];
		/* The top-level table reads limits first. */
		l->limits = cfg->limits;
		if ((child = jpos_path_index(path, i)) == NULL)
			return cfg_nomem(ctx);
		rc = cfg_walk(ctx, lv, listener_keys, l, child, "a listener");
		free(child);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* --- top level ------------------------------------------------------------ */

#define TOP(f) offsetof(struct shunt_config, f)
static const struct cfg_key top_keys[] = {
	{ "workers", CFG_UINT, TOP(workers), NULL, 1, STORE_WORKERS_MAX,
	    NULL, NULL, 0, "the health store keeps the pids of at most "
	    "64 workers" },
	{ "user", CFG_STRING, TOP(user), NULL, 0, 0, NULL, NULL, 0, NULL },
	{ "group", CFG_STRING, TOP(group), NULL, 0, 0, NULL, NULL, 0, NULL },
	{ "pid_file", CFG_PATH, TOP(pid_file), NULL, 0, 0, NULL, NULL, 0,
	    NULL },
	{ "state_dir", CFG_PATH, TOP(state_dir), NULL, 0, 0, NULL, NULL, 0,
	    NULL },
	{ "log", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_log, 0, NULL },
	{ "limits", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_limits, 0, NULL },
	{ "pools", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_pools, 1, NULL },
	{ "listeners", CFG_SUB, 0, NULL, 0, 0, NULL, cfg_sub_listeners, 1,
	    NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL }
};

/* --- TLS contexts ---------------------------------------------------------- */

static int
cfg_tls_listener(struct cfg_ctx *ctx, struct cfg_listener *l, size_t i)
{
	static const char *const keys[] = {
		[TLS_CFG_CERT] = "cert",
		[TLS_CFG_KEY] = "key",
		[TLS_CFG_CHAIN] = "chain",
	};
	enum tls_cfg_file	 bad;
	char			 why[CFG_ERR_MSG_MAX], *lpath, *tpath, *path;
	int			 rc;

	if ((l->tls->ssl_ctx = tls_cfg_server(l->tls, &bad, why,
	    sizeof(why))) != NULL)
		return 0;
	lpath = jpos_path_index("listeners", i);
	tpath = lpath ? jpos_path_key(lpath, "tls") : NULL;
	path = tpath ? jpos_path_key(tpath, keys[bad]) : NULL;
	rc = path ? cfg_fail(ctx, path, "%s", why) : cfg_nomem(ctx);
	free(path);
	free(tpath);
	free(lpath);
	return rc;
}

static int
cfg_tls_peer(struct cfg_ctx *ctx, struct cfg_pool *pool, size_t j)
{
	struct shunt_config	*cfg = ctx->cfg;
	struct cfg_peer		*peer = &pool->peers[j], *o;
	char			 why[CFG_ERR_MSG_MAX], *ppath, *path;
	size_t			 i, k;
	int			 rc;

	for (i = 0; i <= pool->index; i++)
		for (k = 0; k < cfg->pools[i].npeers; k++) {
			o = &cfg->pools[i].peers[k];
			if (o == peer)
				goto build;
			if (o->ssl_ctx != NULL &&
			    tls_cfg_client_alike(o, peer)) {
				tls_cfg_ref(o->ssl_ctx);
				peer->ssl_ctx = o->ssl_ctx;
				return 0;
			}
		}
build:
	if ((peer->ssl_ctx = tls_cfg_client(peer, why, sizeof(why))) != NULL)
		return 0;
	ppath = jpos_path_key("pools", pool->name);
	path = ppath ? jpos_path_key(ppath, "peers") : NULL;
	free(ppath);
	ppath = path ? jpos_path_index(path, j) : NULL;
	free(path);
	path = ppath ? jpos_path_key(ppath, peer->ca_file != NULL ?
	    "ca_file" : "tls") : NULL;
	rc = path ? cfg_fail(ctx, path, "%s", why) : cfg_nomem(ctx);
	free(path);
	free(ppath);
	return rc;
}

/*
 * TLS contexts last, once every path is known good: a listener's from its
 * files, one client context per set of like peers (same verification and
 * CA file), so a large CA bundle is parsed once, not once per peer.
 */
static int
cfg_tls(struct cfg_ctx *ctx)
{
	struct shunt_config	*cfg = ctx->cfg;
	size_t			 i, j;

	if (ctx->flags & CFG_LOAD_NO_TLS)
		return 0;
	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].tls != NULL &&
		    cfg_tls_listener(ctx, &cfg->listeners[i], i) != 0)
			return -1;
	for (i = 0; i < cfg->npools; i++)
		for (j = 0; j < cfg->pools[i].npeers; j++)
			if (cfg->pools[i].peers[j].tls &&
			    cfg_tls_peer(ctx, &cfg->pools[i], j) != 0)
				return -1;
	return 0;
}

/* --- what start would trip over in the file system ------------------------ */

/*
 * What -t can tell without creating anything: a state_dir that is not a
 * directory, a log file that is one, a path through a file.  Missing
 * files are fine (start creates state_dir and the logs); unreadable ones
 * are left to start, which runs with other rights than -t may.
 */
static int
cfg_check_path(struct cfg_ctx *ctx, const char *key, const char *file,
    bool want_dir)
{
	struct stat	 st;

	if (file == NULL)
		return 0;
	if (stat(file, &st) == -1) {
		if (errno == ENOTDIR)
			return cfg_fail(ctx, key, "\"%s\": a component of the "
			    "path is not a directory", file);
		return 0;
	}
	if (want_dir && !S_ISDIR(st.st_mode))
		return cfg_fail(ctx, key, "\"%s\" is not a directory", file);
	if (!want_dir && S_ISDIR(st.st_mode))
		return cfg_fail(ctx, key, "\"%s\" is a directory, not a log "
		    "file", file);
	return 0;
}

static int
cfg_check_files(struct cfg_ctx *ctx)
{
	const struct shunt_config	*cfg = ctx->cfg;

	if (cfg_check_path(ctx, "state_dir", cfg->state_dir, true) != 0 ||
	    cfg_check_path(ctx, "log.error", cfg->log.error, false) != 0 ||
	    cfg_check_path(ctx, "log.access", cfg->log.access, false) != 0)
		return -1;
	return 0;
}

/* --- second pass: rules across objects ------------------------------------ */

static int
cfg_link_pool(struct cfg_ctx *ctx, const char *name, const char *owner,
    struct cfg_pool **out)
{
	const char	*names[64];
	char		*path, sugg[96];
	size_t		 i, n = 0;

	if ((*out = cfg_pool_find(ctx->cfg, name)) != NULL)
		return 0;
	for (i = 0; i < ctx->cfg->npools && n < 64; i++)
		names[n++] = ctx->cfg->pools[i].name;
	cfg_did_you_mean(sugg, sizeof(sugg), cfg_suggest(name, names, n));
	if ((path = jpos_path_key(owner, "pool")) == NULL)
		return cfg_nomem(ctx);
	cfg_fail(ctx, path, "undefined pool \"%s\"%s", name, sugg);
	free(path);
	return -1;
}

static int
cfg_check(struct cfg_ctx *ctx)
{
	struct shunt_config	*cfg = ctx->cfg;
	struct cfg_listener	*l;
	char			*path, *rpath, *lpath;
	size_t			 i, j;
	int			 rc = 0;
	long			 ncpu;

	for (i = 0; i < cfg->nlisteners && rc == 0; i++) {
		l = &cfg->listeners[i];
		if ((lpath = jpos_path_index("listeners", i)) == NULL)
			return cfg_nomem(ctx);
		rc = cfg_link_pool(ctx, l->pool_name, lpath, &l->pool);
		for (j = 0; j < l->nroutes && rc == 0; j++) {
			path = jpos_path_key(lpath, "routes");
			rpath = path ? jpos_path_index(path, j) : NULL;
			rc = rpath ? cfg_link_pool(ctx, l->routes[j].pool_name,
			    rpath, &l->routes[j].pool) : cfg_nomem(ctx);
			free(rpath);
			free(path);
		}
		for (j = 0; j < i && rc == 0; j++) {
			if (!cfg_sockaddr_equal(&cfg->listeners[j].addr,
			    &l->addr))
				continue;
			path = jpos_path_key(lpath, "listen");
			rc = cfg_fail(ctx, path ? path : lpath, "address \"%s\" "
			    "is already used by listeners[%zu]", l->addr.text,
			    j);
			free(path);
		}
		free(lpath);
	}
	if (rc != 0)
		return -1;
	if (cfg->user != NULL && getpwnam(cfg->user) == NULL)
		return cfg_fail(ctx, "user", "user \"%s\" does not exist",
		    cfg->user);
	if (cfg->group != NULL && getgrnam(cfg->group) == NULL)
		return cfg_fail(ctx, "group", "group \"%s\" does not exist",
		    cfg->group);
	if (cfg->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = ncpu > 0 ? (uint64_t)ncpu : 1;
		/* A bigger box than the store has slots for. */
		if (cfg->workers > STORE_WORKERS_MAX)
			cfg->workers = STORE_WORKERS_MAX;
	}
	if (cfg->state_dir == NULL &&
	    (cfg->state_dir = cfg_strdup(cfg, SHUNT_STATE_DIR)) == NULL)
		return cfg_nomem(ctx);
	if (cfg_check_files(ctx) != 0)
		return -1;
	return cfg_tls(ctx);
}

/* --- entry points ---------------------------------------------------------- */

static void
cfg_error_init(struct cfg_error *err, const char *name)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", name);
}

static struct shunt_config *
cfg_parse(const char *text, size_t len, const char *name, const char *basedir,
    unsigned flags, struct cfg_error *err)
{
	struct cfg_ctx		 ctx;
	struct jpos_dup		 dup;
	json_error_t		 jerr;
	json_t			*root;
	size_t			 i;
	int			 rc;

	cfg_error_init(err, name);
	for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
		;
	if (i == len) {
		snprintf(err->msg, sizeof(err->msg), "the file is empty: "
		    "expected a JSON object { ... }");
		return NULL;
	}
	if ((root = json_loadb(text, len, 0, &jerr)) == NULL) {
		/* At end of file jansson says column 0: the line's start. */
		err->line = jerr.line > 0 ? jerr.line : 0;
		err->column = jerr.column > 0 ? jerr.column : err->line > 0;
		/* jansson's wording for the commonest slip, a missing comma */
		snprintf(err->msg, sizeof(err->msg), "invalid JSON: %s%s",
		    jerr.text, (strstr(jerr.text, "'}' expected near '") ||
		    strstr(jerr.text, "']' expected near '")) &&
		    !strstr(jerr.text, "end of file") ?
		    " (is a comma missing before it?)" : "");
		return NULL;
	}

	memset(&ctx, 0, sizeof(ctx));
	ctx.err = err;
	ctx.basedir = basedir;
	ctx.flags = flags;
	rc = jpos_scan(text, len, &ctx.pos, &dup);
	if (rc == 1) {
		err->line = dup.line;
		err->column = dup.col;
		if (strcmp(dup.parent, "pools") == 0)
			snprintf(err->msg, sizeof(err->msg), "pools: duplicate "
			    "pool \"%s\" (first defined at line %d)", dup.key,
			    dup.first_line);
		else
			snprintf(err->msg, sizeof(err->msg), "%s%sduplicate "
			    "key \"%s\" (first at line %d, column %d)",
			    dup.parent, *dup.parent ? ": " : "", dup.key,
			    dup.first_line, dup.first_col);
		jpos_dup_clear(&dup);
		jpos_free(&ctx.pos);
		json_decref(root);
		return NULL;
	}
	if (rc != 0 || (ctx.cfg = calloc(1, sizeof(*ctx.cfg))) == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		jpos_free(&ctx.pos);
		json_decref(root);
		return NULL;
	}

	if (!json_is_object(root)) {
		cfg_fail(&ctx, "", "the top level must be a JSON object "
		    "{ ... }, not %s", cfg_json_type(root));
	} else if ((ctx.cfg->file = cfg_strdup(ctx.cfg, name)) == NULL) {
		cfg_nomem(&ctx);
	} else {
		cfg_defaults(top_keys, ctx.cfg);
		cfg_defaults(log_keys, &ctx.cfg->log);
		cfg_defaults(limits_keys, &ctx.cfg->limits);
		if (cfg_walk(&ctx, root, top_keys, ctx.cfg, "",
		    "the configuration") == 0)
			(void)cfg_check(&ctx);
	}
	jpos_free(&ctx.pos);
	json_decref(root);
	if (ctx.failed) {
		cfg_free(ctx.cfg);
		return NULL;
	}
	return ctx.cfg;
}

struct shunt_config *
cfg_load_buffer(const char *text, size_t len, const char *name,
    const char *basedir, struct cfg_error *err)
{
	return cfg_parse(text, len, name, basedir, 0, err);
}

struct shunt_config *
cfg_load(const char *file, struct cfg_error *err)
{
	return cfg_load_opts(file, 0, err);
}

struct shunt_config *
cfg_load_opts(const char *file, unsigned flags, struct cfg_error *err)
{
	struct shunt_config	*cfg;
	FILE			*fp;
	char			*text = NULL, *dir, *slash;
	size_t			 len = 0, cap = 0, n;

	cfg_error_init(err, file);
	if ((fp = fopen(file, "re")) == NULL) {
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			char *grown;

			cap = cap ? cap * 2 : 8192;
			if (cap > 64 * 1024 * 1024 ||
			    (grown = realloc(text, cap)) == NULL) {
				snprintf(err->msg, sizeof(err->msg), "%s",
				    cap > 64 * 1024 * 1024 ? "file is larger "
				    "than 64 MiB" : "out of memory");
				free(text);
				fclose(fp);
				return NULL;
			}
			text = grown;
		}
		n = fread(text + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err->msg, sizeof(err->msg), "cannot read: %s",
		    strerror(errno));
		free(text);
		fclose(fp);
		return NULL;
	}
	fclose(fp);

	if ((dir = strdup(file)) == NULL) {
		free(text);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	cfg = cfg_parse(text ? text : "", len, file, dir, flags, err);
	free(dir);
	free(text);
	return cfg;
}

void
cfg_free(struct shunt_config *cfg)
{
	struct cfg_mem	*m, *next;
	size_t		 i, j;

	if (cfg == NULL)
		return;
	/* A config that failed to load may hold some contexts, or none. */
	for (i = 0; cfg->listeners != NULL && i < cfg->nlisteners; i++)
		if (cfg->listeners[i].tls != NULL &&
		    cfg->listeners[i].tls->ssl_ctx != NULL)
			tls_cfg_free(cfg->listeners[i].tls->ssl_ctx);
	for (i = 0; cfg->pools != NULL && i < cfg->npools; i++)
		for (j = 0; cfg->pools[i].peers != NULL &&
		    j < cfg->pools[i].npeers; j++)
			if (cfg->pools[i].peers[j].ssl_ctx != NULL)
				tls_cfg_free(cfg->pools[i].peers[j].ssl_ctx);
	for (m = cfg->mem; m != NULL; m = next) {
		next = m->next;
		free(m);
	}
	free(cfg);
}

void
cfg_error_format(const struct cfg_error *err, char *buf, size_t len)
{
	if (err->line > 0 && err->column > 0)
		snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line,
		    err->column, err->msg);
	else if (err->line > 0)
		snprintf(buf, len, "%s:%d: %s", err->file, err->line, err->msg);
	else
		snprintf(buf, len, "%s: %s", err->file, err->msg);
}

const char *
cfg_balance_name(enum cfg_balance balance)
{
	return balance_names[balance];
}

const char *
cfg_log_level_name(enum cfg_log_level level)
{
	return level_names[level];
}

struct cfg_pool *
cfg_pool_find(const struct shunt_config *cfg, const char *name)
{
	size_t	 i;

	for (i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}
