/*
 * Unit tests for master/cfg.c: defaults, every value form, and invalid
 * configurations each asserting its message and its line:column.
 *
 * In the bad configs an '@' marks where the error must point; the test
 * removes it and computes the expected line and column from its offset.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cfg.h"
#include "tap.h"
#include "tlsgen.h"

#define LSN "\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": \"web\"}]"
#define POOLS "\"pools\": {\"web\": {\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}"

static struct shunt_config *
load(const char *text, struct cfg_error *err)
{
	return cfg_load_buffer(text, strlen(text), "test.json", "/base", err);
}

struct bad_case {
	const char	*text;		/* '@' marks the expected position */
	const char	*msg;		/* a substring of the message */
};

#define X10 "xxxxxxxxxx"
#define NAME64 X10 X10 X10 X10 X10 X10 "xxxx"

static const struct bad_case bad_cases[] = {
	/* what the health store can hold */
	{ "{\"workers\": @65, " LSN ", " POOLS "}",
	    "workers: must be between 1 and 64, got 65: the health store "
	    "keeps the pids of at most 64 workers" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\"}]},\n @\"" NAME64 "\": {\"peers\": "
	    "[{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "pools: pool name \"xxxxxxxxxxxxxxxxxxxx...\" is 64 bytes long: at "
	    "most 63 fit the health store" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "@\"" X10 X10 X10 X10 X10 "xxxxxxx.example:80\"}]}}}",
	    "pools.web.peers[0].address: address \"xxxxxxxxxxxxxxxxxxxx...\" "
	    "is 68 bytes long: at most 63 fit the health store" },
	/* what start would trip over in the file system */
	{ "{\"state_dir\": @\"/dev/null\", " LSN ", " POOLS "}",
	    "state_dir: \"/dev/null\" is not a directory" },
	{ "{\"state_dir\": @\"/dev/null/state\", " LSN ", " POOLS "}",
	    "state_dir: \"/dev/null/state\": a component of the path is not "
	    "a directory" },
	{ "{\"log\": {\"error\": @\"/tmp\"}, " LSN ", " POOLS "}",
	    "log.error: \"/tmp\" is a directory, not a log file" },
	{ "{\"log\": {\"access\": @\"/\"}, " LSN ", " POOLS "}",
	    "log.access: \"/\" is a directory, not a log file" },
	/* syntax: jansson's position */
	{ "{\"workers\": 2,\n  @}", "invalid JSON" },
	{ "{\"workers\": tr@u}", "invalid JSON: invalid token near 'tru'" },
	{ "{\"pools\": {}\n\n@", "invalid JSON" },
	{ "", "the file is empty" },
	{ "@[1, 2]", "the top level must be a JSON object" },
	/* unknown keys, with and without a suggestion */
	{ "{@\"worker\": 2, " LSN ", " POOLS "}",
	    "unknown key \"worker\" in the configuration (did you mean "
	    "\"workers\"?)" },
	{ "{" LSN ", \"pools\": {\"web\": {@\"conect_timeout\": \"1s\", "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "pools.web: unknown key \"conect_timeout\" in a pool (did you mean "
	    "\"connect_timeout\"?)" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", @\"colour\": \"red\"}]}}}",
	    "pools.web.peers[0]: unknown key \"colour\" in a peer" },
	{ "{\"limits\": {@\"header_timout\": \"1s\"}, " LSN ", " POOLS "}",
	    "(did you mean \"header_timeout\"?)" },
	/* wrong types */
	{ "{\"workers\": @\"4\", " LSN ", " POOLS "}",
	    "workers: expected an integer, got a string" },
	{ "{\"workers\": @2.5, " LSN ", " POOLS "}",
	    "workers: expected an integer, got a number with a fraction" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"backup\": @\"yes\"}]}}}",
	    "pools.web.peers[0].backup: expected true or false, got a string" },
	{ "{\"listeners\": @{}, " POOLS "}",
	    "listeners: expected an array of listeners, got an object" },
	{ "{" LSN ", \"pools\": @[]}",
	    "pools: expected an object of named pools" },
	{ "{\"log\": @\"stderr\", " LSN ", " POOLS "}",
	    "log: expected log (a JSON object), got a string" },
	/* missing required keys */
	{ "@{" POOLS "}", "missing required key \"listeners\"" },
	{ "@{" LSN "}", "missing required key \"pools\"" },
	{ "{\"listeners\": [@{\"pool\": \"web\"}], " POOLS "}",
	    "listeners[0]: missing required key \"listen\" in a listener" },
	{ "{\"listeners\": [@{\"listen\": \"127.0.0.1:8080\"}], " POOLS "}",
	    "listeners[0]: missing required key \"pool\"" },
	{ "{" LSN ", \"pools\": {\"web\": @{}}}",
	    "pools.web: missing required key \"peers\" in a pool" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [@{\"weight\": 2}]}}}",
	    "pools.web.peers[0]: missing required key \"address\"" },
	/* empty collections */
	{ "{\"listeners\": @[], " POOLS "}", "no listeners" },
	{ "{" LSN ", \"pools\": @{}}", "no pools" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": @[]}}}",
	    "pool \"web\" has no peers" },
	/* durations */
	{ "{" LSN ", \"pools\": {\"web\": {\"connect_timeout\": @\"100\", "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "duration \"100\" has no unit" },
	{ "{" LSN ", \"pools\": {\"web\": {\"read_timeout\": @\"5x\", "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "unknown unit \"x\" in duration \"5x\"" },
	{ "{" LSN ", \"pools\": {\"web\": {\"read_timeout\": @100, "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "expected a duration string such as \"250ms\" or \"2s\", got an "
	    "integer (add a unit" },
	{ "{" LSN ", \"pools\": {\"web\": {\"connect_timeout\": @\"0s\", "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "connect_timeout: must be longer than 0" },
	{ "{\"limits\": {\"header_timeout\": @\"-1s\"}, " LSN ", " POOLS "}",
	    "invalid duration \"-1s\"" },
	{ "{" LSN ", \"pools\": {\"web\": {\"health\": {\"fail_timeout\": "
	    "@\"99999999999999999999s\"}, \"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\"}]}}}", "is too large" },
	/* sizes */
	{ "{\"limits\": {\"max_header_size\": @\"32q\"}, " LSN ", " POOLS "}",
	    "unknown unit \"q\" in size \"32q\"" },
	{ "{\"limits\": {\"max_header_size\": @100}, " LSN ", " POOLS "}",
	    "max_header_size: must be between 1024 and 16777216, got 100" },
	{ "{\"limits\": {\"max_body_size\": @-5}, " LSN ", " POOLS "}",
	    "must not be negative" },
	/* addresses */
	{ "{\"listeners\": [{\"listen\": @\"127.0.0.1\", \"pool\": \"web\"}], "
	    POOLS "}", "address \"127.0.0.1\" has no port" },
	{ "{\"listeners\": [{\"listen\": @\"127.0.0.1:99999\", \"pool\": "
	    "\"web\"}], " POOLS "}", "invalid port \"99999\"" },
	{ "{\"listeners\": [{\"listen\": @\"127.0.0.1:http\", \"pool\": "
	    "\"web\"}], " POOLS "}", "invalid port \"http\"" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "@\"[::1:9001\"}]}}}", "lacks the closing ']'" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "@\"::1:9001\"}]}}}", "put an IPv6 host in brackets" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "@\"[zz::1]:9001\"}]}}}", "\"zz::1\" is not an IPv6 address" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "@\":9001\"}]}}}", "has no host" },
	/* references and duplicates */
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "@\"wbe\"}], " POOLS "}",
	    "listeners[0].pool: undefined pool \"wbe\" (did you mean "
	    "\"web\"?)" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"routes\": [{\"host\": \"a.example\", \"pool\": "
	    "@\"api\"}]}], " POOLS "}",
	    "listeners[0].routes[0].pool: undefined pool \"api\"" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\"}]},\n  @\"web\": {\"peers\": []}}}",
	    "pools: duplicate pool \"web\" (first defined at line 1)" },
	{ "{\"workers\": 1, " LSN ", " POOLS ", @\"workers\": 2}",
	    "duplicate key \"workers\" (first at line 1, column 2)" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\"}, {\"address\": @\"127.0.0.1:9001\"}]}}}",
	    "duplicate peer \"127.0.0.1:9001\" in pool \"web\"" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\"}, {\"listen\": @\"127.0.0.1:8080\", \"pool\": \"web\"}], "
	    POOLS "}", "address \"127.0.0.1:8080\" is already used by "
	    "listeners[0]" },
	/* values out of range or inconsistent */
	{ "{\"workers\": @0, " LSN ", " POOLS "}",
	    "workers: must be at least 1, got 0" },
	{ "{" LSN ", \"pools\": {\"web\": {\"retry\": {\"tries\": @0}, "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "retry.tries: must be at least 1, got 0: the first try counts" },
	{ "{" LSN ", \"pools\": {\"web\": {\"health\": {\"max_fails\": @0}, "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "health.max_fails: must be at least 1" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"weight\": @0}]}}}",
	    "weight: must be at least 1, got 0" },
	{ "{" LSN ", \"pools\": {\"web\": {\"balance\": @\"least_con\", "
	    "\"peers\": [{\"address\": \"127.0.0.1:9001\"}]}}}",
	    "unknown value \"least_con\": expected \"round_robin\" or "
	    "\"least_conn\" (did you mean \"least_conn\"?)" },
	{ "{\"log\": {\"level\": @\"verbose\"}, " LSN ", " POOLS "}",
	    "log.level: unknown value \"verbose\": expected \"error\", "
	    "\"warn\", \"info\" or \"debug\"" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", @\"sni\": \"a.example\"}]}}}",
	    "\"sni\" applies to TLS peers only" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": @[{\"address\": "
	    "\"127.0.0.1:9001\", \"backup\": true}]}}}",
	    "every peer of pool \"web\" is a backup" },
	{ "{" LSN ", \"pools\": {@\"we b\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\"}]}}}",
	    "pool name \"we b\" may only contain" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"routes\": [@{\"pool\": \"web\"}]}], " POOLS "}",
	    "a route needs \"host\", \"path_prefix\" or both" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"routes\": [{\"path_prefix\": @\"api\", \"pool\": "
	    "\"web\"}]}], " POOLS "}", "path_prefix \"api\" must start with" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"routes\": [{\"host\": @\"a.example:80\", \"pool\": "
	    "\"web\"}]}], " POOLS "}", "must not carry a port" },
	{ "{\"user\": @\"no-such-user-for-shunt\", " LSN ", " POOLS "}",
	    "user \"no-such-user-for-shunt\" does not exist" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": {\"cert\": @\"/nonexistent/site.pem\", \"key\": "
	    "\"/nonexistent/site.key\"}}], " POOLS "}",
	    "cannot read certificate file \"/nonexistent/site.pem\"" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": @{\"cert\": \"/nonexistent/site.pem\"}}], "
	    POOLS "}", "missing required key \"key\" in tls" },
	{ "{\"pid_file\": @\"\", " LSN ", " POOLS "}",
	    "pid_file: must not be empty" },
	/* TLS keys: typos, types, keys that need "tls" */
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": true, @\"ca_flie\": \"ca.pem\"}]}}}",
	    "pools.web.peers[0]: unknown key \"ca_flie\" in a peer (did you "
	    "mean \"ca_file\"?)" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": true, @\"verfy\": false}]}}}",
	    "unknown key \"verfy\" in a peer (did you mean \"verify\"?)" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": true, \"verify\": @\"no\"}]}}}",
	    "pools.web.peers[0].verify: expected true or false, got a string" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": @\"yes\"}]}}}",
	    "pools.web.peers[0].tls: expected true or false, got a string" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": true, \"sni\": @\"\"}]}}}",
	    "pools.web.peers[0].sni: must not be empty" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": false, @\"verify\": false}]}}}",
	    "\"verify\" applies to TLS peers only: add \"tls\": true" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", @\"ca_file\": \"/etc/ssl/ca.pem\"}]}}}",
	    "\"ca_file\" applies to TLS peers only" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\", \"tls\": true, \"ca_file\": "
	    "@\"/nonexistent/ca.pem\"}]}}}",
	    "cannot read CA file \"/nonexistent/ca.pem\"" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": {\"cert\": \"a.pem\", \"key\": \"a.key\", "
	    "@\"chian\": \"c.pem\"}}], " POOLS "}",
	    "listeners[0].tls: unknown key \"chian\" in tls (did you mean "
	    "\"chain\"?)" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": {@\"crt\": \"a.pem\", \"key\": \"a.key\"}}], "
	    POOLS "}", "unknown key \"crt\" in tls (did you mean \"cert\"?)" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": @true}], " POOLS "}",
	    "listeners[0].tls: expected tls (a JSON object), got a boolean" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", @\"tsl\": {}}], " POOLS "}",
	    "unknown key \"tsl\" in a listener (did you mean \"tls\"?)" },
};

