/* The JSON writer against jansson, whose compact output it must match
 * byte for byte (the reports' golden files were made by jansson). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/jsonw.h"

/* jansson's document for one string value, or NULL when it refuses it. */
static char *jansson_string(const char *s)
{
	json_t *a = json_array(), *v = json_string(s);
	if (!v) {
		json_decref(a);
		return NULL;
	}
	json_array_append_new(a, v);
	char *out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

static char *ours_string(const char *s, int *rc)
{
	struct jsonw w;
	jsonw_init(&w, 0);
	jsonw_array_begin(&w);
	jsonw_string(&w, s);
	jsonw_array_end(&w);
	*rc = jsonw_finish(&w);
	return *rc ? NULL : w.p;
}

static void test_strings_as_jansson(void)
{
	/* every byte alone, then random short byte strings (valid and
	 * invalid UTF-8), each compared with jansson */
	unsigned seed = 12345, same = 0, refused = 0;
	for (int i = 0; i < 200000; i++) {
		char s[12];
		size_t n;
		if (i < 255) {
			s[0] = (char)(i + 1);
			n = 1;
		} else {
			n = 1 + (size_t)(rand_r(&seed) % 10);
			for (size_t k = 0; k < n; k++) {
				unsigned r = (unsigned)rand_r(&seed);
				/* mostly the interesting bytes: controls, quotes, UTF-8 leads and continuations */
				static const unsigned char pick[] = { 1, 8, 9, 10, 12, 13, 31, '"', '\\', '/', 'a', 0x7f,
								      0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
								      0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f };
				s[k] = (char)(r % 3 ? pick[(r >> 8) % sizeof pick] : (r >> 8) % 255 + 1);
			}
		}
		s[n] = '\0';
		int rc;
		char *a = jansson_string(s), *b = ours_string(s, &rc);
		if (!a) {
			CHECK_INT(rc, COMPAT_EINVAL);
			refused++;
		} else {
			CHECK_STR(b, a);
			same += b && strcmp(a, b) == 0;
		}
		free(a);
		free(b);
	}
	printf("# %u strings written alike, %u refused by both\n", same, refused);
	CHECK(same > 10000 && refused > 10000);
}

/* The same document by jansson and by the writer, compact (indent 0) and
 * indented. */
static void structure_as_jansson(unsigned indent)
{
	json_t *root = json_object(), *arr = json_array(), *inner = json_object();
	json_object_set_new(root, "b", json_true());
	json_object_set_new(root, "a", arr);
	json_array_append_new(arr, json_string("x\ny\"z"));
	json_array_append_new(arr, json_null());
	json_array_append_new(arr, json_array());
	json_array_append_new(arr, json_object());
	json_array_append_new(arr, inner);
	json_object_set_new(inner, "k\t", json_false());
	json_object_set_new(inner, "\xc3\xa9", json_string("\xe2\x82\xac"));
	json_object_set_new(root, "e", json_object());
	char *want = json_dumps(root, indent ? JSON_INDENT(indent) : JSON_COMPACT);
	json_decref(root);

	struct jsonw w;
	jsonw_init(&w, 0);
	jsonw_set_indent(&w, indent);
	jsonw_object_begin(&w);
	jsonw_key(&w, "b");
	jsonw_bool(&w, 1);
	jsonw_key(&w, "a");
	jsonw_array_begin(&w);
	jsonw_string(&w, "x\ny\"z");
	jsonw_null(&w);
	jsonw_array_begin(&w);
	jsonw_array_end(&w);
	jsonw_object_begin(&w);
	jsonw_object_end(&w);
	jsonw_object_begin(&w);
	jsonw_key(&w, "k\t");
	jsonw_bool(&w, 0);
	jsonw_key(&w, "\xc3\xa9");
	jsonw_string(&w, "\xe2\x82\xac");
	jsonw_object_end(&w);
	jsonw_array_end(&w);
	jsonw_key(&w, "e");
	jsonw_object_begin(&w);
	jsonw_object_end(&w);
	jsonw_object_end(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_STR(w.p, want);
	CHECK_INT(w.len, strlen(want));
	free(w.p);
	free(want);
}

static void test_structure_as_jansson(void)
{
	structure_as_jansson(0);
	structure_as_jansson(2);
	structure_as_jansson(31);
}

static void test_reserve_and_errors(void)
{
	struct jsonw w;
	jsonw_init(&w, 6);
	jsonw_string(&w, "hi");
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_INT(w.len, 10);
	CHECK_STR(w.p + 6, "\"hi\"");
	free(w.p);
	/* unbalanced, a key without a value, bad UTF-8 in a key: refused whole */
	jsonw_init(&w, 0);
	jsonw_object_begin(&w);
	CHECK_INT(jsonw_finish(&w), COMPAT_EINVAL);
	CHECK(w.p == NULL);
	jsonw_init(&w, 0);
	jsonw_object_begin(&w);
	jsonw_key(&w, "k");
	jsonw_object_end(&w);
	CHECK_INT(jsonw_finish(&w), COMPAT_EINVAL);
	jsonw_init(&w, 0);
	jsonw_object_begin(&w);
	jsonw_key(&w, "\xff");
	jsonw_null(&w);
	jsonw_object_end(&w);
	CHECK_INT(jsonw_finish(&w), COMPAT_EINVAL);
	/* too deep */
	jsonw_init(&w, 0);
	for (int i = 0; i < JSONW_MAX_DEPTH + 1; i++)
		jsonw_array_begin(&w);
	CHECK_INT(jsonw_finish(&w), COMPAT_EINVAL);
	/* a long document grows its buffer */
	jsonw_init(&w, 0);
	jsonw_array_begin(&w);
	for (int i = 0; i < 10000; i++)
		jsonw_string(&w, "\x01");
	jsonw_array_end(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_INT(w.len, 2 + 10000 * 8 + 9999);
	free(w.p);
}

int main(void)
{
	RUN(test_strings_as_jansson);
	RUN(test_structure_as_jansson);
	RUN(test_reserve_and_errors);
	return check_summary();
}
