/*
 * registry/client: HTTP to registries over libcurl, and authentication.
 *
 * The first request to a registry pings GET /v2/ without credentials to learn two things
 * once: the scheme (an insecure registry may be plain HTTP; HTTPS is tried first) and
 * the challenge (none, Basic, or Bearer with realm and service). Every later request then
 * carries the right Authorization from the start, so bodies are not sent twice to be
 * refused. A 401 in the middle (expired token, a registry that protects some repositories
 * only) re-learns the challenge from that answer, drops the cached token and sends once
 * more.
 *
 * Bearer tokens are cached per (realm, service, scope, user) until expires_in (at least
 * 60 s, as the token spec says clients must assume) minus a margin. Authorization is only
 * attached to URLs on the registry's own host: an upload Location or a redirect to
 * storage elsewhere never sees it (libcurl also drops custom Authorization headers on
 * redirects to another host).
 *
 * Easy handles are pooled so their keep-alive connections are reused across requests.
 */
#include "registry/registry_internal.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_USER_AGENT "s2i-builder/" S2I_VERSION
#define POOL_MAX           8
/* The token spec: a token with expires_in below 60 s is to be treated as 60 s. */
#define TOKEN_MIN_LIFETIME 60
/* Renew a token this long before it expires so it does not die in flight. */
#define TOKEN_EXPIRY_MARGIN   10
#define TOKEN_BODY_MAX        (256u << 10)
#define STALL_BYTES_PER_SEC   1024
#define RETRY_MAX_DELAY       10.0
#define RETRY_AFTER_MAX_DELAY 30.0
#define MAX_REDIRECTS         5