/*
 * TLS files that exist but are wrong: made in a temporary directory, which
 * the configs below use as their base, so their relative paths resolve
 * there as every path of a config does.
 */
static const struct bad_case tls_file_cases[] = {
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\",\n \"tls\": {\"cert\": \"leaf.pem\",\n  \"key\": "
	    "@\"garbage.pem\"}}], " POOLS "}",
	    "listeners[0].tls.key: key file \"%s/garbage.pem\" holds no usable "
	    "PEM private key" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\",\n \"tls\": {\"cert\": \"leaf.pem\", \"key\": "
	    "@\"other.key\"}}], " POOLS "}",
	    "listeners[0].tls.key: key file \"%s/other.key\" does not match "
	    "the certificate in \"%s/leaf.pem\"" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": {\"cert\": @\"garbage.pem\", \"key\": "
	    "\"leaf.key\"}}], " POOLS "}",
	    "listeners[0].tls.cert: certificate file \"%s/garbage.pem\" holds "
	    "no usable PEM certificate" },
	{ "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": {\"cert\": \"leaf.pem\", \"key\": "
	    "\"leaf.key\", \"chain\": @\"garbage.pem\"}}], " POOLS "}",
	    "listeners[0].tls.chain: chain file \"%s/garbage.pem\" holds no "
	    "usable PEM certificate" },
	{ "{" LSN ", \"pools\": {\"web\": {\"peers\": [{\"address\": "
	    "\"127.0.0.1:9001\"},\n {\"address\": \"127.0.0.1:9002\", "
	    "\"tls\": true, \"ca_file\": @\"garbage.pem\"}]}}}",
	    "pools.web.peers[1].ca_file: CA file \"%s/garbage.pem\" holds no "
	    "usable PEM certificate" },
};

