/* Unit tests for master/units.c: durations and sizes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <CUnit/CUnit.h>

#include "tap.h"
#include "units.h"

static void
test_durations_ok(void)
{
	static const struct {
		const char	*text;
		uint64_t	 ms;
	} ok[] = {
		{ "0ms", 0 }, { "250ms", 250 }, { "2s", 2000 },
		{ "1m", 60000 }, { "1h", 3600000 }, { "2d", 172800000 },
		{ "1h1m1s1ms", 3661001 }, { "1m30s", 90000 },
		{ "007s", 7000 },
	};
	char		 why[256];
	uint64_t	 ms;
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ms = 12345;
		CU_ASSERT_EQUAL(units_parse_duration(ok[i].text, &ms, why,
		    sizeof(why)), 0);
		CU_ASSERT_EQUAL(ms, ok[i].ms);
	}
}

static void
test_durations_bad(void)
{
	static const struct {
		const char	*text;
		const char	*why;
	} bad[] = {
		{ "", "empty duration" },
		{ "10", "has no unit" },
		{ "10x", "unknown unit \"x\"" },
		{ "10sec", "unknown unit \"sec\"" },
		{ "s", "invalid duration" },
		{ "-1s", "invalid duration" },
		{ "1.5s", "unknown unit \".\"" },
		{ " 1s", "invalid duration" },
		{ "1s ", "invalid duration" },
		{ "99999999999999999999ms", "too large" },
		{ "999999999999999999d", "too large" },
	};
	char		 why[256];
	uint64_t	 ms = 7;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		tap_result(units_parse_duration(bad[i].text, &ms, why,
		    sizeof(why)) == -1 && strstr(why, bad[i].why) != NULL,
		    "units: bad duration \"%s\" -> %s", bad[i].text, why);
		CU_ASSERT_EQUAL(ms, 7);
	}
}

static void
test_sizes(void)
{
	char		 why[256];
	uint64_t	 n;

	CU_ASSERT_EQUAL(units_parse_size("0", &n, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(units_parse_size("32k", &n, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(n, 32768);
	CU_ASSERT_EQUAL(units_parse_size("3M", &n, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(n, 3 * 1024 * 1024);
	CU_ASSERT_EQUAL(units_parse_size("1g", &n, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(n, 1024ULL * 1024 * 1024);
	CU_ASSERT_EQUAL(units_parse_size("1kb", &n, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "unknown unit \"kb\""));
	CU_ASSERT_EQUAL(units_parse_size("k", &n, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "invalid size"));
	CU_ASSERT_EQUAL(units_parse_size("20000000000g", &n, why,
	    sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "too large"));
}

static void
test_format(void)
{
	char	 buf[64];

	units_format_duration(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0ms");
	units_format_duration(90000, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1m30s");
	units_format_duration(86400000, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1d");
	units_format_duration(1, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1ms");
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("units", NULL, NULL);
	CU_add_test(s, "durations", test_durations_ok);
	CU_add_test(s, "bad durations", test_durations_bad);
	CU_add_test(s, "sizes", test_sizes);
	CU_add_test(s, "format", test_format);
	return tap_run_registry();
}
