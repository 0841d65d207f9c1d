/* The four symbols of mbedtls's test certificates that its x509 self-test
 * (mbedtls_x509_self_test, which compat never calls) refers to. Defining
 * them here keeps the linker from pulling certs.c.o out of libmbedx509.a:
 * 54 KB of test keys and certificates that would otherwise sit in every
 * statically linked binary (the static budget is 2 MiB, DESIGN §9). With
 * a shared libmbedx509 they merely shadow the library's copies, which
 * nothing of compat reads either. */
#include <mbedtls/certs.h>

const char *mbedtls_test_ca_crt = "";
const size_t mbedtls_test_ca_crt_len = 0;
const char *mbedtls_test_cli_crt = "";
const size_t mbedtls_test_cli_crt_len = 0;
