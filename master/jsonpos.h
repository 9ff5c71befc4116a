/*
 * jsonpos.h: where each value of a JSON text stands.
 *
 * jansson reports positions for syntax errors only.  To name line:column for
 * semantic errors too (unknown key, bad value, undefined pool), the loader
 * scans the text once more after jansson accepted it and records, for every
 * value, the position of its key and of the value itself under a readable
 * path such as `pools.web.peers[1].address`.
 */
#ifndef SHUNT_JSONPOS_H
#define SHUNT_JSONPOS_H

#include <stddef.h>

struct jpos_entry {
	char	*path;
	int	 key_line, key_col;	/* 0 for array elements and the root */
	int	 val_line, val_col;
};

struct jpos_map {
	struct jpos_entry	*entries;
	size_t			 n, cap;
};

/* A key that appears twice in one object: JSON allows it, shunt does not. */
struct jpos_dup {
	char	*parent;		/* path of the object */
	char	*key;
	int	 first_line, first_col;
	int	 line, col;		/* the second occurrence */
};

/*
 * Scan text (already accepted by jansson) into map.  Returns 0, or 1 when a
 * duplicate key was found (described in *dup, which the caller releases with
 * jpos_dup_clear()), or -1 on allocation failure.
 */
int	jpos_scan(const char *text, size_t len, struct jpos_map *map,
	    struct jpos_dup *dup);
void	jpos_free(struct jpos_map *map);
void	jpos_dup_clear(struct jpos_dup *dup);

/* The entry for path, or NULL. */
const struct jpos_entry *jpos_find(const struct jpos_map *map,
	    const char *path);

/*
 * Path building shared by the scanner and the loader so both spell paths
 * alike: `parent.key`, or `parent["odd key"]` when the key is not a plain
 * word, and `parent[i]`.  Return a malloc'ed string or NULL.
 */
char	*jpos_path_key(const char *parent, const char *key);
char	*jpos_path_index(const char *parent, size_t index);

#endif /* SHUNT_JSONPOS_H */
