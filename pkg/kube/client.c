/*
 * kube/client: requests to the API server over libcurl.
 *
 * One request = take an easy handle from the pool (it keeps its live connection),
 * wait for the rate limiter, fetch credentials from the config (they may rotate), send,
 * decode. Two answers are retried here because the client, not the caller, knows what
 * they mean: a 401 once after asking the config to refresh its credentials, and a 429
 * or 503 after the Retry-After the server asked for, a bounded number of times.
 * Everything else goes back to the caller as a typed kube_result_t.
 *
 * A watch runs on a fresh easy handle inside a private multi handle polled every
 * WATCH_POLL_MS, which is how another thread's stop flag is noticed promptly without
 * signals; its body goes through the streaming decoder, never into one buffer.
 */
#include "kube/kube.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_USER_AGENT "s2i-operator/" S2I_VERSION
#define WATCH_POLL_MS      100
/* A watch with timeoutSeconds is abandoned this long after the server should have ended it. */
#define WATCH_GRACE_SECONDS 30
/* How much of a failed watch's answer is kept to decode its Status. */
#define ERROR_BODY_MAX        (1u << 20)
#define TCP_KEEPIDLE_SECONDS  30
#define TCP_KEEPINTVL_SECONDS 15
/* Slice of an interruptible sleep: how fast a stop flag ends a wait. */
#define STOP_CHECK_SECONDS 0.05

/* Decoder stop values of a watch (the callback's non-zero return). */
enum { WATCH_STOP_CALLBACK = 1, WATCH_STOP_ERROR_EVENT = 2 };

struct kube_client {
    kube_config_t *config;
    kube_client_options_t opts;
    char *user_agent;
    char *base_url;
    struct curl_slist *connect_to; /* tls-server-name redirection, or NULL */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL **idle;
    size_t idle_len;
    kube_token_bucket_t limiter;
};

/* One logical request; the retry loop may send it several times. */
typedef struct request {
    const char *method;
    const char *url;
    const char *content_type; /* NULL: no body */
    const char *body;
    size_t body_len;
    double timeout; /* seconds; 0 = none */
    /* text answers (pod logs): a 2xx body goes here instead of being decoded as JSON */
    buf_t *raw_out;
    /* watch only */
    kube_watch_decoder_t *decoder;
    const atomic_bool *stop;
} request_t;

/* State of one attempt, seen by the write callback. */
typedef struct transfer {
    CURL *handle;
    const request_t *req;
    long code;
    buf_t body;
    int decoder_rc;
} transfer_t;

void kube_client_options_default(kube_client_options_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->qps = 5;
    opts->burst = 10;
    opts->timeout = 30;
    opts->connect_timeout = 10;
    opts->max_retries = 5;
    opts->max_retry_wait = 30;
    opts->user_agent = NULL;
    opts->max_idle_handles = 16;
}

/* ---- curl global state and the share ------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userptr)
{
    (void)handle;
    (void)access;
    kube_client_t *c = userptr;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
    (void)handle;
    kube_client_t *c = userptr;
    pthread_mutex_unlock(&c->share_locks[data]);
}

/* ---- construction -------------------------------------------------------- */

/* Works out the base URL and, with tls-server-name, the CONNECT_TO redirection (see
 * kube.h). */
