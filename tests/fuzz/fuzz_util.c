/* fuzz_util.c: the wrapped symbols and helpers every fuzz harness links. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "fuzz.h"

size_t	fuzz_reserved;

int
__wrap_buf_reserve(struct buf *b, size_t want)
{
	fuzz_reserved = want;
	return __real_buf_reserve(b, want);
}

int
__wrap_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo	 h;

	if (hints != NULL)
		h = *hints;
	else {
		memset(&h, 0, sizeof(h));
		h.ai_family = AF_UNSPEC;
	}
	if (node != NULL && strcmp(node, "localhost") == 0)
		node = "127.0.0.1";
	h.ai_flags |= AI_NUMERICHOST;
	return __real_getaddrinfo(node, service, &h, res);
}

const struct cfg_limits *
fuzz_default_limits(void)
{
	static const char	 json[] = "{\"listeners\": [{\"listen\": "
	    "\"127.0.0.1:8080\", \"pool\": \"p\"}], \"pools\": {\"p\": "
	    "{\"peers\": [{\"address\": \"127.0.0.1:9\"}]}}}";
	static struct cfg_limits lim;
	static int		 loaded;
	struct shunt_config	*cfg;
	struct cfg_error	 err;

	/* Taken from a real load, so the harness follows cfg.c's defaults. */
	if (!loaded) {
		cfg = cfg_load_buffer(json, sizeof(json) - 1, "defaults",
		    NULL, &err);
		if (cfg == NULL)
			fuzz_fail("default config: %s", err.msg);
		lim = cfg->limits;
		cfg_free(cfg);
		loaded = 1;
	}
	return &lim;
}

void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}