enum scheme { SCHEME_UNKNOWN, SCHEME_HTTPS, SCHEME_HTTP };
enum auth_kind { AUTH_UNKNOWN, AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

typedef struct host {
    bool insecure;
    char *ca_file;
    char *username;
    char *password;
    enum scheme scheme;
    enum auth_kind auth;
    char *realm;
    char *service;
} host_t;

/* A copy of a host's state taken under the lock, used without it. */
typedef struct host_view {
    bool insecure;
    char *ca_file;
    enum scheme scheme;
    enum auth_kind auth;
    char *realm;
    char *service;
} host_view_t;

typedef struct token {
    char *value;
    double expires; /* util_monotonic() */
} token_t;

struct registry_client {
    registry_client_options_t opts;
    char *user_agent;
    char *ca_file;
    char *os;
    char *architecture;
    char *variant;
    pthread_mutex_t lock; /* hosts, tokens */
    strmap_t *hosts;      /* registry -> host_t */
    strmap_t *tokens;     /* cache key -> token_t */
    registry_auth_config_t *auth_config;
    pthread_mutex_t pool_lock;
    CURL *idle[POOL_MAX];
    size_t idle_len;
};

void registry_client_options_default(registry_client_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->timeout = 60;
    opts->connect_timeout = 15;
    opts->stall_timeout = 60;
    opts->max_retries = 4;
    opts->retry_initial = 0.5;
    opts->chunk_size = 8u << 20;
}

/* ---- construction and configuration ----------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void host_free(void *p)
{
    host_t *h = p;
    if (!h)
        return;
    free(h->ca_file);
    free(h->username);
    if (h->password)
        explicit_bzero(h->password, strlen(h->password));
    free(h->password);
    free(h->realm);
    free(h->service);
    free(h);
}

static void token_free(void *p)
{
    token_t *t = p;
    if (!t)
        return;
    if (t->value)
        explicit_bzero(t->value, strlen(t->value));
    free(t->value);
    free(t);
}

registry_client_t *registry_client_new(const registry_client_options_t *opts)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK)
        return NULL;
    registry_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (opts)
        c->opts = *opts;
    else
        registry_client_options_default(&c->opts);
    if (c->opts.chunk_size == 0)
        c->opts.chunk_size = 8u << 20;
    c->user_agent = util_strdup(c->opts.user_agent ? c->opts.user_agent : DEFAULT_USER_AGENT);
    c->ca_file = util_strdup(c->opts.ca_file);
    c->os = util_strdup(c->opts.os ? c->opts.os : "linux");
    c->architecture = util_strdup(c->opts.architecture ? c->opts.architecture : "amd64");
    c->variant = util_strdup(c->opts.variant);
    c->opts.user_agent = c->user_agent;
    c->opts.ca_file = c->ca_file;
    c->opts.os = c->os;
    c->opts.architecture = c->architecture;
    c->opts.variant = c->variant;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    c->hosts = strmap_new(host_free);
    c->tokens = strmap_new(token_free);
    if (!c->user_agent || !c->os || !c->architecture || !c->hosts || !c->tokens ||
        (opts && opts->ca_file && !c->ca_file) || (opts && opts->variant && !c->variant)) {
        registry_client_free(c);
        return NULL;
    }
    return c;
}

void registry_client_free(registry_client_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->idle_len; i++)
        curl_easy_cleanup(c->idle[i]);
    strmap_free(c->hosts);
    strmap_free(c->tokens);
    registry_auth_config_free(c->auth_config);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->pool_lock);
    free(c->user_agent);
    free(c->ca_file);
    free(c->os);
    free(c->architecture);
    free(c->variant);
    free(c);
}

/* The host entry for registry, created on first use. Call with c->lock held. */
static host_t *host_get(registry_client_t *c, const char *registry)
{
    host_t *h = strmap_get(c->hosts, registry);
    if (h)
        return h;
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if (strmap_set(c->hosts, registry, h) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

int registry_client_set_insecure(registry_client_t *c, const char *registry, bool insecure)
{
    pthread_mutex_lock(&c->lock);
    host_t *h = host_get(c, registry);
    if (h) {
        h->insecure = insecure;
        h->scheme = SCHEME_UNKNOWN;
    }
    pthread_mutex_unlock(&c->lock);
    return h ? 0 : -1;
}

int registry_client_set_ca_file(registry_client_t *c, const char *registry, const char *ca_file)
{
    char *copy = util_strdup(ca_file);
    if (ca_file && !copy)
        return -1;
    pthread_mutex_lock(&c->lock);
    host_t *h = host_get(c, registry);
    if (h) {
        free(h->ca_file);
        h->ca_file = copy;
    }
    pthread_mutex_unlock(&c->lock);
    if (!h)
        free(copy);
    return h ? 0 : -1;
}

int registry_client_set_credentials(registry_client_t *c, const char *registry,
                                    const char *username, const char *password)
{
    char *user = util_strdup(username), *pass = util_strdup(password ? password : "");
    if (!user || !pass) {
        free(user);
        free(pass);
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    host_t *h = host_get(c, registry);
    if (h) {
        free(h->username);
        if (h->password)
            explicit_bzero(h->password, strlen(h->password));
        free(h->password);
        h->username = user;
        h->password = pass;
    }
    pthread_mutex_unlock(&c->lock);
    if (!h) {
        free(user);
        free(pass);
    }
    return h ? 0 : -1;
}

void registry_client_set_auth_config(registry_client_t *c, registry_auth_config_t *cfg)
{
    registry_auth_config_free(c->auth_config);
    c->auth_config = cfg;
}

void registry_client_platform(const registry_client_t *c, const char **os, const char **arch,
                              const char **variant)
{
    *os = c->os;
    *arch = c->architecture;
    *variant = c->variant;
}

size_t registry_client_chunk_size(const registry_client_t *c)
{
    return c->opts.chunk_size;
}

int registry_client_max_retries(const registry_client_t *c)
{
    return c->opts.max_retries;
}

double registry_client_retry_initial(const registry_client_t *c)
{
    return c->opts.retry_initial;
}

static const char *api_host(const char *registry)
{
    return strcmp(registry, REGISTRY_DOCKER_HUB) == 0 ? REGISTRY_DOCKER_HUB_API : registry;
}

static void host_view_clear(host_view_t *v)
{
    free(v->ca_file);
    free(v->realm);
    free(v->service);
    memset(v, 0, sizeof(*v));
}

static int host_view_take(registry_client_t *c, const char *registry, host_view_t *v)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_lock(&c->lock);
    host_t *h = host_get(c, registry);
    int rc = -1;
    if (h) {
        v->insecure = h->insecure;
        v->scheme = h->scheme;
        v->auth = h->auth;
        v->ca_file = util_strdup(h->ca_file);
        v->realm = util_strdup(h->realm);
        v->service = util_strdup(h->service);
        rc = (h->ca_file && !v->ca_file) || (h->realm && !v->realm) || (h->service && !v->service)
                 ? -1
                 : 0;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        host_view_clear(v);
    return rc;
}

/* Explicit credentials, else the docker config's. 1 found, 0 none, -1 error. */
static int host_credentials(registry_client_t *c, const char *registry, registry_credentials_t *out)
{
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    host_t *h = strmap_get(c->hosts, registry);
    if (h && h->username) {
        out->username = util_strdup(h->username);
        out->password = util_strdup(h->password);
        rc = out->username && out->password ? 1 : -1;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) {
        if (rc < 0)
            registry_credentials_clear(out);
        return rc;
    }
    return registry_auth_config_lookup(c->auth_config, registry, out);
}

/* ---- URLs --------------------------------------------------------------------- */

char *registry_resolve_url(const char *base, const char *location)
{
    CURLU *u = curl_url();
    char *url = NULL, *copy = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK)
        copy = util_strdup(url);
    curl_free(url);
    curl_url_cleanup(u);
    return copy;
}

char *registry_url_add_query(const char *url, const char *name, const char *value)
{
    CURLU *u = curl_url();
    char *pair = util_asprintf("%s=%s", name, value);
    char *out = NULL, *copy = NULL;
    if (u && pair && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
        copy = util_strdup(out);
    curl_free(out);
    curl_url_cleanup(u);
    free(pair);
    return copy;
}

char *registry_scope(const char *repository, const char *actions)
{
    return util_asprintf("repository:%s:%s", repository, actions);
}

/* Does url point at scheme://host (same host, same port)? */
static bool url_on_host(const char *url, const char *scheme, const char *host)
{
    char *origin = util_asprintf("%s://%s/", scheme, host);
    CURLU *a = curl_url(), *b = curl_url();
    char *ah = NULL, *ap = NULL, *bh = NULL, *bp = NULL;
    bool same = false;
    if (origin && a && b && curl_url_set(a, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(b, CURLUPART_URL, origin, 0) == CURLUE_OK &&
        curl_url_get(a, CURLUPART_HOST, &ah, 0) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_HOST, &bh, 0) == CURLUE_OK &&
        curl_url_get(a, CURLUPART_PORT, &ap, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_PORT, &bp, CURLU_DEFAULT_PORT) == CURLUE_OK)
        same = strcasecmp(ah, bh) == 0 && strcmp(ap, bp) == 0;
    curl_free(ah);
    curl_free(ap);
    curl_free(bh);
    curl_free(bp);
    curl_url_cleanup(a);
    curl_url_cleanup(b);
    free(origin);
    return same;
}

/* "host" or "host:port" of a URL, as registries are named; NULL if it has none. */
static char *url_host_port(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out = NULL;
    if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            out = util_asprintf("%s:%s", host, port);
        else
            out = util_strdup(host);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

/* ---- responses and the easy handle ------------------------------------------------ */

void response_init(response_t *r)
{
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
}

static void response_reset_headers(response_t *r)
{
    free(r->location);
    free(r->content_type);
    free(r->docker_content_digest);
    free(r->range);
    r->location = r->content_type = r->docker_content_digest = r->range = NULL;
    r->content_length = -1;
    r->retry_after = 0;
    buf_reset(&r->www_authenticate);
}

void response_clear(response_t *r)
{
    if (!r)
        return;
    response_reset_headers(r);
    buf_free(&r->body);
    buf_free(&r->www_authenticate);
    free(r->effective_url);
    response_init(r);
}

static char *trimmed_dup(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    return strndup(s, len);
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userdata)
{
    response_t *r = userdata;
    size_t len = size * nitems;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100 Continue): forget the last one's. */
        response_reset_headers(r);
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return len;
    size_t name_len = (size_t)(colon - data);
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
#define HEADER_IS(n) (name_len == sizeof(n) - 1 && strncasecmp(data, n, name_len) == 0)
    char **slot = NULL;
    if (HEADER_IS("Location"))
        slot = &r->location;
    else if (HEADER_IS("Content-Type"))
        slot = &r->content_type;
    else if (HEADER_IS("Docker-Content-Digest"))
        slot = &r->docker_content_digest;
    else if (HEADER_IS("Range"))
        slot = &r->range;
    if (slot) {
        free(*slot);
        *slot = trimmed_dup(value, value_len);
    } else if (HEADER_IS("Content-Length")) {
        char *v = trimmed_dup(value, value_len);
        r->content_length = v ? strtoll(v, NULL, 10) : -1;
        free(v);
    } else if (HEADER_IS("Retry-After")) {
        char *v = trimmed_dup(value, value_len);
        char *end = NULL;
        double secs = v ? strtod(v, &end) : 0;
        r->retry_after = v && end != v && secs > 0 ? secs : 0;
        free(v);
    } else if (HEADER_IS("WWW-Authenticate")) {
        char *v = trimmed_dup(value, value_len);
        if (v) {
            if (r->www_authenticate.len)
                buf_puts(&r->www_authenticate, ", ");
            buf_puts(&r->www_authenticate, v);
            free(v);
        }
    }
#undef HEADER_IS
    return len;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    response_t *r = userdata;
    size_t len = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->handle, CURLINFO_RESPONSE_CODE, &code);
    bool ok = code >= 200 && code < 300;
    if (ok && r->req->write) {
        const char *p = data;
        size_t n = len;
        /* a 206 starts where we asked; a 200 (Range ignored) from the beginning */
        if (code == 200 && r->skipped < r->req->skip) {
            size_t drop =
                (size_t)(r->req->skip - r->skipped) < n ? (size_t)(r->req->skip - r->skipped) : n;
            r->skipped += (int64_t)drop;
            p += drop;
            n -= drop;
        }
        if (n > 0 && r->req->write(r->req->write_data, p, n) != 0) {
            r->write_failed = true;
            return 0;
        }
        r->delivered += (int64_t)n;
        return len;
    }
    size_t limit = ok && r->req->max_body ? r->req->max_body : REGISTRY_ERROR_BODY_MAX;
    if (r->body.len + len > limit) {
        if (ok) {
            r->too_large = true;
            return 0;
        }
        len = limit > r->body.len ? limit - r->body.len : 0;
        buf_append(&r->body, data, len);
        return size * nmemb;
    }
    if (buf_append(&r->body, data, len) < 0)
        return 0;
    return len;
}

static size_t read_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
    response_t *r = userdata;
    const request_t *req = r->req;
    size_t want = size * nitems;
    if (req->source) {
        ssize_t n = req->source->read(req->source->data, buffer, want);
        if (n < 0) {
            r->write_failed = true;
            return CURL_READFUNC_ABORT;
        }
        return (size_t)n;
    }
    size_t total = req->body_len > 0 ? (size_t)req->body_len : 0;
    size_t left = total - r->body_offset;
    size_t n = want < left ? want : left;
    if (n)
        memcpy(buffer, req->body + r->body_offset, n);
    r->body_offset += n;
    return n;
}

CURL *registry_handle_take(registry_client_t *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->idle_len > 0)
        h = c->idle[--c->idle_len];
    pthread_mutex_unlock(&c->pool_lock);
    return h ? h : curl_easy_init();
}

void registry_handle_give(registry_client_t *c, CURL *h)
{
    if (!h)
        return;
    /* reset keeps the live connections, DNS and TLS session caches */
    curl_easy_reset(h);
    pthread_mutex_lock(&c->pool_lock);
    if (c->idle_len < POOL_MAX) {
        c->idle[c->idle_len++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    curl_easy_cleanup(h);
}

static bool method_has_body(const char *method)
{
    return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0 ||
           strcmp(method, "PATCH") == 0;
}

static int setup_with_view(registry_client_t *c, CURL *h, const host_view_t *v,
                           const request_t *req, const char *url, const char *auth_header,
                           response_t *resp, struct curl_slist **headers)
{
    resp->req = req;
    resp->handle = h;
    struct curl_slist *list = NULL, *tmp = NULL;
    bool content_type = false;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(req->headers) && req->headers[i]; i++) {
        content_type |= strncasecmp(req->headers[i], "Content-Type:", 13) == 0;
        if (!(tmp = curl_slist_append(list, req->headers[i])))
            goto oom;
        list = tmp;
    }
    if (auth_header) {
        if (!(tmp = curl_slist_append(list, auth_header)))
            goto oom;
        list = tmp;
    }
    bool body = method_has_body(req->method);
    if (body && !content_type) {
        if (!(tmp = curl_slist_append(list, "Content-Type: application/octet-stream")))
            goto oom;
        list = tmp;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, resp->curl_error);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (body) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, resp);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(req->method, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (v->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (v->ca_file || c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, v->ca_file ? v->ca_file : c->ca_file);
    if (c->opts.connect_timeout > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->opts.connect_timeout * 1000));
    if (req->blob) {
        if (c->opts.stall_timeout > 0) {
            curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)STALL_BYTES_PER_SEC);
            curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->opts.stall_timeout);
        }
    } else if (c->opts.timeout > 0) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->opts.timeout * 1000));
    }
    if (req->follow) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    *headers = list;
    return 0;
