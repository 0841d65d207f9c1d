#include <elf.h>
#include <jansson.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "compat.pb.h"
#include "elf.h"
#include "grpc.h"
#include "health.pb.h"
#include "oci.h"
#include "pbstr.h"
#include "service.h"
#include "verdict.h"

#define PATH_CHECK "/" SERVICE_NAME "/CheckCompatibility"
#define PATH_LOCATE "/" SERVICE_NAME "/LocateLibraries"
#define PATH_HEALTH "/grpc.health.v1.Health/Check"

int service_has_method(const char *path)
{
	return strcmp(path, PATH_CHECK) == 0 || strcmp(path, PATH_LOCATE) == 0 ||
	       strcmp(path, PATH_HEALTH) == 0;
}

static void fail(struct service_reply *r, int status, const char *msg)
{
	r->status = status;
	snprintf(r->message, sizeof r->message, "%s", msg);
}

/* Encode a message into a malloc'd buffer. */
static int encode(const pb_msgdesc_t *fields, const void *msg, struct service_reply *r)
{
	size_t size;
	if (!pb_get_encoded_size(&size, fields, msg))
		return -1;
	r->body = malloc(size ? size : 1);
	if (!r->body)
		return -1;
	pb_ostream_t os = pb_ostream_from_buffer(r->body, size);
	if (!pb_encode(&os, fields, msg)) {
		free(r->body);
		r->body = NULL;
		return -1;
	}
	r->len = os.bytes_written;
	return 0;
}

/* ---- CheckCompatibility ---- */