/* Strip the '@' and compute its 1-based line and column. */
static char *
unmark(const char *marked, int *line, int *col)
{
	char		*out = malloc(strlen(marked) + 1), *o = out;
	const char	*p;
	int		 l = 1, c = 1;

	*line = *col = 0;
	for (p = marked; *p != '\0'; p++) {
		if (*p == '@') {
			*line = l;
			*col = c;
			continue;
		}
		*o++ = *p;
		if (*p == '\n') {
			l++;
			c = 1;
		} else
			c++;
	}
	*o = '\0';
	return out;
}

static void
test_bad_configs(void)
{
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	char			*text;
	size_t			 i;
	int			 line, col;

	CU_ASSERT(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 30);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		text = unmark(bad_cases[i].text, &line, &col);
		cfg = load(text, &err);
		if (!tap_result(cfg == NULL && strstr(err.msg,
		    bad_cases[i].msg) != NULL && err.line == line &&
		    err.column == col, "cfg: bad config %zu: %s", i,
		    bad_cases[i].msg)) {
			printf("#   got %d:%d \"%s\"\n#   want %d:%d "
			    "\"...%s...\"\n", err.line, err.column, err.msg,
			    line, col, bad_cases[i].msg);
			CU_FAIL("bad config case");
		}
		CU_ASSERT_STRING_EQUAL(err.file, "test.json");
		cfg_free(cfg);
		free(text);
	}
}

