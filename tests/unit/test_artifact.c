#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/artifact.h"

static void test_roundtrip_is_deterministic(void)
{
	const char *in = "{\"attributes\":{\"llnl.compatlib.library-name.1\":\"libc.so.6\","
			 "\"llnl.compatlib.executable-name\":\"xz\",\"zz.other\":\"kept\"},"
			 "\"version\":\"0.1.0\",\"extra\":[1,2]}";
	struct artifact a, b;
	struct cerr err;
	CHECK_INT(artifact_parse(in, strlen(in), "t.json", &a, &err), 0);
	CHECK_STR(artifact_get(&a, "llnl.compatlib.executable-name"), "xz");
	CHECK_STR(artifact_get(&a, "zz.other"), "kept");
	size_t n1, n2;
	char *j1 = artifact_to_json(&a, &n1);
	CHECK_INT(artifact_parse(j1, n1, "j1", &b, &err), 0);
	char *j2 = artifact_to_json(&b, &n2);
	CHECK_STR(j1, j2);
	/* sorted keys: executable-name before library-name, version last */
	CHECK(strstr(j1, "executable-name") < strstr(j1, "library-name"));
	CHECK(strstr(j1, "\"version\"") > strstr(j1, "attributes"));
	CHECK(j1[n1 - 1] == '\n');
	free(j1);
	free(j2);
	artifact_free(&a);
	artifact_free(&b);
}

static void test_set_replaces_and_sorts(void)
{
	struct artifact a;
	artifact_init(&a);
	CHECK_INT(artifact_set(&a, "b", "1"), 0);
	CHECK_INT(artifact_set(&a, "a", "2"), 0);
	CHECK_INT(artifact_set(&a, "b", "3"), 0);
	CHECK_INT(a.nattrs, 2);
	CHECK_STR(a.attrs[0].key, "a");
	CHECK_STR(artifact_get(&a, "b"), "3");
	CHECK(artifact_get(&a, "c") == NULL);
	artifact_free(&a);
}

static void expect_error(const char *json, const char *needle)
{
	struct artifact a;
	struct cerr err;
	int rc = artifact_parse(json, strlen(json), "bad.json", &a, &err);
	CHECK_INT(rc, COMPAT_EINVAL);
	if (rc == COMPAT_EINVAL && !strstr(err.msg, needle)) {
		printf("#   message \"%s\" lacks \"%s\"\n", err.msg, needle);
		check_failed_now = 1;
	}
	CHECK_INT(a.nattrs, 0);
}

static void test_errors_name_file_and_field(void)
{
	expect_error("{\"version\":", "bad.json:1:");
	expect_error("[]", "expected a JSON object");
	expect_error("{\"attributes\":{}}", "expected string for \"version\"");
	expect_error("{\"version\":\"0.1.0\"}", "expected object for \"attributes\"");
	expect_error("{\"version\":\"0.1.0\",\"attributes\":{\"llnl.compatlib.x\":3}}",
		     "expected string for \"llnl.compatlib.x\"");
	expect_error("{\"version\":\"0.1.0\",\"version\":\"0.2\",\"attributes\":{}}", "duplicate");
}

static void test_foreign_non_strings_skipped(void)
{
	const char *in = "{\"version\":\"0.0.1\",\"attributes\":{\"other.n\":5,\"other.s\":\"x\"}}";
	struct artifact a;
	CHECK_INT(artifact_parse(in, strlen(in), "f", &a, NULL), 0);
	CHECK_INT(a.nattrs, 1);
	CHECK_STR(a.version, "0.0.1");
	artifact_free(&a);
}

static void test_size_limit(void)
{
	struct artifact a;
	struct cerr err;
	CHECK_INT(artifact_parse("{}", ARTIFACT_MAX_BYTES + 1, "big", &a, &err), COMPAT_ELIMIT);
}

/* The flat reader against jansson's on inputs at the edges of its shape:
 * where it accepts, the same artifact; where jansson refuses, it declines. */