oom:
    curl_slist_free_all(list);
    return -1;
}

int registry_setup_handle(registry_client_t *c, CURL *h, const request_t *req, const char *url,
                          const char *auth_header, response_t *resp, struct curl_slist **headers)
{
    host_view_t v;
    if (host_view_take(c, req->registry, &v) < 0)
        return -1;
    int rc = setup_with_view(c, h, &v, req, url, auth_header, resp, headers);
    host_view_clear(&v);
    return rc;
}

void registry_finish_handle(CURL *h, CURLcode rc, response_t *resp)
{
    resp->curl_code = rc;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->code);
    char *eff = NULL;
    if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
        free(resp->effective_url);
        resp->effective_url = util_strdup(eff);
    }
    if (rc != CURLE_OK && !resp->curl_error[0])
        snprintf(resp->curl_error, sizeof(resp->curl_error), "%s", curl_easy_strerror(rc));
}

/* One attempt: send and wait. */
static void perform(registry_client_t *c, const host_view_t *v, const request_t *req,
                    const char *url, const char *auth_header, response_t *resp)
{
    CURL *h = registry_handle_take(c);
    struct curl_slist *headers = NULL;
    if (!h || setup_with_view(c, h, v, req, url, auth_header, resp, &headers) < 0) {
        resp->curl_code = CURLE_OUT_OF_MEMORY;
        snprintf(resp->curl_error, sizeof(resp->curl_error), "out of memory");
        if (h)
            curl_easy_cleanup(h);
        return;
    }
    CURLcode rc = curl_easy_perform(h);
    registry_finish_handle(h, rc, resp);
    curl_slist_free_all(headers);
    registry_handle_give(c, h);
    char status[16];
    snprintf(status, sizeof(status), "%ld", resp->code);
    log_v(4, "registry request", "method", req->method, "url", url, "status",
          resp->code ? status : "no answer", NULL);
}

