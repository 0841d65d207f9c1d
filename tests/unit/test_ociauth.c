/* The registry client's auth and redirect parsing (oci.h): challenges,
 * token URLs, Location URLs, the allow-list. */
#include "check.h"
#include "core/oci.h"

static void test_challenge(void)
{
	struct oci_challenge c;
	struct cerr err;
	CHECK_INT(oci_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
				      "scope=\"repository:library/ubuntu:pull\"", &c, &err), 0);
	CHECK_STR(c.scheme, "Bearer");
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/ubuntu:pull");
	/* A comma or a key name inside a quoted value is part of the value. */
	CHECK_INT(oci_challenge_parse("bearer Realm=\"https://a/t?x=1,service=evil\", error=\"insufficient_scope\", "
				      "service=s, scope=\"repository:a/b:pull,push\"", &c, NULL), 0);
	CHECK_STR(c.realm, "https://a/t?x=1,service=evil");
	CHECK_STR(c.service, "s");
	CHECK_STR(c.scope, "repository:a/b:pull,push");
	CHECK_INT(oci_challenge_parse("Bearer realm=\"a\\\"b\"", &c, NULL), 0);	/* an escaped quote */
	CHECK_STR(c.realm, "a\"b");
	CHECK_INT(oci_challenge_parse("Basic realm=\"Registry Realm\"", &c, NULL), 0);
	CHECK_STR(c.scheme, "Basic");
	CHECK_INT(oci_challenge_parse("Bearer service=\"x\"", &c, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "without a realm") != NULL);
	CHECK_INT(oci_challenge_parse("Bearer realm=\"unterminated", &c, NULL), COMPAT_EINVAL);
	CHECK_INT(oci_challenge_parse("Bearer realm", &c, NULL), COMPAT_EINVAL);
	CHECK_INT(oci_challenge_parse("", &c, NULL), COMPAT_EINVAL);
	char big[3000] = "Bearer realm=\"";
	memset(big + 14, 'a', 2000);
	strcpy(big + 2014, "\"");
	CHECK_INT(oci_challenge_parse(big, &c, NULL), COMPAT_ELIMIT);
}

static void test_token_url(void)
{
	struct oci_challenge c;
	char url[3000];
	CHECK_INT(oci_challenge_parse("Bearer realm=\"http://r/token\",service=\"my svc\",scope=\"repository:a/b:pull\"",
				      &c, NULL), 0);
	CHECK_INT(oci_token_url(&c, url, sizeof url, NULL), 0);
	CHECK_STR(url, "http://r/token?service=my%20svc&scope=repository%3Aa%2Fb%3Apull");
	CHECK_INT(oci_challenge_parse("Bearer realm=\"http://r/token?a=1\"", &c, NULL), 0);
	CHECK_INT(oci_token_url(&c, url, sizeof url, NULL), 0);
	CHECK_STR(url, "http://r/token?a=1&service=");
	CHECK_INT(oci_token_url(&c, url, 10, NULL), COMPAT_ELIMIT);
}

static void test_url_split(void)
{
	char host[256], path[1024];
	int tls;
	CHECK_INT(oci_url_split("https://cdn.example:8443/blob?sig=1#frag", 0, "reg", &tls, host, sizeof host, path,
				sizeof path), 0);
	CHECK_INT(tls, 1);
	CHECK_STR(host, "cdn.example:8443");
	CHECK_STR(path, "/blob?sig=1");
	CHECK_INT(oci_url_split("HTTP://h?x=1", 1, "reg", &tls, host, sizeof host, path, sizeof path), 0);
	CHECK_INT(tls, 0);
	CHECK_STR(host, "h");
	CHECK_STR(path, "/?x=1");
	CHECK_INT(oci_url_split("/v2/a/blobs/x", 1, "reg:5000", &tls, host, sizeof host, path, sizeof path), 0);
	CHECK_INT(tls, 1);
	CHECK_STR(host, "reg:5000");
	CHECK_STR(path, "/v2/a/blobs/x");
	/* Refused: another host in disguise, user info, request-line breakers. */
	CHECK_INT(oci_url_split("//evil/x", 1, "reg", &tls, host, sizeof host, path, sizeof path), COMPAT_EINVAL);
	CHECK_INT(oci_url_split("http://user:pw@evil/x", 1, "reg", &tls, host, sizeof host, path, sizeof path),
		  COMPAT_EINVAL);
	CHECK_INT(oci_url_split("/a\r\nX-Injected: 1", 1, "reg", &tls, host, sizeof host, path, sizeof path),
		  COMPAT_EINVAL);
	CHECK_INT(oci_url_split("/a b", 1, "reg", &tls, host, sizeof host, path, sizeof path), COMPAT_EINVAL);
	CHECK_INT(oci_url_split("blobs/x", 1, "reg", &tls, host, sizeof host, path, sizeof path), COMPAT_EINVAL);
	CHECK_INT(oci_url_split("http:///x", 1, "reg", &tls, host, sizeof host, path, sizeof path), COMPAT_EINVAL);
	CHECK_INT(oci_url_split("http://h/x", 1, "reg", &tls, host, 1, path, sizeof path), COMPAT_EINVAL);
}

static void test_allowed(void)
{
	static const char *const allow[] = { "Registry.Example:5000", "127.0.0.1:8080" };
	CHECK(oci_host_allowed("registry.example:5000", allow, 2));
	CHECK(oci_host_allowed("127.0.0.1:8080", allow, 2));
	CHECK(!oci_host_allowed("registry.example", allow, 2));
	CHECK(!oci_host_allowed("127.0.0.1:8081", allow, 2));
	CHECK(!oci_host_allowed("x", allow, 0));
}

int main(void)
{
	RUN(test_challenge);
	RUN(test_token_url);
	RUN(test_url_split);
	RUN(test_allowed);
	return check_summary();
}