static int resolve_server(kube_client_t *c, char **err)
{
    const kube_config_t *cfg = c->config;
    CURLU *u = curl_url();
    if (!u) {
        *err = util_strdup("out of memory");
        return -1;
    }
    int rc = -1;
    char *host = NULL, *port = NULL, *url = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, cfg->server, 0);
    if (uc != CURLUE_OK) {
        *err = util_asprintf("server %s (%s): %s", cfg->server, cfg->source ? cfg->source : "",
                             curl_url_strerror(uc));
        goto out;
    }
    if (cfg->tls_server_name && *cfg->tls_server_name) {
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
            *err = util_asprintf("server %s: no host or port", cfg->server);
            goto out;
        }
        uc = curl_url_set(u, CURLUPART_HOST, cfg->tls_server_name, 0);
        if (uc != CURLUE_OK) {
            *err = util_asprintf("tls-server-name %s: %s", cfg->tls_server_name,
                                 curl_url_strerror(uc));
            goto out;
        }
        char *mapping = util_asprintf("%s:%s:%s:%s", cfg->tls_server_name, port, host, port);
        c->connect_to = mapping ? curl_slist_append(NULL, mapping) : NULL;
        free(mapping);
        if (!c->connect_to) {
            *err = util_strdup("out of memory");
            goto out;
        }
    }
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        *err = util_asprintf("server %s: cannot form a URL", cfg->server);
        goto out;
    }
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        url[--len] = '\0';
    c->base_url = util_strdup(url);
    if (!c->base_url) {
        *err = util_strdup("out of memory");
        goto out;
    }
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

int kube_client_new(kube_config_t *config, const kube_client_options_t *opts, kube_client_t **out,
                    char **err)
{
    *err = NULL;
    if (!config || !config->server || !*config->server) {
        *err = util_strdup("configuration has no server");
        return -1;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        *err = util_asprintf("curl_global_init: %s", curl_easy_strerror(curl_init_result));
        return -1;
    }
    kube_client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        *err = util_strdup("out of memory");
        return -1;
    }
    c->config = config;
    if (opts)
        c->opts = *opts;
    else
        kube_client_options_default(&c->opts);
    c->user_agent = util_strdup(c->opts.user_agent ? c->opts.user_agent : DEFAULT_USER_AGENT);
    c->opts.user_agent = c->user_agent;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(c->share_locks); i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    kube_token_bucket_init(&c->limiter, c->opts.qps, c->opts.burst);
    if (c->opts.max_idle_handles)
        c->idle = calloc(c->opts.max_idle_handles, sizeof(*c->idle));
    c->share = curl_share_init();
    if (!c->user_agent || (c->opts.max_idle_handles && !c->idle) || !c->share) {
        *err = util_strdup("out of memory");
        kube_client_free(c);
        return -1;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (resolve_server(c, err) < 0) {
        kube_client_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void kube_client_free(kube_client_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->idle_len; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->share)
        curl_share_cleanup(c->share);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(c->share_locks); i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    kube_token_bucket_destroy(&c->limiter);
    curl_slist_free_all(c->connect_to);
    free(c->base_url);
    free(c->user_agent);
    free(c);
}

const char *kube_client_base_url(const kube_client_t *c)
{
    return c->base_url;
}

/* ---- the handle pool ----------------------------------------------------- */

static CURL *pool_get(kube_client_t *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->idle_len > 0)
        h = c->idle[--c->idle_len];
    pthread_mutex_unlock(&c->pool_lock);
    return h ? h : curl_easy_init();
}

static void pool_put(kube_client_t *c, CURL *h)
{
    pthread_mutex_lock(&c->pool_lock);
    if (c->idle_len < c->opts.max_idle_handles) {
        c->idle[c->idle_len++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- one attempt ----------------------------------------------------------- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    transfer_t *t = userdata;
    size_t n = size * nmemb;
    if (t->req->decoder) {
        if (t->code == 0)
            curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &t->code);
        if (t->code >= 200 && t->code < 300) {
            t->decoder_rc = kube_watch_decoder_feed(t->req->decoder, data, n);
            return t->decoder_rc == 0 ? n : 0; /* 0 ends the transfer */
        }
        if (t->body.len + n > ERROR_BODY_MAX)
            return n; /* the start of an error answer is enough to decode it */
    }
    return buf_append(&t->body, data, n) == 0 ? n : 0;
}

static struct curl_slist *add_header(struct curl_slist *list, bool *oom, const char *fmt, ...)
    UTIL_PRINTF(3, 4);

static struct curl_slist *add_header(struct curl_slist *list, bool *oom, const char *fmt, ...)
{
    buf_t line = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&line, fmt, ap);
    va_end(ap);
    struct curl_slist *next = line.oom ? NULL : curl_slist_append(list, line.data);
    buf_free(&line);
    if (!next) {
        *oom = true;
        return list;
    }
    return next;
}

