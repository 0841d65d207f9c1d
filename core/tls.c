#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct tls_config {
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt cert, ca;
	mbedtls_pk_context key;
	const char *alpn[4];	/* must outlive the config */
	int server;
};

struct tls_conn {
	mbedtls_ssl_context ssl;
	mbedtls_net_context net;
};

static const char *const h2_only[] = { "h2", NULL };

static int tls_error(struct cerr *err, int code, int rc, const char *what)
{
	char buf[100];
	mbedtls_strerror(rc, buf, sizeof buf);
	return cerr_set(err, code, "%s: %s", what, buf);
}

static int config_common(struct tls_config **out, int endpoint, struct cerr *err)
{
	struct tls_config *c = calloc(1, sizeof *c);
	if (!c)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_x509_crt_init(&c->cert);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_pk_init(&c->key);
	c->server = endpoint == MBEDTLS_SSL_IS_SERVER;
	*out = c;
	int rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
				       (const unsigned char *)"compat", 6);
	if (rc == 0)
		rc = mbedtls_ssl_config_defaults(&c->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
						 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0)
		return tls_error(err, COMPAT_EINVAL, rc, "TLS setup");
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	return 0;
}

/* Load PEM certificates; parse_file's positive return means some failed. */
static int load_certs(mbedtls_x509_crt *crt, const char *path, struct cerr *err)
{
	int rc = mbedtls_x509_crt_parse_file(crt, path);
	if (rc == MBEDTLS_ERR_PK_FILE_IO_ERROR || rc == MBEDTLS_ERR_X509_FILE_IO_ERROR)
		return cerr_set(err, COMPAT_EIO, "%s: cannot read", path);
	if (rc < 0)
		return tls_error(err, COMPAT_EINVAL, rc, path);
	if (rc > 0 && crt->version == 0)
		return cerr_set(err, COMPAT_EINVAL, "%s: no usable certificate", path);
	return 0;
}

int tls_config_server(struct tls_config **out, const char *cert, const char *key,
		      const char *client_ca, struct cerr *err)
{
	struct tls_config *c;
	int rc = config_common(&c, MBEDTLS_SSL_IS_SERVER, err);
	if (rc < 0 || (rc = load_certs(&c->cert, cert, err)) < 0)
		goto fail;
	int prc = mbedtls_pk_parse_keyfile(&c->key, key, NULL);
	if (prc != 0) {
		rc = prc == MBEDTLS_ERR_PK_FILE_IO_ERROR ? cerr_set(err, COMPAT_EIO, "%s: cannot read", key)
							  : tls_error(err, COMPAT_EINVAL, prc, key);
		goto fail;
	}
	if ((prc = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key)) != 0) {
		rc = tls_error(err, COMPAT_EINVAL, prc, "certificate and key");
		goto fail;
	}
	if (client_ca) {
		if ((rc = load_certs(&c->ca, client_ca, err)) < 0)
			goto fail;
		mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	c->alpn[0] = h2_only[0];
	c->alpn[1] = NULL;
	mbedtls_ssl_conf_alpn_protocols(&c->conf, c->alpn);
	*out = c;
	return 0;
fail:
	tls_config_free(c);
	*out = NULL;
	return rc;
}

int tls_config_client(struct tls_config **out, const char *ca_file, const char *const *alpn,
		      struct cerr *err)
{
	struct tls_config *c;
	int rc = config_common(&c, MBEDTLS_SSL_IS_CLIENT, err);
	if (rc < 0 || (rc = load_certs(&c->ca, ca_file ? ca_file : SYSTEM_CA_BUNDLE, err)) < 0)
		goto fail;
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	size_t n = 0;
	for (; alpn && alpn[n] && n < 3; n++)
		c->alpn[n] = alpn[n];
	c->alpn[n] = NULL;
	if (n)
		mbedtls_ssl_conf_alpn_protocols(&c->conf, c->alpn);
	*out = c;
	return 0;
fail:
	tls_config_free(c);
	*out = NULL;
	return rc;
}

void tls_config_free(struct tls_config *c)
{
	if (!c)
		return;
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	mbedtls_x509_crt_free(&c->cert);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_pk_free(&c->key);
	free(c);
}

int tls_conn_new(struct tls_conn **out, struct tls_config *cfg, int fd, const char *hostname,
		 struct cerr *err)
{
	struct tls_conn *c = calloc(1, sizeof *c);
	if (!c)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	mbedtls_ssl_init(&c->ssl);
	c->net.fd = fd;
	int rc = mbedtls_ssl_setup(&c->ssl, &cfg->conf);
	/* Always set the name on a client: before 2.28.10 leaving it out
	 * skipped the hostname check altogether. */
	if (rc == 0 && !cfg->server)
		rc = mbedtls_ssl_set_hostname(&c->ssl, hostname ? hostname : "localhost");
	if (rc != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return tls_error(err, COMPAT_EINVAL, rc, "TLS session");
	}
	mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
	*out = c;
	return 0;
}

int tls_conn_handshake(struct tls_conn *c, struct cerr *err)
{
	int rc = mbedtls_ssl_handshake(&c->ssl);
	if (rc == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (rc != 0)
		return tls_error(err, COMPAT_EPROTO, rc, "TLS handshake");
	/* mbedtls accepts a client that offered no ALPN: refuse it here. */
	if (c->ssl.conf->endpoint == MBEDTLS_SSL_IS_SERVER) {
		const char *p = mbedtls_ssl_get_alpn_protocol(&c->ssl);
		if (!p || strcmp(p, "h2") != 0)
			return cerr_set(err, COMPAT_EPROTO, "TLS client did not negotiate ALPN h2");
	}
	return 0;
}

static long io_result(int rc, struct cerr *err, const char *what)
{
	if (rc >= 0)
		return rc;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	return tls_error(err, COMPAT_EPROTO, rc, what);
}

long tls_conn_read(struct tls_conn *c, void *buf, size_t len, struct cerr *err)
{
	return io_result(mbedtls_ssl_read(&c->ssl, buf, len), err, "TLS read");
}

long tls_conn_write(struct tls_conn *c, const void *buf, size_t len, struct cerr *err)
{
	return io_result(mbedtls_ssl_write(&c->ssl, buf, len), err, "TLS write");
}

int tls_conn_pending(const struct tls_conn *c)
{
	return mbedtls_ssl_check_pending(&c->ssl);
}

const char *tls_conn_alpn(const struct tls_conn *c)
{
	return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	mbedtls_ssl_free(&c->ssl);
	free(c);
}