static void
test_tls_files(void)
{
	const char *good =
	    "{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", \"pool\": "
	    "\"web\", \"tls\": {\"cert\": \"leaf.pem\", \"key\": "
	    "\"leaf.key\", \"chain\": \"ca-chain.pem\"}},\n"
	    " {\"listen\": \"127.0.0.1:8081\", \"pool\": \"web\"}],\n"
	    " \"pools\": {\"web\": {\"peers\": [\n"
	    "  {\"address\": \"127.0.0.1:9001\", \"tls\": true, \"ca_file\": "
	    "\"ca.pem\"},\n"
	    "  {\"address\": \"127.0.0.1:9002\", \"tls\": true, \"ca_file\": "
	    "\"ca.pem\", \"sni\": \"b.example\"},\n"
	    "  {\"address\": \"127.0.0.1:9003\", \"tls\": true, \"verify\": "
	    "false},\n"
	    "  {\"address\": \"127.0.0.1:9004\"}]},\n"
	    "  \"api\": {\"peers\": [{\"address\": \"127.0.0.1:9005\", "
	    "\"tls\": true, \"ca_file\": \"ca.pem\"}]}}}";
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	struct cfg_pool		*web;
	char			 dir[4096], path[4200], want[1024], *text;
	FILE			*fp;
	size_t			 i;
	int			 line, col;

	if (tlsgen_tmpdir(dir, sizeof(dir)) == NULL || tlsgen_make(dir) != 0) {
		CU_FAIL("cannot make test certificates");
		return;
	}
	cfg = cfg_load_buffer(good, strlen(good), "tls.json", dir, &err);
	if (cfg == NULL)
		printf("# %d:%d %s\n", err.line, err.column, err.msg);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg != NULL) {
		CU_ASSERT_PTR_NOT_NULL(cfg->listeners[0].tls);
		CU_ASSERT_PTR_NOT_NULL(cfg->listeners[0].tls->ssl_ctx);
		CU_ASSERT_STRING_EQUAL(cfg->listeners[0].tls->cert,
		    tlsgen_path(path, sizeof(path), dir, "leaf.pem"));
		CU_ASSERT_PTR_NULL(cfg->listeners[1].tls);
		web = &cfg->pools[0];
		/* ca_file resolves against the config's directory */
		CU_ASSERT_STRING_EQUAL(web->peers[0].ca_file,
		    tlsgen_path(path, sizeof(path), dir, "ca.pem"));
		CU_ASSERT_PTR_NOT_NULL(web->peers[0].ssl_ctx);
		tap_result(web->peers[0].ssl_ctx == web->peers[1].ssl_ctx &&
		    web->peers[0].ssl_ctx == cfg->pools[1].peers[0].ssl_ctx,
		    "cfg: TLS peers alike share one client context, across "
		    "pools");
		tap_result(web->peers[2].ssl_ctx != NULL &&
		    web->peers[2].ssl_ctx != web->peers[0].ssl_ctx,
		    "cfg: verify false gets a context of its own");
		CU_ASSERT_PTR_NULL(web->peers[3].ssl_ctx);
		CU_ASSERT_FALSE(web->peers[2].verify);
		CU_ASSERT_TRUE(web->peers[1].verify);
		cfg_free(cfg);
	}

	for (i = 0; i < sizeof(tls_file_cases) / sizeof(tls_file_cases[0]);
	    i++) {
		text = unmark(tls_file_cases[i].text, &line, &col);
		snprintf(want, sizeof(want), tls_file_cases[i].msg, dir, dir);
		cfg = cfg_load_buffer(text, strlen(text), "tls.json", dir, &err);
		if (!tap_result(cfg == NULL && strstr(err.msg, want) != NULL &&
		    err.line == line && err.column == col,
		    "cfg: bad TLS file %zu: %s", i, tls_file_cases[i].msg)) {
			printf("#   got %d:%d \"%s\"\n#   want %d:%d "
			    "\"...%s...\"\n", err.line, err.column, err.msg,
			    line, col, want);
			CU_FAIL("bad TLS file case");
		}
		cfg_free(cfg);
		free(text);
	}

	/* shuntctl's way: the same bad key file, not even looked at. */
	tlsgen_path(path, sizeof(path), dir, "notls.json");
	if ((fp = fopen(path, "w")) != NULL) {
		fputs("{\"listeners\": [{\"listen\": \"127.0.0.1:8080\", "
		    "\"pool\": \"web\", \"tls\": {\"cert\": \"leaf.pem\", "
		    "\"key\": \"garbage.pem\"}}], \"pools\": {\"web\": "
		    "{\"peers\": [{\"address\": \"127.0.0.1:9001\", \"tls\": "
		    "true, \"ca_file\": \"missing.pem\"}]}}}", fp);
		fclose(fp);
	}
	CU_ASSERT_PTR_NULL(cfg_load(path, &err));
	cfg = cfg_load_opts(path, CFG_LOAD_NO_TLS, &err);
	tap_result(cfg != NULL && cfg->listeners[0].tls != NULL &&
	    cfg->listeners[0].tls->ssl_ctx == NULL &&
	    cfg->pools[0].peers[0].ssl_ctx == NULL, "cfg: CFG_LOAD_NO_TLS "
	    "reads no certificate, key or CA file");
	cfg_free(cfg);
	(void)unlink(path);
	tlsgen_cleanup(dir);
}

