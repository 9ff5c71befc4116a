/* units.c: parsing durations and sizes of the config. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

static const struct {
	const char	*name;
	uint64_t	 ms;
} duration_units[] = {
	/* "ms" before "m": the longest unit name must match first. */
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ "d", 24 * 60 * 60 * 1000 },
};

static int
units_digits(const char **p, uint64_t *value)
{
	uint64_t	 v = 0;
	const char	*s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -2;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*value = v;
	return 0;
}

int
units_parse_duration(const char *text, uint64_t *ms, char *why, size_t whylen)
{
	const char	*p = text;
	uint64_t	 total = 0, n;
	size_t		 i, len;
	int		 rc;

	if (*p == '\0') {
		snprintf(why, whylen, "empty duration: write a number and a "
		    "unit, e.g. \"250ms\" or \"2s\"");
		return -1;
	}
	while (*p != '\0') {
		if ((rc = units_digits(&p, &n)) == -2) {
			snprintf(why, whylen, "duration \"%s\" is too large",
			    text);
			return -1;
		} else if (rc == -1) {
			snprintf(why, whylen, "invalid duration \"%s\": "
			    "expected a whole number followed by a unit "
			    "(ms, s, m, h, d), e.g. \"250ms\" or \"2s\"", text);
			return -1;
		}
		if (*p == '\0') {
			snprintf(why, whylen, "duration \"%s\" has no unit: "
			    "use ms, s, m, h or d, e.g. \"%ss\"", text, text);
			return -1;
		}
		for (i = 0; i < sizeof(duration_units) /
		    sizeof(duration_units[0]); i++) {
			len = strlen(duration_units[i].name);
			if (strncmp(p, duration_units[i].name, len) == 0 &&
			    !isalpha((unsigned char)p[len]))
				break;
		}
		if (i == sizeof(duration_units) / sizeof(duration_units[0])) {
			len = 0;
			while (isalpha((unsigned char)p[len]))
				len++;
			snprintf(why, whylen, "unknown unit \"%.*s\" in "
			    "duration \"%s\": use ms, s, m, h or d",
			    (int)(len ? len : 1), p, text);
			return -1;
		}
		if (n > (UINT64_MAX - total) / duration_units[i].ms) {
			snprintf(why, whylen, "duration \"%s\" is too large",
			    text);
			return -1;
		}
		total += n * duration_units[i].ms;
		p += len;
	}
	*ms = total;
	return 0;
}

int
units_parse_size(const char *text, uint64_t *bytes, char *why, size_t whylen)
{
	const char	*p = text;
	uint64_t	 n, mult = 1;
	int		 rc;

	if ((rc = units_digits(&p, &n)) != 0) {
		if (rc == -2)
			snprintf(why, whylen, "size \"%s\" is too large", text);
		else
			snprintf(why, whylen, "invalid size \"%s\": expected "
			    "a whole number of bytes with an optional k, m or "
			    "g suffix, e.g. \"32k\"", text);
		return -1;
	}
	switch (tolower((unsigned char)*p)) {
	case '\0':
		break;
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		snprintf(why, whylen, "unknown unit \"%s\" in size \"%s\": "
		    "use k, m or g (or no unit for bytes)", p, text);
		return -1;
	}
	if (*p != '\0' && p[1] != '\0') {
		snprintf(why, whylen, "unknown unit \"%s\" in size \"%s\": "
		    "use k, m or g (or no unit for bytes)", p, text);
		return -1;
	}
	if (n > UINT64_MAX / mult) {
		snprintf(why, whylen, "size \"%s\" is too large", text);
		return -1;
	}
	*bytes = n * mult;
	return 0;
}

void
units_format_duration(uint64_t ms, char *buf, size_t buflen)
{
	size_t	 i, off = 0;
	int	 w;

	if (ms == 0) {
		snprintf(buf, buflen, "0ms");
		return;
	}
	buf[0] = '\0';
	for (i = sizeof(duration_units) / sizeof(duration_units[0]); i-- > 0;) {
		uint64_t unit = duration_units[i].ms;

		if (ms < unit)
			continue;
		w = snprintf(buf + off, buflen - off, "%llu%s",
		    (unsigned long long)(ms / unit), duration_units[i].name);
		if (w < 0 || (size_t)w >= buflen - off)
			return;
		off += (size_t)w;
		ms %= unit;
	}
}
