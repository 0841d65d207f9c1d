#include <stdint.h>

#include "check.h"
#include "core/parse.h"

static void test_dotted(void)
{
	unsigned v[3];
	const char *end;
	CHECK_INT(parse_dotted("6.1.0-18-amd64", v, 3, &end), 3);
	CHECK(v[0] == 6 && v[1] == 1 && v[2] == 0);
	CHECK_STR(end, "-18-amd64");
	CHECK_INT(parse_dotted("3.2", v, 3, NULL), 2);
	CHECK(v[0] == 3 && v[1] == 2 && v[2] == 0);
	CHECK_INT(parse_dotted("5.", v, 3, &end), 1);
	CHECK_STR(end, ".");
	CHECK_INT(parse_dotted("x1.2", v, 3, NULL), 0);
	CHECK_INT(parse_dotted("", v, 3, NULL), 0);
	CHECK_INT(parse_dotted("1.2.3.4", v, 3, &end), 3);
	CHECK_STR(end, ".4");
	CHECK_INT(parse_dotted("99999999999.1", v, 3, NULL), 0);	/* more than 10 digits */
}

static void test_uint_and_hex(void)
{
	const char *end;
	CHECK_INT(parse_uint("200 OK", &end), 200);
	CHECK_STR(end, " OK");
	CHECK_INT(parse_uint("", NULL), -1);
	CHECK_INT(parse_uint("-1", NULL), -1);
	CHECK_INT(parse_uint("12345678901", NULL), -1);
	int ok;
	CHECK(parse_hex("7f00a0-7f00b0", &end, &ok) == 0x7f00a0 && ok);
	CHECK_STR(end, "-7f00b0");
	CHECK(parse_hex("ffffffffffffffff ", NULL, &ok) == UINT64_MAX && ok);
	parse_hex("1ffffffffffffffff", NULL, &ok);
	CHECK(!ok);
	parse_hex("zz", NULL, &ok);
	CHECK(!ok);
}

int main(void)
{
	RUN(test_dotted);
	RUN(test_uint_and_hex);
	return check_summary();
}
