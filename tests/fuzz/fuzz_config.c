/*
 * fuzz_config.c: libFuzzer harness for the config loader, the input as
 * the JSON text of a config.  A loaded config must free whole (the leak
 * checker sees the rest); a rejected one must leave an error that formats.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "cfg.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	char			 line[CFG_ERR_MSG_MAX + 512];

	/* Relative TLS paths resolve in a directory that holds no files. */
	memset(&err, 0xa5, sizeof(err));
	cfg = cfg_load_buffer((const char *)data, size, "fuzz.json",
	    "/nonexistent", &err);
	if (cfg != NULL) {
		if (cfg->nlisteners == 0 || cfg->npools == 0)
			fuzz_fail("a config without listeners or pools loaded");
		cfg_free(cfg);
		return 0;
	}
	if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL ||
	    memchr(err.file, '\0', sizeof(err.file)) == NULL)
		fuzz_fail("error record not terminated");
	if (err.msg[0] == '\0')
		fuzz_fail("rejected without a message");
	if (err.line < 0 || err.column < 0)
		fuzz_fail("negative position %d:%d", err.line, err.column);
	cfg_error_format(&err, line, sizeof(line));
	return 0;
}