/* Worth sending again: the network failed in a way a retry may not. */
static bool transient_curl_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_RESOLVE_HOST:
        return true;
    default:
        return false;
    }
}

static bool retryable_status(long code)
{
    return code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
}

static void retry_sleep(backoff_t *bo, double retry_after)
{
    double d = retry_after > 0 ? retry_after : backoff_next(bo);
    if (d > RETRY_AFTER_MAX_DELAY)
        d = RETRY_AFTER_MAX_DELAY;
    util_sleep(d);
}

/* ---- authentication ------------------------------------------------------------- */

/* Changes the type of an error already filled (the message stays). */
static registry_err_t retype(registry_error_t *e, registry_err_t err)
{
    if (e)
        e->err = err;
    return err;
}

/* Learns the challenge of a 401 (or a ping) into the host entry. 0, or -1 with error set
 * when the header is missing, unparseable or names no scheme we speak. */
static int learn_challenge(registry_client_t *c, const char *registry, const response_t *resp,
                           registry_error_t *error)
{
    if (!resp->www_authenticate.len) {
        registry_error_set(error, REGISTRY_ERR_UNAUTHORIZED, resp->code, NULL,
                           "%s answered 401 without a WWW-Authenticate challenge", registry);
        return -1;
    }
    registry_challenges_t ch = REGISTRY_CHALLENGES_INIT;
    char *err = NULL;
    if (registry_challenges_parse(resp->www_authenticate.data, &ch, &err) < 0) {
        registry_error_set(error, REGISTRY_ERR_PROTOCOL, resp->code, NULL, "%s: %s", registry,
                           err ? err : "cannot parse WWW-Authenticate");
        free(err);
        return -1;
    }
    const registry_challenge_t *bearer = registry_challenges_find(&ch, "bearer");
    const registry_challenge_t *basic = registry_challenges_find(&ch, "basic");
    const char *realm = bearer ? registry_challenge_param(bearer, "realm") : NULL;
    int rc = 0;
    if (bearer && !realm) {
        registry_error_set(error, REGISTRY_ERR_PROTOCOL, resp->code, NULL,
                           "%s: Bearer challenge without a realm", registry);
        rc = -1;
    } else if (!bearer && !basic) {
        registry_error_set(error, REGISTRY_ERR_UNSUPPORTED, resp->code, NULL,
                           "%s: no supported authentication scheme (Bearer or Basic) in "
                           "WWW-Authenticate",
                           registry);
        rc = -1;
    }
    if (rc == 0) {
        char *r = util_strdup(realm);
        char *s = bearer ? util_strdup(registry_challenge_param(bearer, "service")) : NULL;
        pthread_mutex_lock(&c->lock);
        host_t *h = host_get(c, registry);
        if (h) {
            h->auth = bearer ? AUTH_BEARER : AUTH_BASIC;
            free(h->realm);
            free(h->service);
            h->realm = r;
            h->service = s;
            r = s = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        free(r);
        free(s);
        if (!h) {
            registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
            rc = -1;
        }
    }
    registry_challenges_clear(&ch);
    return rc;
}

static char *token_key(const host_view_t *v, const char *scope, const char *username)
{
    return util_asprintf("%s\n%s\n%s\n%s", v->realm ? v->realm : "", v->service ? v->service : "",
                         scope ? scope : "", username ? username : "");
}

/* GET realm?service=&scope= (Basic credentials when we have them) and decode the token. */
static registry_err_t fetch_token(registry_client_t *c, const char *registry, const host_view_t *v,
                                  const char *scope, const registry_credentials_t *creds,
                                  char **token_out, double *lifetime_out, registry_error_t *error)
{
    if (util_has_prefix(v->realm, "http://") && !v->insecure)
        return registry_error_set(error, REGISTRY_ERR_UNAUTHORIZED, 0, NULL,
                                  "%s: refusing to send credentials to the plain HTTP token "
                                  "realm %s (configure the registry as insecure to allow it)",
                                  registry, v->realm);
    char *url = util_strdup(v->realm);
    if (url && v->service && *v->service) {
        char *next = registry_url_add_query(url, "service", v->service);
        free(url);
        url = next;
    }
    /* several scopes are several scope= parameters */
    for (const char *s = scope ? scope : ""; url && *s;) {
        size_t n = strcspn(s, " ");
        char *one = strndup(s, n);
        char *next = one ? registry_url_add_query(url, "scope", one) : NULL;
        free(one);
        free(url);
        url = next;
        s += n;
        while (*s == ' ')
            s++;
    }
    if (!url)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL,
                                  "%s: invalid token realm URL", registry);
    /* The realm's TLS settings: the registry's when the registry's host serves it, else
     * those configured for the realm's own host (a registry's private CA must not be forced
     * on a public token service). */
    host_view_t realm_view = {0};
    char *realm_host = url_host_port(v->realm);
    bool own = realm_host && strcmp(realm_host, api_host(registry)) == 0;
    if (!own && (!realm_host || host_view_take(c, realm_host, &realm_view) < 0)) {
        free(realm_host);
        free(url);
        return registry_error_set(error, REGISTRY_ERR_PROTOCOL, 0, NULL,
                                  "%s: unusable token realm %s", registry, v->realm);
    }
    free(realm_host);
    char *auth = NULL;
    if (creds->username) {
        char *plain = util_asprintf("%s:%s", creds->username, creds->password);
        char *b64 = plain ? registry_base64_encode(plain, strlen(plain)) : NULL;
        auth = b64 ? util_asprintf("Authorization: Basic %s", b64) : NULL;
        if (plain)
            explicit_bzero(plain, strlen(plain));
        free(plain);
        free(b64);
        if (!auth) {
            free(url);
            host_view_clear(&realm_view);
            return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        }
    }
    request_t req = {.registry = registry, .method = "GET", .url = url, .max_body = TOKEN_BODY_MAX};
    response_t resp;
    response_init(&resp);
    backoff_t bo;
    backoff_init(&bo, c->opts.retry_initial, RETRY_MAX_DELAY, 2, 0.2);
    registry_err_t rc = REGISTRY_OK;
    for (int attempt = 0;; attempt++) {
        response_clear(&resp);
        perform(c, own ? v : &realm_view, &req, url, auth, &resp);
        bool again = resp.curl_code != CURLE_OK ? transient_curl_error(resp.curl_code)
                                                : retryable_status(resp.code);
        if (!again || attempt >= c->opts.max_retries)
            break;
        log_warn("token request failed, retrying", "registry", registry, "status",
                 resp.curl_code != CURLE_OK ? resp.curl_error : "server error", NULL);
        retry_sleep(&bo, resp.retry_after);
    }
    if (resp.curl_code != CURLE_OK) {
        rc = registry_error_set(error, REGISTRY_ERR_TRANSPORT, 0, NULL,
                                "token request to %s for %s: %s", v->realm, registry,
                                resp.curl_error);
        goto out;
    }
    if (resp.code != 200) {
        rc = registry_error_from_response(error, resp.code, resp.body.data, resp.body.len);
        if (rc == REGISTRY_ERR_UNKNOWN || rc == REGISTRY_ERR_INVALID)
            rc = retype(error, REGISTRY_ERR_UNAUTHORIZED);
        registry_error_prefix(error, "token request to %s for %s (%s)", v->realm, registry,
                              creds->username ? "with credentials" : "anonymous");
        goto out;
    }
    json_object *root = json_tokener_parse(resp.body.data ? resp.body.data : "");
    json_object *t = NULL, *exp = NULL;
    if (!root || !((json_object_object_get_ex(root, "token", &t) &&
                    json_object_is_type(t, json_type_string) && json_object_get_string_len(t)) ||
                   (json_object_object_get_ex(root, "access_token", &t) &&
                    json_object_is_type(t, json_type_string) && json_object_get_string_len(t)))) {
        json_object_put(root);
        rc = registry_error_set(error, REGISTRY_ERR_PROTOCOL, resp.code, NULL,
                                "token request to %s for %s: answer has no token", v->realm,
                                registry);
        goto out;
    }
    double lifetime = 0;
    if (json_object_object_get_ex(root, "expires_in", &exp))
        lifetime = json_object_get_double(exp);
    *lifetime_out = lifetime < TOKEN_MIN_LIFETIME ? TOKEN_MIN_LIFETIME : lifetime;
    *token_out = util_strdup(json_object_get_string(t));
    json_object_put(root);
    if (!*token_out)
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
out:
    if (resp.body.data)
        explicit_bzero(resp.body.data, resp.body.len);
    response_clear(&resp);
    host_view_clear(&realm_view);
    if (auth)
        explicit_bzero(auth, strlen(auth));
    free(auth);
    free(url);
    return rc;
}

