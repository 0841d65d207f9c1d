#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"

int net_split_host(const char *addr, const char *default_port, char *host, size_t hcap, char *port,
		   size_t pcap, struct cerr *err)
{
	const char *h = addr, *p = NULL;
	size_t hl;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end)
			return cerr_set(err, COMPAT_EINVAL, "%s: unbalanced [", addr);
		h = addr + 1;
		hl = (size_t)(end - h);
		p = end[1] == ':' ? end + 2 : NULL;
	} else {
		const char *colon = strrchr(addr, ':');
		hl = colon ? (size_t)(colon - addr) : strlen(addr);
		p = colon ? colon + 1 : NULL;
	}
	if (!p || !*p)
		p = default_port;
	if (!p || !hl || hl >= hcap || strlen(p) >= pcap)
		return cerr_set(err, COMPAT_EINVAL, "%s: expected HOST:PORT", addr);
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, pcap, "%s", p);
	return 0;
}

/* Wait until fd is ready: 0, or COMPAT_ELIMIT when the deadline passes
 * or *cancelled is set (looked at every 100 ms). */
static int wait_fd(int fd, short events, int64_t deadline, const int *cancelled)
{
	for (;;) {
		int left = (int)(deadline - clock_now_ms());
		if (left <= 0 || (cancelled && __atomic_load_n(cancelled, __ATOMIC_RELAXED)))
			return COMPAT_ELIMIT;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, cancelled && left > 100 ? 100 : left);
		if (n == 1)
			return 0;
		if (n < 0 && errno != EINTR)
			return COMPAT_ELIMIT;
	}
}

int net_connect(struct net_conn *c, const char *addr, const char *default_port, int timeout_ms,
		int use_tls, const char *ca_file, const char *const *alpn, const char *tls_name,
		struct cerr *err)
{
	char host[256], port[16];
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->deadline = clock_now_ms() + timeout_ms;
	int rc = net_split_host(addr, default_port, host, sizeof host, port, sizeof port, err);
	if (rc < 0)
		return rc;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0)
		return cerr_set(err, COMPAT_EUNREACH, "%s: %s", addr, gai_strerror(g));
	int fd = -1, last = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if ((connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) ||
		    wait_fd(fd, POLLOUT, c->deadline, NULL) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			last = soerr ? soerr : errno ? errno : ETIMEDOUT;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = last;
		return cerr_sys(err, COMPAT_EUNREACH, "cannot reach %s", addr);
	}
	c->fd = fd;
	if (!use_tls && !ca_file)
		return 0;
	if ((rc = tls_config_client(&c->cfg, ca_file, alpn, err)) < 0 ||
	    (rc = tls_conn_new(&c->tls, c->cfg, fd, tls_name ? tls_name : host, err)) < 0) {
		net_close(c);
		return rc;
	}
	for (;;) {
		int h = tls_conn_handshake(c->tls, err);
		if (h == 0)
			return 0;
		if (h != TLS_WANT_READ && h != TLS_WANT_WRITE) {
			char m[sizeof err->msg];
			snprintf(m, sizeof m, "%s", err ? err->msg : "TLS handshake failed");
			net_close(c);
			/* An HTTP answer to a ClientHello: a plain-HTTP registry (as oras says). */
			const char *hint = strstr(m, "invalid SSL record") ? " (the server speaks plain HTTP? try --plain-http)" : "";
			return cerr_set(err, COMPAT_EUNREACH, "%s: %s%s", addr, m, hint);
		}
		if (wait_fd(fd, h == TLS_WANT_READ ? POLLIN : POLLOUT, c->deadline, NULL) < 0) {
			net_close(c);
			return cerr_set(err, COMPAT_EUNREACH, "%s: TLS handshake timed out", addr);
		}
	}
}

int net_send_all(struct net_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int rc;
	while (len) {
		ssize_t w;
		if (c->tls) {
			w = tls_conn_write(c->tls, p, len, NULL);
			if (w == TLS_WANT_READ || w == TLS_WANT_WRITE) {
				if ((rc = wait_fd(c->fd, w == TLS_WANT_READ ? POLLIN : POLLOUT, c->deadline, c->cancelled)) < 0)
					return rc;
				continue;
			}
		} else {
			w = send(c->fd, p, len, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				if ((rc = wait_fd(c->fd, POLLOUT, c->deadline, c->cancelled)) < 0)
					return rc;
				continue;
			}
		}
		if (w <= 0)
			return COMPAT_EUNREACH;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

ssize_t net_recv(struct net_conn *c, void *buf, size_t len)
{
	int rc;
	for (;;) {
		if (c->tls) {
			if (!tls_conn_pending(c->tls) && (rc = wait_fd(c->fd, POLLIN, c->deadline, c->cancelled)) < 0)
				return rc;
			long r = tls_conn_read(c->tls, buf, len, NULL);
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE)
				continue;
			return r < 0 ? COMPAT_EUNREACH : r;
		}
		if ((rc = wait_fd(c->fd, POLLIN, c->deadline, c->cancelled)) < 0)
			return rc;
		ssize_t r = recv(c->fd, buf, len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return r < 0 ? COMPAT_EUNREACH : r;
	}
}

void net_close(struct net_conn *c)
{
	tls_conn_free(c->tls);
	tls_config_free(c->cfg);
	if (c->fd >= 0)
		close(c->fd);
	c->tls = NULL;
	c->cfg = NULL;
	c->fd = -1;
}
