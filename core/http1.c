#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http1.h"
#include "net.h"
#include "parse.h"
#include "vec.h"

enum { S_HEAD, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILER, S_DONE };

void http_parser_init(struct http_parser *p, struct http_response *r, size_t max_body, int head)
{
	memset(p, 0, sizeof *p);
	memset(r, 0, sizeof *r);
	p->r = r;
	p->max_body = max_body;
	p->head = head;
	p->content_length = -1;
}

void http_parser_free(struct http_parser *p)
{
	free(p->hbuf);
	p->hbuf = NULL;
}

const char *http_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void http_response_free(struct http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof *r);
}

static int body_append(struct http_parser *p, const uint8_t *b, size_t n, struct cerr *err)
{
	struct http_response *r = p->r;
	if (p->sink && r->status >= 200 && r->status < 300) {
		if (n > p->max_body - r->len)
			return cerr_set(err, COMPAT_ELIMIT, "response body larger than %zu bytes", p->max_body);
		r->len += n;
		return n ? p->sink->write(p->sink->ctx, b, n, err) : 0;
	}
	struct buf body = { r->body, r->len, r->len ? r->len + 1 : 0 };
	int rc = buf_append(&body, b, n, p->max_body);
	r->body = body.p;
	r->len = body.len;
	if (rc == COMPAT_ELIMIT)
		return cerr_set(err, rc, "response body larger than %zu bytes", p->max_body);
	return rc < 0 ? cerr_set(err, rc, "out of memory") : 0;
}

/* Status line and header lines, once the blank line has arrived. */
static int parse_head(struct http_parser *p, struct cerr *err)
{
	struct http_response *r = p->r;
	char *save = NULL, *line = strtok_r(p->hbuf, "\r\n", &save);
	unsigned ver[2];
	const char *p_end;
	long status = -1;
	if (line && strncmp(line, "HTTP/", 5) == 0 && parse_dotted(line + 5, ver, 2, &p_end) == 2 && *p_end == ' ')
		status = parse_uint(p_end + 1, &p_end);
	if (status < 100 || status > 999 || (*p_end && *p_end != ' '))
		return cerr_set(err, COMPAT_EPROTO, "malformed HTTP status line");
	r->status = (int)status;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		char *colon = strchr(line, ':');
		if (!colon || colon == line)
			return cerr_set(err, COMPAT_EPROTO, "malformed HTTP header line");
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t vl = strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			v[--vl] = '\0';
		if (VEC_GROW(r->headers, r->nheaders) < 0)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		struct http_header *nh = &r->headers[r->nheaders];
		nh->name = strdup(line);
		nh->value = strdup(v);
		r->nheaders++;
		if (!nh->name || !nh->value)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	const char *te = http_header(r, "Transfer-Encoding"), *cl = http_header(r, "Content-Length");
	if (te && strcasecmp(te, "chunked") == 0) {
		p->chunked = 1;
	} else if (cl) {
		char *end;
		long long n = strtoll(cl, &end, 10);
		if (*cl < '0' || *cl > '9' || *end || n < 0)
			return cerr_set(err, COMPAT_EPROTO, "malformed Content-Length");
		if ((unsigned long long)n > p->max_body && !p->head)
			return cerr_set(err, COMPAT_ELIMIT, "response body of %lld bytes is over the limit of %zu",
					n, p->max_body);
		p->content_length = n;
	}
	if (p->head || status == 204 || status == 304 || (status >= 100 && status < 200))
		p->state = S_DONE;
	else if (p->chunked)
		p->state = S_CHUNK_SIZE;
	else if (p->content_length == 0)
		p->state = S_DONE;
	else
		p->state = S_BODY;
	return 0;
}