static void test_flat_reader_agrees(void)
{
	static const char *const cases[] = {
		"{\"version\": \"0.1.0\", \"attributes\": {\"b\": \"2\", \"a\": \"1\"}}",
		" \n{\"attributes\":{},\"version\":\"x\"}\r\n\t",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/ \\b\\f\\r\"}}",
		"{\"version\": \"v\", \"other\": \"s\", \"attributes\": {\"k\": \"\xc3\xa9\xe2\x82\xac\"}}",
		/* declined: jansson decides (some accept, some refuse) */
		"{\"version\": \"v\", \"attributes\": {\"k\": 1}}",
		"{\"version\": \"v\", \"attributes\": {\"llnl.compatlib.k\": 1}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"1\", \"k\": \"2\"}}",
		"{\"version\": \"v\", \"version\": \"w\", \"attributes\": {}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\\u0000\"}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\\ud800\"}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\\udc00\"}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\xff\"}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\xc0\x80\"}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"a\x01\"}}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"\\x\"}}",
		"{\"version\": \"v\", \"attributes\": {}} x",
		"{\"version\": \"v\", \"attributes\": {},}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"v\",}}",
		"{\"version\": 1, \"attributes\": {}}",
		"{\"attributes\": {}}",
		"{\"version\": \"v\"}",
		"{\"version\": \"v\", \"attributes\": {\"k\": \"v\"}, \"n\": [1, {\"x\": null}]}",
		"{\"ver\\u0073ion\": \"v\", \"attributes\": {}}",
		"[]",
		"",
	};
	int accepted = 0, declined = 0;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct artifact f, j;
		int rf = artifact_parse_flat(cases[i], strlen(cases[i]), &f);
		int rj = artifact_parse_json(cases[i], strlen(cases[i]), "t", &j, NULL);
		CHECK(rf == 0 || rf == 1);
		if (rf == 0) {
			accepted++;
			CHECK_INT(rj, 0);
			if (rj == 0) {
				CHECK_STR(f.version, j.version);
				CHECK_INT(f.nattrs, j.nattrs);
				for (size_t k = 0; k < f.nattrs && k < j.nattrs; k++) {
					CHECK_STR(f.attrs[k].key, j.attrs[k].key);
					CHECK_STR(f.attrs[k].value, j.attrs[k].value);
				}
			}
			artifact_free(&f);
		} else {
			declined++;
			CHECK_INT(f.nattrs, 0);
		}
		if (rj == 0)
			artifact_free(&j);
		if (rj != 0)
			CHECK(rf != 0);
	}
	CHECK_INT(accepted, 4);
	CHECK_INT(declined, (int)(sizeof cases / sizeof *cases) - 4);
}

/* The file gen writes is what jansson's json_dumps(JSON_INDENT(2)) wrote
 * before the writer replaced it, and a final newline: escapes, UTF-8,
 * an empty value, many keys. A string that is not UTF-8 is refused. */
static void test_written_as_jansson_did(void)
{
	struct artifact a;
	artifact_init(&a);
	json_t *root = json_object(), *attrs = json_object();
	const char *vals[] = { "", "a\"b\\c", "tab\there\nnl", "\x01\x1f", "caf\xc3\xa9 \xe2\x82\xac", "/usr/lib/x" };
	for (int i = 0; i < 40; i++) {
		char key[64];
		snprintf(key, sizeof key, "llnl.compatlib.k%02d", i);
		CHECK_INT(artifact_set(&a, key, vals[i % 6]), 0);
		json_object_set_new(attrs, key, json_string(vals[i % 6]));
	}
	json_object_set_new(root, "attributes", attrs);
	json_object_set_new(root, "version", json_string(ARTIFACT_VERSION));
	char *want = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	size_t len = 0;
	char *got = artifact_to_json(&a, &len);
	CHECK(got && want && strlen(got) == strlen(want) + 1 && got[len - 1] == '\n');
	if (got && want)
		CHECK_INT(strncmp(got, want, strlen(want)), 0);
	CHECK_INT(len, want ? strlen(want) + 1 : 0);
	free(got);
	free(want);
	CHECK_INT(artifact_set(&a, "llnl.compatlib.bad", "\xff\xfe"), 0);
	CHECK(artifact_to_json(&a, NULL) == NULL);
	artifact_free(&a);
}

int main(void)
{
	RUN(test_roundtrip_is_deterministic);
	RUN(test_set_replaces_and_sorts);
	RUN(test_errors_name_file_and_field);
	RUN(test_foreign_non_strings_skipped);
	RUN(test_size_limit);
	RUN(test_flat_reader_agrees);
	RUN(test_written_as_jansson_did);
	return check_summary();
}