static void
test_error_format(void)
{
	struct cfg_error	 err;
	char			 buf[1024];

	CU_ASSERT_PTR_NULL(load("{\"workers\": \"x\", " LSN ", " POOLS "}",
	    &err));
	cfg_error_format(&err, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "test.json:1:13: workers: expected an "
	    "integer, got a string");
	/* One line, always. */
	CU_ASSERT_PTR_NULL(strchr(buf, '\n'));
}

static void
test_defaults(void)
{
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	struct cfg_pool		*pool;
	struct cfg_listener	*l;

	cfg = load("{" LSN ", " POOLS "}", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT(cfg->workers >= 1);
	CU_ASSERT_PTR_NULL(cfg->user);
	CU_ASSERT_PTR_NULL(cfg->pid_file);
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, SHUNT_STATE_DIR);
	CU_ASSERT_PTR_NULL(cfg->log.error);
	CU_ASSERT_PTR_NULL(cfg->log.access);
	CU_ASSERT_EQUAL(cfg->log.level, CFG_LOG_INFO);
	CU_ASSERT_EQUAL(cfg->limits.header_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->limits.body_timeout_ms, 60000);
	CU_ASSERT_EQUAL(cfg->limits.keepalive_timeout_ms, 75000);
	CU_ASSERT_EQUAL(cfg->limits.shutdown_timeout_ms, 30000);
	CU_ASSERT_EQUAL(cfg->limits.max_header_size, 32 * 1024);
	CU_ASSERT_EQUAL(cfg->limits.max_headers, 100);
	CU_ASSERT_EQUAL(cfg->limits.max_body_size, 1024ULL * 1024 * 1024);
	CU_ASSERT_EQUAL(cfg->limits.max_connections, 10000);

	CU_ASSERT_EQUAL_FATAL(cfg->npools, 1);
	pool = &cfg->pools[0];
	CU_ASSERT_STRING_EQUAL(pool->name, "web");
	CU_ASSERT_EQUAL(pool->balance, CFG_BALANCE_ROUND_ROBIN);
	CU_ASSERT_EQUAL(pool->timeouts.connect_ms, 1000);
	CU_ASSERT_EQUAL(pool->timeouts.read_ms, 60000);
	CU_ASSERT_EQUAL(pool->timeouts.send_ms, 60000);
	CU_ASSERT_EQUAL(pool->retry.tries, 2);
	CU_ASSERT_FALSE(pool->retry.non_idempotent);
	CU_ASSERT_EQUAL(pool->retry.buffer, 64 * 1024);
	CU_ASSERT_EQUAL(pool->retry.deadline_ms, 0);
	CU_ASSERT_EQUAL(pool->health.max_fails, 1);
	CU_ASSERT_EQUAL(pool->health.fail_timeout_ms, 10000);
	CU_ASSERT_EQUAL(pool->keepalive.max_idle, 32);
	CU_ASSERT_EQUAL(pool->keepalive.idle_timeout_ms, 60000);
	CU_ASSERT_EQUAL_FATAL(pool->npeers, 1);
	CU_ASSERT_EQUAL(pool->peers[0].weight, 1);
	CU_ASSERT_FALSE(pool->peers[0].backup);
	CU_ASSERT_FALSE(pool->peers[0].tls);
	CU_ASSERT_TRUE(pool->peers[0].verify);
	CU_ASSERT_PTR_NULL(pool->peers[0].sni);
	CU_ASSERT_EQUAL(pool->peers[0].timeouts.connect_ms, 1000);
	CU_ASSERT_PTR_EQUAL(pool->peers[0].pool, pool);

	CU_ASSERT_EQUAL_FATAL(cfg->nlisteners, 1);
	l = &cfg->listeners[0];
	CU_ASSERT_PTR_EQUAL(l->pool, pool);
	CU_ASSERT_EQUAL(l->nroutes, 0);
	CU_ASSERT_PTR_NULL(l->tls);
	CU_ASSERT_EQUAL(l->limits.header_timeout_ms, 10000);
	cfg_free(cfg);
}

