#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "tmpdir.h"

void
tmpdir_make(char *buf, size_t len, const char *name)
{
	const char	*base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(buf, len, "%s/%s.XXXXXX", base, name);
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
}

static int
tmpdir_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
tmpdir_remove(char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}