static void setup_tls(kube_client_t *c, CURL *h, const kube_auth_t *auth)
{
    const kube_config_t *cfg = c->config;
    if (cfg->insecure_skip_tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (cfg->ca_data && cfg->ca_data_len) {
        struct curl_blob ca = {cfg->ca_data, cfg->ca_data_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    } else if (cfg->ca_file && *cfg->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    if (auth->client_cert_pem && auth->client_key_pem) {
        struct curl_blob cert = {auth->client_cert_pem, strlen(auth->client_cert_pem),
                                 CURL_BLOB_COPY};
        struct curl_blob key = {auth->client_key_pem, strlen(auth->client_key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    } else if (auth->client_cert_file && auth->client_key_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, auth->client_cert_file);
        curl_easy_setopt(h, CURLOPT_SSLKEY, auth->client_key_file);
    }
}

/* Sets every option of an attempt on a handle that may have served another request. */
static CURLcode setup(kube_client_t *c, transfer_t *t, const kube_auth_t *auth,
                      struct curl_slist **headers, char *errbuf)
{
    CURL *h = t->handle;
    const request_t *req = t->req;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->opts.connect_timeout * 1000));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(req->timeout * 1000));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, (long)TCP_KEEPIDLE_SECONDS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, (long)TCP_KEEPINTVL_SECONDS);
    if (c->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
    if (c->config->proxy_url && *c->config->proxy_url)
        curl_easy_setopt(h, CURLOPT_PROXY, c->config->proxy_url);
    setup_tls(c, h, auth);

    bool oom = false;
    struct curl_slist *list = NULL;
    list = add_header(list, &oom, "Accept: application/json");
    /* No "Expect: 100-continue" round trip before large bodies. */
    list = add_header(list, &oom, "Expect:");
    if (auth->token && *auth->token) {
        list = add_header(list, &oom, "Authorization: Bearer %s", auth->token);
    } else if (auth->username && *auth->username) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, auth->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, auth->password ? auth->password : "");
    }
    if (req->content_type)
        list = add_header(list, &oom, "Content-Type: %s", req->content_type);
    *headers = list;
    if (oom)
        return CURLE_OUT_OF_MEMORY;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);

    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->content_type) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
    }
    return CURLE_OK;
}

/* Runs a watch transfer on a private multi handle so the stop flag is looked at every
 * WATCH_POLL_MS whatever the network does. */
static CURLcode perform_watch(transfer_t *t, bool *stopped, char *errbuf)
{
    CURLM *multi = curl_multi_init();
    if (!multi)
        return CURLE_OUT_OF_MEMORY;
    CURLcode result = CURLE_OK;
    CURLMcode mc = curl_multi_add_handle(multi, t->handle);
    int running = mc == CURLM_OK;
    while (running) {
        if (t->req->stop && atomic_load(t->req->stop)) {
            *stopped = true;
            break;
        }
        mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK || !running)
            break;
        mc = curl_multi_poll(multi, NULL, 0, WATCH_POLL_MS, NULL);
        if (mc != CURLM_OK)
            break;
    }
    if (mc != CURLM_OK) {
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_multi_strerror(mc));
        result = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)))
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == t->handle)
            result = msg->data.result;
    curl_multi_remove_handle(multi, t->handle);
    curl_multi_cleanup(multi);
    return result;
}

/* ---- the retry loop ---------------------------------------------------------- */

/* Sleeps, waking early when *stop is set. True when stopped. */
static bool sleep_unless_stopped(double seconds, const atomic_bool *stop)
{
    if (!stop) {
        util_sleep(seconds);
        return false;
    }
    double end = util_monotonic() + seconds;
    for (;;) {
        if (atomic_load(stop))
            return true;
        double left = end - util_monotonic();
        if (left <= 0)
            return false;
        util_sleep(left < STOP_CHECK_SECONDS ? left : STOP_CHECK_SECONDS);
    }
}