static void
test_full_config(void)
{
	const char *text =
	    "{\n"
	    "  \"workers\": 4,\n"
	    "  \"pid_file\": \"run/shunt.pid\",\n"
	    "  \"state_dir\": \"/var/tmp/shunt-state\",\n"
	    "  \"log\": {\"error\": \"log/error.log\", \"level\": \"debug\"},\n"
	    "  \"limits\": {\"header_timeout\": \"5s\", \"max_body_size\": 0,"
	    " \"max_header_size\": 8192},\n"
	    "  \"listeners\": [\n"
	    "    {\"listen\": \"*:8080\", \"pool\": \"web\",\n"
	    "     \"limits\": {\"keepalive_timeout\": \"5s\"},\n"
	    "     \"routes\": [{\"host\": \"API.Example.com\", \"path_prefix\":"
	    " \"/v1/\", \"pool\": \"api\"},\n"
	    "                {\"path_prefix\": \"/static/\", \"pool\": "
	    "\"static\"}]},\n"
	    "    {\"listen\": \"[::1]:8081\", \"pool\": \"api\"}\n"
	    "  ],\n"
	    "  \"pools\": {\n"
	    "    \"web\": {\"balance\": \"least_conn\", \"connect_timeout\": "
	    "\"100ms\",\n"
	    "      \"retry\": {\"tries\": 3, \"non_idempotent\": true, "
	    "\"buffer\": \"1m\", \"deadline\": \"1m30s\"},\n"
	    "      \"health\": {\"max_fails\": 2, \"fail_timeout\": \"1h\"},\n"
	    "      \"keepalive\": {\"max_idle\": 0},\n"
	    "      \"peers\": [{\"address\": \"127.0.0.1:9001\", \"weight\": 3},"
	    "\n"
	    "                {\"address\": \"localhost:9002\", "
	    "\"connect_timeout\": \"2s\", \"backup\": true},\n"
	    "                {\"address\": \"[::1]:9003\", \"tls\": true, "
	    "\"sni\": \"one.example\", \"verify\": false}]},\n"
	    "    \"static\": {\"peers\": [{\"address\": \"127.0.0.2:80\"}]},\n"
	    "    \"api\": {\"peers\": [{\"address\": \"127.0.0.3:80\"}]}\n"
	    "  }\n"
	    "}\n";
	struct shunt_config		*cfg;
	struct cfg_error		 err;
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	struct cfg_pool			*web;
	char				 addr[64];

	cfg = load(text, &err);
	if (cfg == NULL)
		printf("# %d:%d %s\n", err.line, err.column, err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->workers, 4);
	/* relative paths resolve against the config file's directory */
	CU_ASSERT_STRING_EQUAL(cfg->pid_file, "/base/run/shunt.pid");
	CU_ASSERT_STRING_EQUAL(cfg->log.error, "/base/log/error.log");
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/var/tmp/shunt-state");
	CU_ASSERT_EQUAL(cfg->log.level, CFG_LOG_DEBUG);
	CU_ASSERT_EQUAL(cfg->limits.header_timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->limits.max_body_size, 0);
	CU_ASSERT_EQUAL(cfg->limits.max_header_size, 8192);

	/* pools in config order, not hash order */
	CU_ASSERT_EQUAL_FATAL(cfg->npools, 3);
	CU_ASSERT_STRING_EQUAL(cfg->pools[0].name, "web");
	CU_ASSERT_STRING_EQUAL(cfg->pools[1].name, "static");
	CU_ASSERT_STRING_EQUAL(cfg->pools[2].name, "api");
	CU_ASSERT_EQUAL(cfg->pools[2].index, 2);

	web = cfg_pool_find(cfg, "web");
	CU_ASSERT_PTR_EQUAL_FATAL(web, &cfg->pools[0]);
	CU_ASSERT_EQUAL(web->balance, CFG_BALANCE_LEAST_CONN);
	CU_ASSERT_EQUAL(web->timeouts.connect_ms, 100);
	CU_ASSERT_EQUAL(web->retry.tries, 3);
	CU_ASSERT_TRUE(web->retry.non_idempotent);
	CU_ASSERT_EQUAL(web->retry.buffer, 1024 * 1024);
	CU_ASSERT_EQUAL(web->retry.deadline_ms, 90000);
	CU_ASSERT_EQUAL(web->health.max_fails, 2);
	CU_ASSERT_EQUAL(web->health.fail_timeout_ms, 3600000);
	CU_ASSERT_EQUAL(web->keepalive.max_idle, 0);
	CU_ASSERT_EQUAL_FATAL(web->npeers, 3);
	CU_ASSERT_EQUAL(web->peers[0].weight, 3);
	CU_ASSERT_EQUAL(web->peers[0].timeouts.connect_ms, 100);
	CU_ASSERT_EQUAL(web->peers[0].addr.port, 9001);
	sin = (const struct sockaddr_in *)&web->peers[0].addr.sa;
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 9001);
	inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
	CU_ASSERT_STRING_EQUAL(addr, "127.0.0.1");
	/* per-peer override beats the pool's value */
	CU_ASSERT_EQUAL(web->peers[1].timeouts.connect_ms, 2000);
	CU_ASSERT_TRUE(web->peers[1].backup);
	CU_ASSERT_STRING_EQUAL(web->peers[1].addr.host, "localhost");
	CU_ASSERT_TRUE(web->peers[2].tls);
	CU_ASSERT_FALSE(web->peers[2].verify);
	CU_ASSERT_STRING_EQUAL(web->peers[2].sni, "one.example");
	sin6 = (const struct sockaddr_in6 *)&web->peers[2].addr.sa;
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(web->peers[2].addr.host, "::1");
	CU_ASSERT_STRING_EQUAL(web->peers[2].addr.text, "[::1]:9003");

	CU_ASSERT_EQUAL_FATAL(cfg->nlisteners, 2);
	sin = (const struct sockaddr_in *)&cfg->listeners[0].addr.sa;
	CU_ASSERT_EQUAL(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 8080);
	/* listener limits start from the global ones */
	CU_ASSERT_EQUAL(cfg->listeners[0].limits.keepalive_timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->listeners[0].limits.header_timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->listeners[1].limits.keepalive_timeout_ms, 75000);
	CU_ASSERT_EQUAL_FATAL(cfg->listeners[0].nroutes, 2);
	CU_ASSERT_STRING_EQUAL(cfg->listeners[0].routes[0].host,
	    "api.example.com");
	CU_ASSERT_PTR_EQUAL(cfg->listeners[0].routes[0].pool, &cfg->pools[2]);
	CU_ASSERT_PTR_NULL(cfg->listeners[0].routes[1].host);
	CU_ASSERT_PTR_EQUAL(cfg->listeners[0].routes[1].pool, &cfg->pools[1]);
	CU_ASSERT_PTR_EQUAL(cfg->listeners[1].pool, &cfg->pools[2]);
	cfg_free(cfg);
}