static void forget_token(registry_client_t *c, const host_view_t *v, const char *scope,
                         const char *username)
{
    char *key = token_key(v, scope, username);
    if (!key)
        return;
    pthread_mutex_lock(&c->lock);
    strmap_del(c->tokens, key);
    pthread_mutex_unlock(&c->lock);
    free(key);
}

/* The Authorization header line for a request to registry, or NULL (none needed). */
static registry_err_t authorization(registry_client_t *c, const char *registry,
                                    const host_view_t *v, const char *scope, char **header,
                                    registry_error_t *error)
{
    *header = NULL;
    if (v->auth != AUTH_BASIC && v->auth != AUTH_BEARER)
        return REGISTRY_OK;
    registry_credentials_t creds = REGISTRY_CREDENTIALS_INIT;
    if (host_credentials(c, registry, &creds) < 0)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL,
                                  "credentials for %s in the docker config are malformed "
                                  "(\"auth\" must be base64 of user:password)",
                                  registry);
    registry_err_t rc = REGISTRY_OK;
    if (v->auth == AUTH_BASIC) {
        if (creds.username) {
            char *plain = util_asprintf("%s:%s", creds.username, creds.password);
            char *b64 = plain ? registry_base64_encode(plain, strlen(plain)) : NULL;
            *header = b64 ? util_asprintf("Authorization: Basic %s", b64) : NULL;
            if (plain)
                explicit_bzero(plain, strlen(plain));
            free(plain);
            free(b64);
            if (!*header)
                rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        }
        registry_credentials_clear(&creds);
        return rc;
    }
    char *key = token_key(v, scope, creds.username);
    if (!key) {
        registry_credentials_clear(&creds);
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    }
    char *token = NULL;
    pthread_mutex_lock(&c->lock);
    token_t *t = strmap_get(c->tokens, key);
    if (t && t->expires > util_monotonic())
        token = util_strdup(t->value);
    pthread_mutex_unlock(&c->lock);
    if (!token) {
        double lifetime = 0;
        rc = fetch_token(c, registry, v, scope, &creds, &token, &lifetime, error);
        if (rc == REGISTRY_OK) {
            token_t *nt = calloc(1, sizeof(*nt));
            if (nt && (nt->value = util_strdup(token))) {
                nt->expires = util_monotonic() + lifetime - TOKEN_EXPIRY_MARGIN;
                pthread_mutex_lock(&c->lock);
                if (strmap_set(c->tokens, key, nt) < 0)
                    token_free(nt);
                pthread_mutex_unlock(&c->lock);
            } else {
                free(nt);
            }
        }
    }
    if (token) {
        *header = util_asprintf("Authorization: Bearer %s", token);
        explicit_bzero(token, strlen(token));
        free(token);
        if (!*header)
            rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    }
    free(key);
    registry_credentials_clear(&creds);
    return rc;
}

