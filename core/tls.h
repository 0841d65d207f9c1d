/* TLS with mbedtls 2.28, for the server (ALPN h2, optional client
 * certificates) and its clients; works on blocking and non-blocking
 * descriptors. TLS 1.2 is the minimum (HTTP/2 needs it, and mbedtls'
 * default would go down to 1.0). */
#ifndef COMPAT_TLS_H
#define COMPAT_TLS_H

#include <stddef.h>

#include "err.h"

enum { TLS_WANT_READ = -100, TLS_WANT_WRITE = -101 };

struct tls_config;
struct tls_conn;

/* Server: certificate chain and key (PEM files); with client_ca, clients
 * must present a certificate signed by it. Only ALPN "h2" is accepted.
 * Returns 0, COMPAT_EIO (unreadable file), COMPAT_EINVAL (bad PEM). */
int tls_config_server(struct tls_config **out, const char *cert, const char *key,
		      const char *client_ca, struct cerr *err);

/* Client: verify the server against ca_file (NULL: the system bundle,
 * /etc/ssl/certs/ca-certificates.crt); offer alpn (NULL-terminated, or NULL). */
int tls_config_client(struct tls_config **out, const char *ca_file, const char *const *alpn,
		      struct cerr *err);

void tls_config_free(struct tls_config *cfg);

/* A session on fd (not owned). hostname: checked against the server's
 * certificate (client), or NULL (server). The config must outlive it. */
int tls_conn_new(struct tls_conn **out, struct tls_config *cfg, int fd, const char *hostname,
		 struct cerr *err);

/* 0 done; TLS_WANT_READ/TLS_WANT_WRITE: call again when the fd is ready;
 * < 0 failed (a server refuses a client without ALPN h2). */
int tls_conn_handshake(struct tls_conn *c, struct cerr *err);

/* > 0 bytes, 0 end of stream, TLS_WANT_*, or < 0 error. Writes may be partial. */
long tls_conn_read(struct tls_conn *c, void *buf, size_t len, struct cerr *err);
long tls_conn_write(struct tls_conn *c, const void *buf, size_t len, struct cerr *err);

/* Decrypted or buffered bytes are waiting: read before going back to poll. */
int tls_conn_pending(const struct tls_conn *c);

/* The negotiated ALPN protocol, or NULL. */
const char *tls_conn_alpn(const struct tls_conn *c);

void tls_conn_free(struct tls_conn *c);

#endif