static void
test_duration_forms(void)
{
	static const struct {
		const char	*text;
		uint64_t	 ms;
	} forms[] = {
		{ "250ms", 250 }, { "2s", 2000 }, { "1m", 60000 },
		{ "1h", 3600000 }, { "1d", 86400000 }, { "1m30s", 90000 },
		{ "1s500ms", 1500 }, { "1ms", 1 },
	};
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	char			 text[512];
	size_t			 i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), "{" LSN ", \"pools\": {\"web\": "
		    "{\"read_timeout\": \"%s\", \"peers\": [{\"address\": "
		    "\"127.0.0.1:9001\"}]}}}", forms[i].text);
		cfg = load(text, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_EQUAL(cfg->pools[0].timeouts.read_ms, forms[i].ms);
		cfg_free(cfg);
	}
}

static void
test_size_forms(void)
{
	static const struct {
		const char	*json;
		uint64_t	 bytes;
	} forms[] = {
		{ "4096", 4096 }, { "\"4096\"", 4096 }, { "\"32k\"", 32768 },
		{ "\"32K\"", 32768 }, { "\"2m\"", 2097152 },
		{ "\"1g\"", 1073741824 },
	};
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	char			 text[512];
	size_t			 i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), "{\"limits\": {\"max_body_size\":"
		    " %s}, " LSN ", " POOLS "}", forms[i].json);
		cfg = load(text, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_EQUAL(cfg->limits.max_body_size, forms[i].bytes);
		cfg_free(cfg);
	}
}