static void copy_trunc(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static bool write_findings(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct verdict *v = *arg;
	for (size_t i = 0; i < v->nfindings; i++) {
		convergedcomputing_org_grpc_v1_Finding f = convergedcomputing_org_grpc_v1_Finding_init_zero;
		copy_trunc(f.kind, sizeof f.kind, v->findings[i].kind);
		copy_trunc(f.soname, sizeof f.soname, v->findings[i].soname);
		copy_trunc(f.detail, sizeof f.detail, v->findings[i].detail);
		f.warning = v->findings[i].warning != 0;
		if (!pb_encode_tag_for_field(stream, field) ||
		    !pb_encode_submessage(stream, convergedcomputing_org_grpc_v1_Finding_fields, &f))
			return false;
	}
	return true;
}

static char *error_payload(const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}


/* Encode resp with out as its JSON payload; out NULL means we ran out of
 * memory building it. */
static void send_response(convergedcomputing_org_grpc_v1_Response *resp, char *out, struct service_reply *r)
{
	if (!out)
		return fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	resp->payload.funcs.encode = pbstr_write;
	resp->payload.arg = out;
	if (encode(convergedcomputing_org_grpc_v1_Response_fields, resp, r) < 0)
		fail(r, GRPC_INTERNAL, "cannot encode the response");
}

/* Judge a parsed artifact: the verdict, its JSON report, the findings. */
static void judge(struct service *s, const struct pbstr_list *dirs, const struct artifact *a,
		  convergedcomputing_org_grpc_v1_Response *resp, struct verdict *v, int *have_verdict,
		  char **out)
{
	struct cerr err;
	struct verdict_opts vo = { .extra_dirs = (const char *const *)dirs->v, .nextra = dirs->n };
	if (verdict_check(s->idx, a, &vo, v, &err) < 0) {
		resp->status = convergedcomputing_org_grpc_v1_Response_ResultType_ERROR;
		*out = error_payload(err.msg);
		return;
	}
	*have_verdict = 1;
	resp->compatible = v->compatible;
	*out = verdict_to_json(v, NULL);
	resp->findings.funcs.encode = write_findings;
	resp->findings.arg = v;
}

struct service_fetch {
	struct pbstr_list dirs;		/* the request's library_path, owned */
	char ref[1100];
	int plain_http;
	struct pbstr payload;	/* fetched bytes */
	int rc;
	struct cerr err;
};

void service_fetch_free(struct service_fetch *f)
{
	if (!f)
		return;
	pbstr_list_free(&f->dirs);
	free(f->payload.p);
	free(f);
}

void service_fetch_run(struct service_fetch *f)
{
	struct oci_opts oo = { .timeout_ms = 10000, .plain_http = f->plain_http };
	free(f->payload.p);
	f->payload.p = NULL;
	f->rc = oci_pull_artifact(f->ref, &oo, &f->payload.p, &f->payload.n, &f->err);
}

/* Judge the payload (or report why there is none) and encode the Response. */
static void answer(struct service *s, const struct pbstr_list *dirs, const struct pbstr *payload,
		   const char *fail_msg, struct service_reply *r)
{
	convergedcomputing_org_grpc_v1_Response resp = convergedcomputing_org_grpc_v1_Response_init_zero;
	struct artifact a;
	struct verdict v;
	struct cerr err;
	char *out = NULL;
	int have_artifact = 0, have_verdict = 0;

	artifact_init(&a);
	memset(&v, 0, sizeof v);
	resp.status = convergedcomputing_org_grpc_v1_Response_ResultType_SUCCESS;
	if (fail_msg) {
		resp.status = convergedcomputing_org_grpc_v1_Response_ResultType_ERROR;
		out = error_payload(fail_msg);
	} else if (artifact_parse(payload->p ? payload->p : "", payload->n, "payload", &a, &err) < 0) {
		resp.status = convergedcomputing_org_grpc_v1_Response_ResultType_ERROR;
		out = error_payload(err.msg);
	} else {
		have_artifact = 1;
		judge(s, dirs, &a, &resp, &v, &have_verdict, &out);
	}
	send_response(&resp, out, r);
	free(out);
	if (have_artifact)
		artifact_free(&a);
	if (have_verdict)
		verdict_free(&v);
}

void service_fetch_finish(struct service *s, struct service_fetch *f, struct service_reply *r)
{
	memset(r, 0, sizeof *r);
	answer(s, &f->dirs, &f->payload, f->rc < 0 ? f->err.msg : NULL, r);
	service_fetch_free(f);
}

static void denied(const char *host, struct service_reply *r)
{
	convergedcomputing_org_grpc_v1_Response resp = convergedcomputing_org_grpc_v1_Response_init_zero;
	char m[400];
	snprintf(m, sizeof m, "registry %s is not allowed (compat serve --allow-registry)", host);
	char *out = error_payload(m);
	resp.status = convergedcomputing_org_grpc_v1_Response_ResultType_DENIED;
	send_response(&resp, out, r);
	free(out);
}

static void check(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	convergedcomputing_org_grpc_v1_CompatRequest reqs = convergedcomputing_org_grpc_v1_CompatRequest_init_zero,
						     *req = &reqs;
	struct pbstr payload = { 0 };
	struct pbstr_list dirs = { 0 };
	req->payload.funcs.decode = pbstr_read;
	req->payload.arg = &payload;
	req->library_path.funcs.decode = pbstr_list_read;
	req->library_path.arg = &dirs;
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, convergedcomputing_org_grpc_v1_CompatRequest_fields, req)) {
		char m[200];
		snprintf(m, sizeof m, "malformed CompatRequest: %s", PB_GET_ERROR(&is));
		fail(r, GRPC_INVALID_ARGUMENT, m);
		goto out;
	}
	if (!req->uri[0]) {
		answer(s, &dirs, &payload, NULL, r);
		goto out;
	}
	/* [http://|https://]REGISTRY/REPO[:TAG|@DIGEST] */
	const char *ref = req->uri;
	int plain = strncmp(ref, "http://", 7) == 0;
	if (plain)
		ref += 7;
	else if (strncmp(ref, "https://", 8) == 0)
		ref += 8;
	char host[256];
	int allowed = 0;
	snprintf(host, sizeof host, "%.*s", (int)strcspn(ref, "/"), ref);
	for (size_t i = 0; i < s->nallow; i++)
		allowed |= strcmp(s->allow[i], host) == 0;
	if (!allowed) {
		denied(host, r);
		goto out;
	}
	/* The fetch blocks: hand it to the caller, who runs it off the loop. */
	struct service_fetch *f = calloc(1, sizeof *f);
	if (!f) {
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	f->plain_http = plain;
	snprintf(f->ref, sizeof f->ref, "%s", ref);
	f->dirs = dirs;
	dirs.n = 0;
	r->fetch = f;
out:
	free(payload.p);
	pbstr_list_free(&dirs);
}