int http_parser_feed(struct http_parser *p, const uint8_t *buf, size_t len, struct cerr *err)
{
	size_t i = 0;
	int rc;
	while (i < len && p->state != S_DONE) {
		switch (p->state) {
		case S_HEAD: {
			/* Gather up to the blank line, within the header limit. */
			size_t take = len - i;
			if (p->hlen + take > HTTP_MAX_HEADER)
				take = HTTP_MAX_HEADER - p->hlen;
			if (!take)
				return cerr_set(err, COMPAT_ELIMIT, "HTTP headers larger than %u bytes", HTTP_MAX_HEADER);
			char *nb = realloc(p->hbuf, p->hlen + take + 1);
			if (!nb)
				return cerr_set(err, COMPAT_ENOMEM, "out of memory");
			p->hbuf = nb;
			memcpy(nb + p->hlen, buf + i, take);
			size_t from = p->hlen > 3 ? p->hlen - 3 : 0;
			p->hlen += take;
			nb[p->hlen] = '\0';
			char *end = strstr(nb + from, "\r\n\r\n");
			if (!end) {
				i += take;
				if (p->hlen >= HTTP_MAX_HEADER)
					return cerr_set(err, COMPAT_ELIMIT, "HTTP headers larger than %u bytes",
							HTTP_MAX_HEADER);
				break;
			}
			size_t head_len = (size_t)(end - nb) + 4;
			i += head_len - (p->hlen - take);
			nb[head_len - 2] = '\0';
			if (memchr(nb, '\0', head_len - 2))
				return cerr_set(err, COMPAT_EPROTO, "NUL byte in HTTP headers");
			if ((rc = parse_head(p, err)) < 0)
				return rc;
			break;
		}
		case S_BODY: {
			size_t n = len - i;
			if (p->content_length >= 0 && (int64_t)n > p->content_length - (int64_t)p->r->len)
				n = (size_t)(p->content_length - (int64_t)p->r->len);
			if ((rc = body_append(p, buf + i, n, err)) < 0)
				return rc;
			i += n;
			if (p->content_length >= 0 && (int64_t)p->r->len == p->content_length)
				p->state = S_DONE;
			break;
		}
		case S_CHUNK_SIZE:
		case S_TRAILER: {
			char ch = (char)buf[i++];
			if (ch != '\n') {
				if (p->line_len >= sizeof p->line - 1)
					return cerr_set(err, COMPAT_EPROTO, "malformed chunk header");
				p->line[p->line_len++] = ch;
				break;
			}
			p->line[p->line_len] = '\0';
			if (p->line_len && p->line[p->line_len - 1] == '\r')
				p->line[--p->line_len] = '\0';
			if (p->state == S_TRAILER) {
				if (p->line_len == 0)
					p->state = S_DONE;
				p->line_len = 0;
				break;
			}
			char *end;
			if (!isxdigit((unsigned char)p->line[0]))
				return cerr_set(err, COMPAT_EPROTO, "malformed chunk size");
			unsigned long long n = strtoull(p->line, &end, 16);
			if (*end && *end != ';')
				return cerr_set(err, COMPAT_EPROTO, "malformed chunk size");
			if (n > p->max_body - p->r->len)
				return cerr_set(err, COMPAT_ELIMIT, "response body larger than %zu bytes", p->max_body);
			p->line_len = 0;
			p->chunk_left = n;
			p->state = n ? S_CHUNK_DATA : S_TRAILER;
			break;
		}
		case S_CHUNK_DATA: {
			size_t n = len - i;
			if (n > p->chunk_left)
				n = (size_t)p->chunk_left;
			if ((rc = body_append(p, buf + i, n, err)) < 0)
				return rc;
			i += n;
			p->chunk_left -= n;
			if (!p->chunk_left)
				p->state = S_CHUNK_CRLF;
			break;
		}
		case S_CHUNK_CRLF:
			if (buf[i] == '\n')
				p->state = S_CHUNK_SIZE;
			else if (buf[i] != '\r')
				return cerr_set(err, COMPAT_EPROTO, "malformed chunk end");
			i++;
			break;
		}
	}
	return p->state == S_DONE ? 1 : 0;
}

int http_parser_eof(struct http_parser *p, struct cerr *err)
{
	if (p->state == S_DONE)
		return 1;
	if (p->state == S_BODY && p->content_length < 0) {
		p->state = S_DONE;
		return 1;
	}
	return cerr_set(err, COMPAT_EPROTO, "connection closed before the end of the response");
}

int http_request(const struct http_target *t, const char *method, const char *path,
		 const char *const *headers, const void *body, size_t len, size_t max_body,
		 struct http_response *r, struct cerr *err)
{
	return http_request_sink(t, method, path, headers, body, len, max_body, NULL, r, err);
}

int http_request_sink(const struct http_target *t, const char *method, const char *path,
		      const char *const *headers, const void *body, size_t len, size_t max_body,
		      const struct http_sink *sink, struct http_response *r, struct cerr *err)
{
	struct net_conn c;
	struct http_parser p;
	char *req = NULL;
	size_t rl = 0;
	FILE *f = open_memstream(&req, &rl);
	int rc;
	memset(r, 0, sizeof *r);
	if (!f)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: compat/" COMPAT_VERSION
		   "\r\nConnection: close\r\n", method, path, t->host);
	for (size_t i = 0; headers && headers[i]; i++)
		fprintf(f, "%s\r\n", headers[i]);
	if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
		fprintf(f, "Content-Length: %zu\r\n", len);
	fputs("\r\n", f);
	fclose(f);
	/* A CA file means TLS to net_connect: only for a TLS target (an
	 * http:// redirect from a TLS registry is plain HTTP). */
	rc = net_connect(&c, t->host, t->tls ? "443" : "80", t->timeout_ms ? t->timeout_ms : 30000, t->tls,
			 t->tls ? t->ca_file : NULL, NULL, NULL, err);
	if (rc < 0) {
		free(req);
		return rc;
	}
	c.cancelled = t->cancelled;
	int sent = net_send_all(&c, req, rl);
	if (sent == 0 && len)
		sent = net_send_all(&c, body, len);
	if (sent < 0) {
		rc = cerr_set(err, COMPAT_EUNREACH, "%s: %s", t->host,
			      sent == COMPAT_ELIMIT ? "timed out sending the request" : "cannot send the request");
		goto out;
	}
	http_parser_init(&p, r, max_body, strcmp(method, "HEAD") == 0);
	p.sink = sink;
	uint8_t buf[16384];
	for (;;) {
		ssize_t n = net_recv(&c, buf, sizeof buf);
		if (n == COMPAT_ELIMIT) {
			int gone = t->cancelled && __atomic_load_n(t->cancelled, __ATOMIC_RELAXED);
			rc = cerr_set(err, COMPAT_EUNREACH, "%s: %s", t->host, gone ? "cancelled" : "timed out");
			break;
		}
		if (n < 0) {
			rc = cerr_set(err, COMPAT_EUNREACH, "%s: connection failed", t->host);
			break;
		}
		rc = n == 0 ? http_parser_eof(&p, err) : http_parser_feed(&p, buf, (size_t)n, err);
		if (rc != 0)
			break;
	}
	http_parser_free(&p);
	if (rc > 0)
		rc = 0;
	if (rc < 0)
		http_response_free(r);
out:
	net_close(&c);
	free(req);
	return rc;
}