static void
test_load_file_errors(void)
{
	struct cfg_error	 err;
	char			 buf[1024];

	CU_ASSERT_PTR_NULL(cfg_load("/nonexistent/shunt.json", &err));
	cfg_error_format(&err, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "/nonexistent/shunt.json: cannot open: "
	    "No such file or directory");
}

/*
 * Loading is linear in the number of peers and pools: 100,000 of each
 * took 40 s when duplicate peers and keys were searched linearly.  The
 * bound is far above the ~0.5 s it takes now, on a slow or busy machine
 * or under a sanitizer, and far below the quadratic time.
 */
#define BIG_N		100000
#define BIG_BOUND_S	20.0

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* BIG_N peers in one pool, or BIG_N pools of one peer; dup: peer i == 3. */
static char *
big_config(int pools, size_t dup)
{
	size_t	 cap = (size_t)BIG_N * 64 + 256, off, i;
	char	*text;

	if ((text = malloc(cap)) == NULL)
		return NULL;
	off = (size_t)snprintf(text, cap, "{\"listeners\": [{\"listen\": "
	    "\"127.0.0.1:8080\", \"pool\": \"p0\"}], \"pools\": {%s",
	    pools ? "" : "\"p0\": {\"peers\": [");
	for (i = 0; i < BIG_N; i++) {
		size_t	 a = i == dup ? 3 : i;

		if (pools)
			off += (size_t)snprintf(text + off, cap - off,
			    "%s\"p%zu\": {\"peers\": [{\"address\": "
			    "\"10.%zu.%zu.%zu:80\"}]}", i ? ", " : "", i,
			    a >> 16 & 255, a >> 8 & 255, a & 255);
		else
			off += (size_t)snprintf(text + off, cap - off,
			    "%s{\"address\": \"10.%zu.%zu.%zu:80\"}",
			    i ? ", " : "", a >> 16 & 255, a >> 8 & 255,
			    a & 255);
	}
	snprintf(text + off, cap - off, "%s}}", pools ? "" : "]}");
	return text;
}

static void
test_big_configs(void)
{
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	char			*text, msg[1024];
	double			 t0 = now_s();

	text = big_config(0, (size_t)-1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	cfg = load(text, &err);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg != NULL)
		CU_ASSERT_EQUAL(cfg->pools[0].npeers, BIG_N);
	cfg_free(cfg);
	free(text);

	text = big_config(1, (size_t)-1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	cfg = load(text, &err);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg != NULL)
		CU_ASSERT_EQUAL(cfg->npools, BIG_N);
	cfg_free(cfg);
	free(text);

	/* The last peer repeats the fourth: still found, and named. */
	text = big_config(0, BIG_N - 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(load(text, &err));
	cfg_error_format(&err, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "duplicate peer \"10.0.0.3:80\" "
	    "in pool \"p0\": the same address as pools.p0.peers[3]"));
	free(text);

	fprintf(stderr, "# %d peers, %d pools, a duplicate: %.2f s\n", BIG_N,
	    BIG_N, now_s() - t0);
	CU_ASSERT(now_s() - t0 < BIG_BOUND_S);
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("cfg", NULL, NULL);
	CU_add_test(s, "bad configs: message and position", test_bad_configs);
	CU_add_test(s, "error format", test_error_format);
	CU_add_test(s, "defaults", test_defaults);
	CU_add_test(s, "full config", test_full_config);
	CU_add_test(s, "duration forms", test_duration_forms);
	CU_add_test(s, "size forms", test_size_forms);
	CU_add_test(s, "load file errors", test_load_file_errors);
	CU_add_test(s, "TLS certificate, key and CA files", test_tls_files);
	CU_add_test(s, "100,000 peers and pools in linear time",
	    test_big_configs);
	return tap_run_registry();
}