static bool throttle(kube_client_t *c, const request_t *req)
{
    double wait = kube_token_bucket_reserve(&c->limiter, util_monotonic());
    if (wait <= 0)
        return false;
    if (wait >= 1) {
        char secs[32];
        snprintf(secs, sizeof(secs), "%.1f", wait);
        log_v(3, "waiting due to client-side throttling", "verb", req->method, "url", req->url,
              "seconds", secs, NULL);
    }
    return sleep_unless_stopped(wait, req->stop);
}

static void log_attempt(kube_client_t *c, const request_t *req, long code, double started)
{
    if (c->opts.observe)
        c->opts.observe(req->method, code, util_monotonic() - started, c->opts.observe_data);
    if (!log_enabled(6))
        return;
    char status[16], ms[32];
    snprintf(status, sizeof(status), "%ld", code);
    snprintf(ms, sizeof(ms), "%.0f", (util_monotonic() - started) * 1000);
    log_v(6, "request", "verb", req->method, "url", req->url, "status", status, "ms", ms, NULL);
}

static kube_err_t execute(kube_client_t *c, const request_t *req, kube_result_t *out)
{
    kube_result_clear(out);
    bool auth_refreshed = false;
    int retries = 0;
    for (;;) {
        if (throttle(c, req))
            return KUBE_OK;
        kube_auth_t auth = {0};
        char *auth_err = NULL;
        if (kube_config_auth(c->config, &auth, &auth_err) < 0) {
            kube_result_set_error(out, KUBE_ERR_CLIENT, "CredentialsUnavailable",
                                  "getting credentials: %s", auth_err ? auth_err : "unknown");
            free(auth_err);
            return out->err;
        }
        transfer_t t = {.req = req, .body = BUF_INIT};
        t.handle = req->decoder ? curl_easy_init() : pool_get(c);
        if (!t.handle) {
            kube_auth_clear(&auth);
            return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "curl_easy_init failed");
        }
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL;
        bool stopped = false;
        double started = util_monotonic();
        CURLcode cc = setup(c, &t, &auth, &headers, errbuf);
        if (cc == CURLE_OK)
            cc = req->decoder ? perform_watch(&t, &stopped, errbuf) : curl_easy_perform(t.handle);
        long code = 0;
        curl_off_t retry_after = 0;
        curl_easy_getinfo(t.handle, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(t.handle, CURLINFO_RETRY_AFTER, &retry_after);
        curl_slist_free_all(headers);
        kube_auth_clear(&auth);
        if (req->decoder)
            curl_easy_cleanup(t.handle);
        else
            pool_put(c, t.handle);
        log_attempt(c, req, code, started);

        if (stopped || t.decoder_rc > 0) {
            /* Stopped by the flag or the callback (out is OK), or by an ERROR event (out
             * already holds its Status). */
            buf_free(&t.body);
            if (out->http_code == 0)
                out->http_code = code;
            return out->err;
        }
        if (t.decoder_rc < 0) {
            buf_free(&t.body);
            kube_result_set_error(out, KUBE_ERR_DECODE, NULL, "%s %s: %s", req->method, req->url,
                                  kube_watch_decoder_error(req->decoder));
            out->http_code = code;
            return out->err;
        }
        if (cc != CURLE_OK) {
            buf_free(&t.body);
            kube_result_set_error(
                out, cc == CURLE_OUT_OF_MEMORY ? KUBE_ERR_CLIENT : KUBE_ERR_TRANSPORT, NULL,
                "%s %s: %s", req->method, req->url, *errbuf ? errbuf : curl_easy_strerror(cc));
            return out->err;
        }
        if (code == 401 && !auth_refreshed) {
            auth_refreshed = true;
            buf_free(&t.body);
            log_v(2, "unauthorized, refreshing credentials", "url", req->url, NULL);
            kube_config_invalidate_auth(c->config);
            continue;
        }
        if ((code == 429 || code == 503) && retries < c->opts.max_retries) {
            retries++;
            buf_free(&t.body);
            double wait = retry_after > 0 ? (double)retry_after : 1;
            if (wait > c->opts.max_retry_wait)
                wait = c->opts.max_retry_wait;
            char status[16], secs[32];
            snprintf(status, sizeof(status), "%ld", code);
            snprintf(secs, sizeof(secs), "%.1f", wait);
            log_v(2, "server asked to retry later", "verb", req->method, "url", req->url, "status",
                  status, "seconds", secs, NULL);
            if (sleep_unless_stopped(wait, req->stop))
                return KUBE_OK;
            continue;
        }
        if (req->decoder && code >= 200 && code < 300) {
            buf_free(&t.body);
            if (kube_watch_decoder_finish(req->decoder) < 0)
                kube_result_set_error(out, KUBE_ERR_DECODE, NULL, "%s %s: %s", req->method,
                                      req->url, kube_watch_decoder_error(req->decoder));
            out->http_code = code;
            return out->err;
        }
        if (req->raw_out && code >= 200 && code < 300) {
            buf_append(req->raw_out, t.body.data ? t.body.data : "", t.body.len);
            buf_free(&t.body);
            out->http_code = code;
            if (req->raw_out->oom)
                return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "out of memory");
            return out->err;
        }
        kube_result_from_response(out, code, t.body.data, t.body.len, (double)retry_after);
        if (out->err != KUBE_OK && out->err != KUBE_ERR_NOT_FOUND && log_enabled(4)) {
            char line[512];
            log_v(4, "request failed", "verb", req->method, "url", req->url, "error",
                  kube_error_str(out, line, sizeof(line)), NULL);
        }
        buf_free(&t.body);
        return out->err;
    }
}

