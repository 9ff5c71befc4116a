/*
 * units.h: durations ("250ms", "2s", "1m30s") and sizes ("32k", "1m", 4096).
 */
#ifndef SHUNT_UNITS_H
#define SHUNT_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a duration: one or more <digits><unit> groups, unit one of ms, s, m,
 * h, d ("1m30s").  Stores milliseconds in *ms and returns 0; on error
 * returns -1 and writes a sentence saying what is wrong into why.
 */
int	units_parse_duration(const char *text, uint64_t *ms, char *why,
	    size_t whylen);

/*
 * Parse a size string: <digits> with an optional k, m or g suffix (powers
 * of 1024, either case).  Same return convention as above.
 */
int	units_parse_size(const char *text, uint64_t *bytes, char *why,
	    size_t whylen);

/* Format milliseconds back as the shortest exact duration ("90s" -> "1m30s"). */
void	units_format_duration(uint64_t ms, char *buf, size_t buflen);

#endif /* SHUNT_UNITS_H */
