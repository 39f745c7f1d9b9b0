/*
 * registry internals shared by the files of the module (not part of the contract).
 *
 * A request_t describes one logical HTTP exchange; registry_do sends it, handling the
 * scheme of insecure hosts, authentication (challenge, token cache, one retry after a
 * 401) and retries of transport errors, 5xx and 429 with backoff. A response_t holds
 * what the answer said.
 */
#ifndef S2I_REGISTRY_INTERNAL_H
#define S2I_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <stdarg.h>

#include "registry/registry.h"
#include "util/util.h"

/* Bodies of error answers (and other buffered answers) are cut at this size. */
#define REGISTRY_ERROR_BODY_MAX (1u << 20)

typedef struct request {
    const char *registry;   /* host settings, credentials and auth state come from here */
    const char *method;     /* GET HEAD PUT POST PATCH DELETE */
    const char *path;       /* "/v2/..." on the registry's API host, or NULL ... */
    const char *url;        /* ... an absolute URL (an upload Location) */
    const char *scope;      /* token scopes, space-separated; NULL for none */
    const char *headers[6]; /* extra "Name: value" lines, NULL-terminated */
    /* request body (PUT, POST and PATCH always send one, possibly empty): memory, or a
     * source of exactly body_len bytes (-1: unknown, sent chunked) */
    const char *body;
    int64_t body_len;
    const registry_blob_source_t *source;
    /* answer body: streamed to write on 2xx, else buffered up to max_body */
    registry_blob_write_fn write;
    void *write_data;
    size_t max_body;
    int64_t skip; /* drop this many leading bytes of a 2xx body (resumed downloads) */
    bool blob;    /* long transfer: a stall timeout instead of a total timeout */
    bool follow;  /* follow redirects (blob downloads) */
    bool once;    /* no retries of transport errors, 5xx or 429: the caller resolves them */
} request_t;

typedef struct response {
    long code;
    buf_t body;
    char *location;
    char *content_type;
    char *docker_content_digest;
    char *range;
    int64_t content_length; /* -1 when absent */
    buf_t www_authenticate; /* every WWW-Authenticate value, joined with ", " */
    double retry_after;     /* seconds, 0 when absent */
    int64_t delivered;      /* bytes passed to request.write */
    bool write_failed;      /* request.write returned non-zero */
    CURLcode curl_code;
    char curl_error[CURL_ERROR_SIZE];
    char *effective_url; /* the URL that answered */
    bool too_large;      /* a 2xx body above request.max_body: the transfer was cut */
    bool no_credentials; /* a final 401 and we had nothing to offer */
    /* transfer state, set by registry_setup_handle */
    const request_t *req;
    CURL *handle;
    size_t body_offset;
    int64_t skipped;
} response_t;

void response_init(response_t *r);
void response_clear(response_t *r);

/* Sends req. Returns OK whenever an HTTP answer arrived (any status: the caller decides
 * what a status means, usually via registry_error_from_resp), or the error that kept
 * one from arriving (transport, auth, client). */
registry_err_t registry_do(registry_client_t *c, const request_t *req, response_t *resp,
                           registry_error_t *error);
/* Fills error from a non-2xx answer, naming what was attempted: "GET manifest x: ...". */
registry_err_t registry_error_from_resp(registry_error_t *error, const response_t *resp,
                                        const char *what, const char *subject);

registry_err_t registry_error_set(registry_error_t *e, registry_err_t err, long http_code,
                                  const char *code, const char *fmt, ...) UTIL_PRINTF(5, 6);
registry_err_t registry_error_setv(registry_error_t *e, registry_err_t err, long http_code,
                                   const char *code, const char *fmt, va_list ap);
/* Prefixes the message of an error already set: "<prefix>: <message>". */
registry_err_t registry_error_prefix(registry_error_t *e, const char *fmt, ...) UTIL_PRINTF(2, 3);

/* Resolves a Location header against the URL it came from (relative or absolute). */
char *registry_resolve_url(const char *base, const char *location);
/* Appends a query parameter (value escaped) to a URL that may already have a query. */
char *registry_url_add_query(const char *url, const char *name, const char *value);
/* "repository:<repo>:<actions>" */
char *registry_scope(const char *repository, const char *actions);

/* The platform configured on the client. */
void registry_client_platform(const registry_client_t *c, const char **os, const char **arch,
                              const char **variant);
size_t registry_client_chunk_size(const registry_client_t *c);
int registry_client_max_retries(const registry_client_t *c);
double registry_client_retry_initial(const registry_client_t *c);

/* Streams one GET into one upload session with a curl multi handle (blob.c). */
registry_err_t registry_stream_copy(registry_client_t *c, const request_t *get,
                                    const request_t *put, int64_t size, const char *digest,
                                    registry_error_t *error);

/* Builds the easy handle of an attempt without sending it (client.c); used by the
 * streamed copy, which drives two handles at once. auth is prepared by
 * registry_prepare_auth. */
CURL *registry_handle_take(registry_client_t *c);
void registry_handle_give(registry_client_t *c, CURL *h);
registry_err_t registry_prepare(registry_client_t *c, const request_t *req, char **url_out,
                                char **auth_header_out, registry_error_t *error);
int registry_setup_handle(registry_client_t *c, CURL *h, const request_t *req, const char *url,
                          const char *auth_header, response_t *resp, struct curl_slist **headers);
/* After a transfer: curl's result in resp, effective URL, status. */
void registry_finish_handle(CURL *h, CURLcode rc, response_t *resp);

/* Base64 (standard alphabet, padded). NULL when out of memory / invalid. */
char *registry_base64_encode(const char *data, size_t len);
char *registry_base64_decode(const char *in, size_t *len_out);

/* Lower-case ASCII in place. */
void registry_lowercase(char *s);

#endif