/* ---- operations ---------------------------------------------------------------- */

static const char *object_meta_string(json_object *obj, const char *key)
{
    json_object *meta, *v;
    if (!json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_object_get_ex(meta, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool is_set(const char *s)
{
    return s && *s;
}

/* Builds base URL + path into url, checking the arguments a path needs. */
static kube_err_t build_url(kube_client_t *c, buf_t *url, const kube_resource_t *resource,
                            const char *namespace, const char *name, const char *subresource,
                            bool needs_name, kube_result_t *out)
{
    kube_result_clear(out);
    if (!resource || !is_set(resource->version) || !is_set(resource->plural))
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "incomplete resource");
    if (needs_name && !is_set(name))
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "%s: a name is required",
                                     resource->plural);
    if (needs_name && resource->namespaced && !is_set(namespace))
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL,
                                     "%s \"%s\": a namespace is required", resource->plural, name);
    buf_puts(url, c->base_url);
    if (kube_resource_path(url, resource, namespace, name, subresource) < 0 || url->oom)
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "out of memory");
    return KUBE_OK;
}

static kube_err_t run(kube_client_t *c, request_t *req, buf_t *url, kube_result_t *out)
{
    if (url->oom) {
        buf_free(url);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "out of memory");
    }
    req->url = url->data;
    if (!req->decoder)
        req->timeout = c->opts.timeout;
    kube_err_t err = execute(c, req, out);
    buf_free(url);
    return err;
}

