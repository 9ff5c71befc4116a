/* Unit tests for master/jsonpos.c: the path -> line:column map. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "jsonpos.h"
#include "tap.h"

static void
test_positions(void)
{
	const char *text =
	    "{\n"
	    "  \"a\": 1,\n"
	    "  \"list\": [ true, {\"k\": \"v\\\"x\"} ],\n"
	    "  \"odd key\": {\"x.y\": null},\n"
	    "  \"\\u00e9t\\u00e9\": \"s\"\n"
	    "}\n";
	struct jpos_map		 map;
	struct jpos_dup		 dup;
	const struct jpos_entry	*e;

	CU_ASSERT_EQUAL_FATAL(jpos_scan(text, strlen(text), &map, &dup), 0);
	e = jpos_find(&map, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->val_line, 1);
	CU_ASSERT_EQUAL(e->val_col, 1);
	e = jpos_find(&map, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->key_line, 2);
	CU_ASSERT_EQUAL(e->key_col, 3);
	CU_ASSERT_EQUAL(e->val_col, 8);
	e = jpos_find(&map, "list[1].k");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->val_line, 3);
	CU_ASSERT_EQUAL(e->key_col, 20);
	CU_ASSERT_EQUAL(e->val_col, 25);
	e = jpos_find(&map, "list[1]");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->key_line, 0);
	CU_ASSERT_EQUAL(e->val_col, 19);
	e = jpos_find(&map, "[\"odd key\"][\"x.y\"]");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->val_line, 4);
	/* escapes decode like jansson's, so keys match */
	e = jpos_find(&map, "[\"\xc3\xa9t\xc3\xa9\"]");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->val_line, 5);
	CU_ASSERT_EQUAL(e->val_col, 20);
	CU_ASSERT_PTR_NULL(jpos_find(&map, "missing"));
	jpos_free(&map);
}

static void
test_duplicates(void)
{
	const char		*text = "{\"p\": {\"a\": 1,\n \"a\": 2}}";
	struct jpos_map		 map;
	struct jpos_dup		 dup;

	CU_ASSERT_EQUAL_FATAL(jpos_scan(text, strlen(text), &map, &dup), 1);
	CU_ASSERT_STRING_EQUAL(dup.parent, "p");
	CU_ASSERT_STRING_EQUAL(dup.key, "a");
	CU_ASSERT_EQUAL(dup.first_line, 1);
	CU_ASSERT_EQUAL(dup.first_col, 8);
	CU_ASSERT_EQUAL(dup.line, 2);
	CU_ASSERT_EQUAL(dup.col, 2);
	jpos_dup_clear(&dup);
	jpos_free(&map);
}

static void
test_paths(void)
{
	char	*p;

	p = jpos_path_key("", "pools");
	CU_ASSERT_STRING_EQUAL(p, "pools");
	free(p);
	p = jpos_path_key("pools", "web-1_a");
	CU_ASSERT_STRING_EQUAL(p, "pools.web-1_a");
	free(p);
	p = jpos_path_key("pools", "a\"b");
	CU_ASSERT_STRING_EQUAL(p, "pools[\"a\\\"b\"]");
	free(p);
	p = jpos_path_index("peers", 12);
	CU_ASSERT_STRING_EQUAL(p, "peers[12]");
	free(p);
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("jsonpos", NULL, NULL);
	CU_add_test(s, "positions", test_positions);
	CU_add_test(s, "duplicates", test_duplicates);
	CU_add_test(s, "paths", test_paths);
	return tap_run_registry();
}
