/*
 * tap.h: run the registered CUnit suites and report each test as a TAP line,
 * so automake's harness (and CI's summary) count tests, not binaries.
 */
#ifndef SHUNT_TESTS_TAP_H
#define SHUNT_TESTS_TAP_H

/* Run every registered suite; returns the process exit status (0: all ok). */
int	tap_run_registry(void);

/*
 * Report one extra result from inside a CUnit test (a table-driven case),
 * so that each case counts.  Returns ok.
 */
int	tap_result(int ok, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
