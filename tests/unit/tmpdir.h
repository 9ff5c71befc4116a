/*
 * tmpdir.h: a private directory for one unit test, under $TMPDIR (else
 * /tmp), and its removal with everything in it.
 */
#ifndef SHUNT_TESTS_TMPDIR_H
#define SHUNT_TESTS_TMPDIR_H

#include <stddef.h>

/* Create "$TMPDIR/NAME.XXXXXX" into buf; exits 99 (hard error) if it cannot. */
void	tmpdir_make(char *buf, size_t len, const char *name);

/* Remove dir and its contents, then mark it gone (dir[0] = '\0'). */
void	tmpdir_remove(char *dir);

#endif
