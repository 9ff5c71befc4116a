/*
 * Compiles Debian's node-llhttp source llhttp.c in-tree: automake cannot build
 * a source that lives in /usr/share (it would write objects there).  Its
 * generated code is not ours to warn about.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include "llhttp.c"