/* ---- the ping: scheme and challenge ------------------------------------------------ */

static const char *scheme_name(enum scheme s)
{
    return s == SCHEME_HTTP ? "http" : "https";
}

/* Makes sure the scheme and the challenge of registry are known (one GET /v2/). */
static registry_err_t host_ready(registry_client_t *c, const char *registry,
                                 registry_error_t *error)
{
    host_view_t v;
    if (host_view_take(c, registry, &v) < 0)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    if (v.scheme != SCHEME_UNKNOWN && v.auth != AUTH_UNKNOWN) {
        host_view_clear(&v);
        return REGISTRY_OK;
    }
    enum scheme schemes[2] = {SCHEME_HTTPS, SCHEME_HTTP};
    size_t n_schemes = v.insecure ? 2 : 1;
    response_t resp;
    response_init(&resp);
    registry_err_t rc = REGISTRY_OK;
    enum scheme chosen = SCHEME_UNKNOWN;
    backoff_t bo;
    backoff_init(&bo, c->opts.retry_initial, RETRY_MAX_DELAY, 2, 0.2);
    for (size_t i = 0; i < n_schemes && chosen == SCHEME_UNKNOWN; i++) {
        char *url = util_asprintf("%s://%s/v2/", scheme_name(schemes[i]), api_host(registry));
        if (!url) {
            rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
            break;
        }
        request_t req = {.registry = registry, .method = "GET", .url = url, .max_body = 1u << 16};
        for (int attempt = 0;; attempt++) {
            response_clear(&resp);
            perform(c, &v, &req, url, NULL, &resp);
            if (resp.curl_code == CURLE_OK && !retryable_status(resp.code))
                break;
            /* An insecure registry that does not speak TLS: try plain HTTP at once. */
            bool try_next_scheme = i + 1 < n_schemes && resp.curl_code != CURLE_OK;
            bool again = resp.curl_code != CURLE_OK ? transient_curl_error(resp.curl_code)
                                                    : retryable_status(resp.code);
            if (try_next_scheme || !again || attempt >= c->opts.max_retries)
                break;
            log_warn("registry ping failed, retrying", "registry", registry, "error",
                     resp.curl_code != CURLE_OK ? resp.curl_error : "server error", NULL);
            retry_sleep(&bo, resp.retry_after);
        }
        free(url);
        if (resp.curl_code == CURLE_OK)
            chosen = schemes[i];
    }
    if (rc != REGISTRY_OK)
        goto out;
    if (chosen == SCHEME_UNKNOWN) {
        rc = registry_error_set(error, REGISTRY_ERR_TRANSPORT, 0, NULL, "%s: %s%s", registry,
                                resp.curl_error,
                                v.insecure ? ""
                                           : " (TLS is verified: configure the registry "
                                             "as insecure for plain HTTP or a "
                                             "self-signed certificate)");
        goto out;
    }
    enum auth_kind auth = AUTH_UNKNOWN;
    if (resp.code == 200) {
        auth = AUTH_NONE;
    } else if (resp.code == 401) {
        if (learn_challenge(c, registry, &resp, error) < 0) {
            rc = error ? error->err : REGISTRY_ERR_UNAUTHORIZED;
            goto out;
        }
    } else {
        rc = registry_error_from_response(error, resp.code, resp.body.data, resp.body.len);
        if (rc == REGISTRY_ERR_NOT_FOUND || rc == REGISTRY_ERR_UNKNOWN)
            rc = retype(error, REGISTRY_ERR_PROTOCOL);
        registry_error_prefix(error, "GET %s://%s/v2/ (is it a registry?)", scheme_name(chosen),
                              api_host(registry));
        goto out;
    }
    pthread_mutex_lock(&c->lock);
    host_t *h = host_get(c, registry);
    if (h) {
        h->scheme = chosen;
        if (auth != AUTH_UNKNOWN)
            h->auth = auth;
    }
    pthread_mutex_unlock(&c->lock);
    if (!h)
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    else
        log_v(2, "registry ready", "registry", registry, "scheme", scheme_name(chosen), "auth",
              auth == AUTH_NONE ? "none" : "challenge", NULL);
out:
    response_clear(&resp);
    host_view_clear(&v);
    return rc;
}

