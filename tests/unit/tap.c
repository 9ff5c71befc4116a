#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>

#include <CUnit/Basic.h>
#include <CUnit/TestRun.h>

#include "tap.h"

static struct {
	unsigned	 count;
	unsigned	 failed;
} tap_state;

static void
tap_test_complete(const CU_pTest test, const CU_pSuite suite,
    const CU_pFailureRecord failures)
{
	CU_pFailureRecord	 f;

	tap_state.count++;
	if (failures == NULL) {
		printf("ok %u - %s: %s\n", tap_state.count, suite->pName,
		    test->pName);
		return;
	}
	tap_state.failed++;
	printf("not ok %u - %s: %s\n", tap_state.count, suite->pName,
	    test->pName);
	for (f = failures; f != NULL; f = f->pNext)
		printf("#   %s:%u: %s\n", f->strFileName ? f->strFileName : "?",
		    f->uiLineNumber, f->strCondition ? f->strCondition : "");
	fflush(stdout);
}

int
tap_result(int ok, const char *fmt, ...)
{
	va_list	 ap;

	tap_state.count++;
	if (!ok)
		tap_state.failed++;
	printf("%s %u - ", ok ? "ok" : "not ok", tap_state.count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return ok;
}

static void
tap_suite_init_failure(const CU_pSuite suite)
{
	tap_state.count++;
	tap_state.failed++;
	printf("not ok %u - suite %s: initialization failed\n",
	    tap_state.count, suite->pName);
}

int
tap_run_registry(void)
{
	unsigned	 asserts_failed;

	CU_set_test_complete_handler(tap_test_complete);
	CU_set_suite_init_failure_handler(tap_suite_init_failure);
	CU_run_all_tests();
	/* CUnit resets its counters in CU_cleanup_registry(): read them first. */
	asserts_failed = CU_get_number_of_failures();
	printf("1..%u\n", tap_state.count);
	printf("# %u tests, %u failed, %u failed assertions\n",
	    tap_state.count, tap_state.failed, asserts_failed);
	CU_cleanup_registry();
	return tap_state.failed != 0 || asserts_failed != 0 ||
	    tap_state.count == 0;
}