/* ---- LocateLibraries ---- */

static void locate(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	convergedcomputing_org_grpc_v1_LocateRequest *req = calloc(1, sizeof *req);
	convergedcomputing_org_grpc_v1_LocateResponse *resp = calloc(1, sizeof *resp);
	if (!req || !resp) {
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, convergedcomputing_org_grpc_v1_LocateRequest_fields, req)) {
		char m[200];
		snprintf(m, sizeof m, "malformed LocateRequest: %s", PB_GET_ERROR(&is));
		fail(r, GRPC_INVALID_ARGUMENT, m);
		goto out;
	}
	int cls = req->elf_class[0] ? elf_class_from_name(req->elf_class) : ELFCLASS64;
	int mach = req->machine[0] ? elf_machine_from_name(req->machine) : EM_X86_64;
	if (cls < 0 || mach < 0) {
		fail(r, GRPC_INVALID_ARGUMENT, "unknown elf_class or machine");
		goto out;
	}
	for (pb_size_t i = 0; i < req->soname_count; i++) {
		const struct host_lib *l = index_lookup_soname(s->idx, req->soname[i], cls, mach);
		convergedcomputing_org_grpc_v1_Location *loc = &resp->locations[resp->locations_count++];
		copy_trunc(loc->soname, sizeof loc->soname, req->soname[i]);
		copy_trunc(loc->path, sizeof loc->path, l ? l->path : "");
	}
	if (encode(convergedcomputing_org_grpc_v1_LocateResponse_fields, resp, r) < 0)
		fail(r, GRPC_INTERNAL, "cannot encode the response");
out:
	free(req);
	free(resp);
}

/* ---- grpc.health.v1.Health/Check ---- */

static void health(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	grpc_health_v1_HealthCheckRequest req = grpc_health_v1_HealthCheckRequest_init_zero;
	grpc_health_v1_HealthCheckResponse resp = grpc_health_v1_HealthCheckResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, grpc_health_v1_HealthCheckRequest_fields, &req)) {
		fail(r, GRPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
		return;
	}
	if (req.service[0] && strcmp(req.service, SERVICE_NAME) != 0) {
		fail(r, GRPC_NOT_FOUND, "unknown service");
		return;
	}
	resp.status = s->serving ? grpc_health_v1_HealthCheckResponse_ServingStatus_SERVING
				 : grpc_health_v1_HealthCheckResponse_ServingStatus_NOT_SERVING;
	if (encode(grpc_health_v1_HealthCheckResponse_fields, &resp, r) < 0)
		fail(r, GRPC_INTERNAL, "cannot encode the response");
}

void service_call(struct service *s, const char *path, const uint8_t *msg, size_t len,
		  struct service_reply *r)
{
	memset(r, 0, sizeof *r);
	if (strcmp(path, PATH_CHECK) == 0)
		check(s, msg, len, r);
	else if (strcmp(path, PATH_LOCATE) == 0)
		locate(s, msg, len, r);
	else if (strcmp(path, PATH_HEALTH) == 0)
		health(s, msg, len, r);
	else
		fail(r, GRPC_UNIMPLEMENTED, "unknown method");
}
