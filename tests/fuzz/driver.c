/*
 * driver.c: runs a fuzz harness's LLVMFuzzerTestOneInput() over files and
 * directories of files, without libFuzzer, so that every seed and every
 * regression input replays in `make check` with the normal compiler.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static size_t	 driver_runs;

/* Each input in a block of its own size: a read past it is reported. */
static int
driver_file(const char *path)
{
	FILE	*fp;
	uint8_t	*data = NULL, *grown;
	size_t	 len = 0, cap = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((grown = realloc(data, cap)) == NULL) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(data);
				fclose(fp);
				return -1;
			}
			data = grown;
		}
		if ((n = fread(data + len, 1, cap - len, fp)) == 0)
			break;
		len += n;
	}
	if (ferror(fp)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		free(data);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	if ((grown = malloc(len > 0 ? len : 1)) == NULL) {
		free(data);
		return -1;
	}
	memcpy(grown, data, len);
	free(data);
	fprintf(stderr, "running %s (%zu bytes)\n", path, len);
	(void)LLVMFuzzerTestOneInput(grown, len);
	free(grown);
	driver_runs++;
	return 0;
}

static int
driver_path(const char *path)
{
	struct dirent	**names;
	struct stat	  st;
	char		 *sub;
	int		  i, n, rc = 0;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return driver_file(path);
	/* Sorted, so a failing run names the same input every time. */
	if ((n = scandir(path, &names, NULL, alphasort)) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && rc == 0) {
			if ((sub = malloc(strlen(path) +
			    strlen(names[i]->d_name) + 2)) == NULL)
				rc = -1;
			else {
				sprintf(sub, "%s/%s", path, names[i]->d_name);
				rc = driver_path(sub);
				free(sub);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	int	 i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		if (driver_path(argv[i]) == -1)
			return 1;
	printf("%zu inputs\n", driver_runs);
	return 0;
}