kube_err_t kube_get(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                    const char *name, kube_result_t *out)
{
    buf_t url = BUF_INIT;
    if (build_url(c, &url, resource, namespace, name, NULL, true, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    request_t req = {.method = "GET"};
    return run(c, &req, &url, out);
}

kube_err_t kube_pod_log(kube_client_t *c, const char *namespace, const char *pod,
                        const char *container, long tail_lines, long limit_bytes, buf_t *text,
                        kube_result_t *out)
{
    static const kube_resource_t pods = {"", "v1", "pods", true};
    buf_t url = BUF_INIT;
    if (build_url(c, &url, &pods, namespace, pod, "log", true, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    char sep = '?';
    if (is_set(container)) {
        buf_printf(&url, "%ccontainer=", sep);
        buf_put_url_escaped(&url, container);
        sep = '&';
    }
    if (tail_lines > 0) {
        buf_printf(&url, "%ctailLines=%ld", sep, tail_lines);
        sep = '&';
    }
    if (limit_bytes > 0)
        buf_printf(&url, "%climitBytes=%ld", sep, limit_bytes);
    request_t req = {.method = "GET", .raw_out = text};
    return run(c, &req, &url, out);
}

kube_err_t kube_list(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                     const kube_list_options_t *opts, kube_result_t *out)
{
    buf_t url = BUF_INIT;
    if (build_url(c, &url, resource, namespace, NULL, NULL, false, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    kube_list_query(&url, opts);
    request_t req = {.method = "GET"};
    return run(c, &req, &url, out);
}

/* POST or PUT of a whole object; name NULL for a create. */
static kube_err_t write_object(kube_client_t *c, const char *method,
                               const kube_resource_t *resource, const char *namespace,
                               json_object *object, const char *subresource,
                               const kube_write_options_t *opts, kube_result_t *out)
{
    if (!resource || !json_object_is_type(object, json_type_object))
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "no resource or no object");
    if (!is_set(namespace) && resource->namespaced)
    namespace = object_meta_string(object, "namespace");
    bool is_update = strcmp(method, "PUT") == 0;
    const char *name = is_update ? object_meta_string(object, "name") : NULL;
    buf_t url = BUF_INIT;
    if (build_url(c, &url, resource, namespace, name, subresource, is_update, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    if (!is_update && resource->namespaced && !is_set(namespace)) {
        buf_free(&url);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "%s: a namespace is required",
                                     resource->plural);
    }
    if (opts)
        kube_write_query(&url, opts->dry_run, opts->field_manager, false);
    size_t len = 0;
    const char *body = json_object_to_json_string_length(
        object, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!body) {
        buf_free(&url);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "out of memory");
    }
    request_t req = {
        .method = method, .content_type = "application/json", .body = body, .body_len = len};
    return run(c, &req, &url, out);
}

kube_err_t kube_create(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                       json_object *object, const kube_write_options_t *opts, kube_result_t *out)
{
    return write_object(c, "POST", resource, namespace, object, NULL, opts, out);
}

kube_err_t kube_update(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                       json_object *object, const kube_write_options_t *opts, kube_result_t *out)
{
    return write_object(c, "PUT", resource, namespace, object, NULL, opts, out);
}

kube_err_t kube_update_status(kube_client_t *c, const kube_resource_t *resource,
                              const char *namespace, json_object *object,
                              const kube_write_options_t *opts, kube_result_t *out)
{
    return write_object(c, "PUT", resource, namespace, object, "status", opts, out);
}

static const char *const patch_content_types[] = {
    [KUBE_PATCH_MERGE] = "application/merge-patch+json",
    [KUBE_PATCH_JSON] = "application/json-patch+json",
    [KUBE_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
    [KUBE_PATCH_APPLY] = "application/apply-patch+yaml",
};

kube_err_t kube_patch(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                      const char *name, const char *subresource, kube_patch_type_t type,
                      const char *patch, const kube_patch_options_t *opts, kube_result_t *out)
{
    buf_t url = BUF_INIT;
    if (build_url(c, &url, resource, namespace, name, subresource, true, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    if ((unsigned)type >= UTIL_ARRAY_LEN(patch_content_types) || !patch) {
        buf_free(&url);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "bad patch type or no patch");
    }
    if (opts)
        kube_write_query(&url, opts->dry_run, opts->field_manager,
                         type == KUBE_PATCH_APPLY && opts->force);
    request_t req = {.method = "PATCH",
                     .content_type = patch_content_types[type],
                     .body = patch,
                     .body_len = strlen(patch)};
    return run(c, &req, &url, out);
}

/* A DeleteOptions body, or nothing when no option needs one. */
static void delete_options_body(buf_t *body, const kube_delete_options_t *opts)
{
    if (!opts || (!is_set(opts->propagation_policy) && !is_set(opts->precondition_uid) &&
                  !is_set(opts->precondition_resource_version) && opts->grace_period_seconds < 0))
        return;
    buf_puts(body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"");
    if (is_set(opts->propagation_policy)) {
        buf_puts(body, ",\"propagationPolicy\":\"");
        buf_put_json_escaped(body, opts->propagation_policy);
        buf_putc(body, '"');
    }
    if (opts->grace_period_seconds >= 0)
        buf_printf(body, ",\"gracePeriodSeconds\":%ld", opts->grace_period_seconds);
    if (is_set(opts->precondition_uid) || is_set(opts->precondition_resource_version)) {
        buf_puts(body, ",\"preconditions\":{");
        if (is_set(opts->precondition_uid)) {
            buf_puts(body, "\"uid\":\"");
            buf_put_json_escaped(body, opts->precondition_uid);
            buf_putc(body, '"');
        }
        if (is_set(opts->precondition_resource_version)) {
            if (is_set(opts->precondition_uid))
                buf_putc(body, ',');
            buf_puts(body, "\"resourceVersion\":\"");
            buf_put_json_escaped(body, opts->precondition_resource_version);
            buf_putc(body, '"');
        }
        buf_putc(body, '}');
    }
    buf_putc(body, '}');
}

kube_err_t kube_delete(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                       const char *name, const kube_delete_options_t *opts, kube_result_t *out)
{
    buf_t url = BUF_INIT;
    if (build_url(c, &url, resource, namespace, name, NULL, true, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    if (opts)
        kube_write_query(&url, opts->dry_run, NULL, false);
    buf_t body = BUF_INIT;
    delete_options_body(&body, opts);
    if (body.oom) {
        buf_free(&url);
        buf_free(&body);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "out of memory");
    }
    request_t req = {.method = "DELETE"};
    if (body.len) {
        req.content_type = "application/json";
        req.body = body.data;
        req.body_len = body.len;
    }
    kube_err_t err = run(c, &req, &url, out);
    buf_free(&body);
    return err;
}

/* ---- watch ------------------------------------------------------------------------ */

typedef struct watch_ctx {
    kube_watch_fn fn;
    void *data;
    kube_result_t *out;
} watch_ctx_t;

static int on_watch_event(const kube_watch_event_t *event, void *data)
{
    watch_ctx_t *w = data;
    if (event->type == KUBE_WATCH_ERROR) {
        if (kube_result_copy(w->out, event->error) < 0 && w->out->err == KUBE_OK)
            w->out->err = event->error->err;
        return WATCH_STOP_ERROR_EVENT;
    }
    return w->fn(event, w->data) ? WATCH_STOP_CALLBACK : 0;
}

kube_err_t kube_watch(kube_client_t *c, const kube_resource_t *resource, const char *namespace,
                      const kube_watch_options_t *opts, kube_watch_fn fn, void *data,
                      const atomic_bool *stop, kube_result_t *out)
{
    buf_t url = BUF_INIT;
    if (build_url(c, &url, resource, namespace, NULL, NULL, false, out) != KUBE_OK) {
        buf_free(&url);
        return out->err;
    }
    if (!fn) {
        buf_free(&url);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "no watch callback");
    }
    kube_watch_query(&url, opts);
    watch_ctx_t ctx = {fn, data, out};
    kube_watch_decoder_t *decoder = kube_watch_decoder_new(on_watch_event, &ctx, 0);
    if (!decoder) {
        buf_free(&url);
        return kube_result_set_error(out, KUBE_ERR_CLIENT, NULL, "out of memory");
    }
    request_t req = {.method = "GET", .decoder = decoder, .stop = stop};
    if (opts && opts->timeout_seconds > 0)
        req.timeout = (double)opts->timeout_seconds + WATCH_GRACE_SECONDS;
    kube_err_t err = run(c, &req, &url, out);
    kube_watch_decoder_free(decoder);
    return err;
}
