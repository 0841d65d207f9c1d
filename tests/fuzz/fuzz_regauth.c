/* libFuzzer: what a registry says about where to go and how to log in:
 * a WWW-Authenticate value (line 1) and a URL (line 2, as a Location or a
 * token realm). Checked beyond memory safety: whatever is accepted has a
 * host without user info, a path starting with "/", and no byte that
 * could break a request line or a header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_split(const char *url)
{
	char host[256], path[3000];
	int tls;
	if (oci_url_split(url, 1, "reg.example:5000", &tls, host, sizeof host, path, sizeof path) != 0)
		return;
	if (!host[0] || strchr(host, '@') || strchr(host, '/') || path[0] != '/' || (tls != 0 && tls != 1))
		abort();
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			abort();
	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char *nl = strchr(s, '\n');
	const char *url = "";
	if (nl) {
		*nl = '\0';
		url = nl + 1;
	}
	struct oci_challenge c;
	if (oci_challenge_parse(s, &c, NULL) == 0) {
		if (strlen(c.realm) >= sizeof c.realm || strlen(c.service) >= sizeof c.service ||
		    strlen(c.scope) >= sizeof c.scope || !c.scheme[0])
			abort();
		char tok[3000];
		if (oci_token_url(&c, tok, sizeof tok, NULL) == 0)
			check_split(tok);
	}
	check_split(url);
	free(s);
	return 0;
}