/* ---- requests ----------------------------------------------------------------------- */

registry_err_t registry_prepare(registry_client_t *c, const request_t *req, char **url_out,
                                char **auth_header_out, registry_error_t *error)
{
    *url_out = NULL;
    *auth_header_out = NULL;
    registry_err_t rc = host_ready(c, req->registry, error);
    if (rc != REGISTRY_OK)
        return rc;
    host_view_t v;
    if (host_view_take(c, req->registry, &v) < 0)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    char *url = req->url ? util_strdup(req->url)
                         : util_asprintf("%s://%s%s", scheme_name(v.scheme),
                                         api_host(req->registry), req->path);
    if (!url) {
        host_view_clear(&v);
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    }
    if (url_on_host(url, scheme_name(v.scheme), api_host(req->registry)))
        rc = authorization(c, req->registry, &v, req->scope, auth_header_out, error);
    host_view_clear(&v);
    if (rc != REGISTRY_OK) {
        free(url);
        return rc;
    }
    *url_out = url;
    return REGISTRY_OK;
}

registry_err_t registry_do(registry_client_t *c, const request_t *req, response_t *resp,
                           registry_error_t *error)
{
    backoff_t bo;
    backoff_init(&bo, c->opts.retry_initial, RETRY_MAX_DELAY, 2, 0.2);
    bool reauthenticated = false;
    for (int attempt = 0;;) {
        response_clear(resp);
        char *url = NULL, *auth = NULL;
        registry_err_t rc = registry_prepare(c, req, &url, &auth, error);
        if (rc != REGISTRY_OK)
            return rc;
        host_view_t v;
        if (host_view_take(c, req->registry, &v) < 0) {
            free(url);
            free(auth);
            return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        }
        if (req->source && (attempt > 0 || reauthenticated)) {
            if (!req->source->rewind || req->source->rewind(req->source->data) < 0) {
                free(url);
                free(auth);
                host_view_clear(&v);
                return registry_error_set(error, REGISTRY_ERR_IO, 0, NULL,
                                          "%s %s: cannot rewind the upload to send it again",
                                          req->method, req->registry);
            }
        }
        perform(c, &v, req, url, auth, resp);
        bool had_auth = auth != NULL;
        if (auth)
            explicit_bzero(auth, strlen(auth));
        free(auth);
        bool replayable =
            (!req->source || req->source->rewind) && resp->delivered == 0 && !resp->write_failed;
        bool retry_allowed = replayable && !req->once && attempt < c->opts.max_retries;
        if (resp->write_failed) {
            rc = registry_error_set(error, REGISTRY_ERR_IO, 0, NULL, "%s %s: %s", req->method, url,
                                    req->source ? "reading the upload data failed"
                                                : "the receiver refused the data");
            free(url);
            host_view_clear(&v);
            return rc;
        }
        if (resp->curl_code != CURLE_OK) {
            if (retry_allowed && transient_curl_error(resp->curl_code)) {
                log_warn("registry request failed, retrying", "method", req->method, "url", url,
                         "error", resp->curl_error, NULL);
                free(url);
                host_view_clear(&v);
                retry_sleep(&bo, 0);
                attempt++;
                continue;
            }
            rc = registry_error_set(error, REGISTRY_ERR_TRANSPORT, 0, NULL, "%s %s: %s",
                                    req->method, url, resp->curl_error);
            free(url);
            host_view_clear(&v);
            return rc;
        }
        if (resp->code == 401 && !reauthenticated && replayable) {
            reauthenticated = true;
            registry_error_t learn_error = REGISTRY_ERROR_INIT;
            int learned = learn_challenge(c, req->registry, resp, &learn_error);
            registry_error_clear(&learn_error);
            if (learned == 0) {
                if (v.auth == AUTH_BEARER && had_auth) {
                    registry_credentials_t creds = REGISTRY_CREDENTIALS_INIT;
                    host_credentials(c, req->registry, &creds);
                    forget_token(c, &v, req->scope, creds.username);
                    registry_credentials_clear(&creds);
                }
                log_v(2, "registry asked to authenticate, retrying", "method", req->method, "url",
                      url, NULL);
                free(url);
                host_view_clear(&v);
                continue;
            }
        }
        if (resp->code == 401) {
            registry_credentials_t creds = REGISTRY_CREDENTIALS_INIT;
            resp->no_credentials = host_credentials(c, req->registry, &creds) == 0;
            registry_credentials_clear(&creds);
        }
        if (retry_allowed && retryable_status(resp->code)) {
            log_warn("registry answered with a server error, retrying", "method", req->method,
                     "url", url, "status", resp->code == 429 ? "429" : "5xx", NULL);
            free(url);
            host_view_clear(&v);
            retry_sleep(&bo, resp->retry_after);
            attempt++;
            continue;
        }
        free(url);
        host_view_clear(&v);
        return REGISTRY_OK;
    }
}

registry_err_t registry_error_from_resp(registry_error_t *error, const response_t *resp,
                                        const char *what, const char *subject)
{
    registry_err_t rc =
        registry_error_from_response(error, resp->code, resp->body.data, resp->body.len);
    if (resp->no_credentials && resp->code == 401)
        registry_error_prefix(error, "%s %s (no credentials configured for this registry)", what,
                              subject);
    else
        registry_error_prefix(error, "%s %s", what, subject);
    return rc;
}

registry_err_t registry_ping(registry_client_t *c, const char *registry, registry_error_t *error)
{
    if (error)
        registry_error_clear(error);
    if (!c || !registry || !*registry)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "ping: no registry");
    request_t req = {.registry = registry, .method = "GET", .path = "/v2/", .max_body = 1u << 16};
    response_t resp;
    response_init(&resp);
    registry_err_t rc = registry_do(c, &req, &resp, error);
    if (rc == REGISTRY_OK && resp.code != 200)
        rc = registry_error_from_resp(error, &resp, "ping", registry);
    response_clear(&resp);
    return rc;
}
