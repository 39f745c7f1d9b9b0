/*
 * Unit tests for pkg/registry: reference parsing, WWW-Authenticate, docker config lookup,
 * error decoding, digests and index selection; then the HTTP client against an in-process
 * scripted server (below) that injects what a real registry rarely does on demand: 503s,
 * lying digests, connections cut mid-body, relative and absolute Locations, broken
 * challenges, rotating tokens. The client against a real registry is test_registry_live.c.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry.h"
#include "util/util.h"

#define TESTDATA "test/unit/testdata/registry/"

/* ---- a scripted HTTP server ------------------------------------------------------------ */

typedef struct fake_request {
    char method[16];
    char target[4096];
    buf_t headers; /* raw "Name: value\r\n" lines */
    buf_t body;
} fake_request_t;

typedef struct fake_response {
    int code;
    buf_t headers; /* extra "Name: value\r\n" lines */
    buf_t body;
    bool close;       /* close the connection after this answer */
    long cut_body_at; /* >= 0: send only this many body bytes, then close */
    bool no_length;   /* HEAD answers: Content-Length from headers, no body */
} fake_response_t;

typedef struct fake_server fake_server_t;
typedef void (*fake_handler_fn)(fake_server_t *s, const fake_request_t *req, fake_response_t *resp);

#define FAKE_MAX_CONNECTIONS 256

struct fake_server {
    int listen_fd;
    int port;
    char addr[32]; /* "127.0.0.1:PORT" */
    pthread_t thread;
    atomic_bool stop;
    fake_handler_fn handler;
    void *data;
    atomic_int requests;
    pthread_mutex_t lock; /* handler calls, connection list */
    pthread_t connections[FAKE_MAX_CONNECTIONS];
    size_t connections_len;
};

typedef struct fake_connection {
    fake_server_t *server;
    int fd;
} fake_connection_t;

/* The value of a request header (case-insensitive), copied into out; NULL if absent. */
static const char *fake_header(const fake_request_t *req, const char *name, char *out, size_t len)
{
    const char *p = req->headers.data;
    size_t n = strlen(name);
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, len, "%.*s", (int)(eol - v), v);
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

static void fake_reply(fake_response_t *resp, int code, const char *body)
{
    resp->code = code;
    if (body)
        buf_puts(&resp->body, body);
}

static void fake_add_header(fake_response_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fake_add_header(fake_response_t *resp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&resp->headers, fmt, ap);
    va_end(ap);
    buf_puts(&resp->headers, "\r\n");
}

static int fake_read_more(fake_server_t *s, int fd, buf_t *in)
{
    char tmp[65536];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 50);
        if (atomic_load(&s->stop))
            return -1;
        if (pr == 0 || (pr < 0 && errno == EINTR))
            continue;
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf_append(in, tmp, (size_t)n);
        return 0;
    }
}

static int fake_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *fake_reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 416:
        return "Range Not Satisfiable";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void fake_serve_connection(fake_server_t *s, int fd)
{
    buf_t in = BUF_INIT;
    for (;;) {
        char *end;
        while (!(end = in.data ? strstr(in.data, "\r\n\r\n") : NULL)) {
            if (in.len > 0 && (in.data[0] < 'A' || in.data[0] > 'Z'))
                goto done; /* not HTTP (a TLS ClientHello): hang up as servers do */
            if (fake_read_more(s, fd, &in) < 0)
                goto done;
        }
        fake_request_t req = {0};
        fake_response_t resp = {.code = 500, .cut_body_at = -1};
        if (in.data[0] < 'A' || in.data[0] > 'Z')
            goto done; /* not HTTP (a TLS ClientHello): hang up as servers do */
        size_t head_len = (size_t)(end - in.data) + 4;
        char *line_end = strstr(in.data, "\r\n");
        if (sscanf(in.data, "%15s %4095s", req.method, req.target) != 2) {
            buf_free(&req.headers);
            goto done;
        }
        buf_append(&req.headers, line_end + 2, head_len - (size_t)(line_end + 2 - in.data) - 2);
        char value[256];
        long content_length = 0;
        if (fake_header(&req, "Content-Length", value, sizeof(value)))
            content_length = atol(value);
        bool chunked = fake_header(&req, "Transfer-Encoding", value, sizeof(value)) &&
                       strcasecmp(value, "chunked") == 0;
        buf_consume(&in, head_len);
        if (fake_header(&req, "Expect", value, sizeof(value)) &&
            fake_write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
            goto request_done;
        if (chunked) {
            for (;;) {
                char *crlf;
                while (!(crlf = in.data ? strstr(in.data, "\r\n") : NULL))
                    if (fake_read_more(s, fd, &in) < 0)
                        goto request_done;
                long n = strtol(in.data, NULL, 16);
                size_t hl = (size_t)(crlf - in.data) + 2;
                while (in.len < hl + (size_t)n + 2)
                    if (fake_read_more(s, fd, &in) < 0)
                        goto request_done;
                buf_append(&req.body, in.data + hl, (size_t)n);
                buf_consume(&in, hl + (size_t)n + 2);
                if (n == 0)
                    break;
            }
        } else {
            while (in.len < (size_t)content_length)
                if (fake_read_more(s, fd, &in) < 0)
                    goto request_done;
            buf_append(&req.body, in.data, (size_t)content_length);
            buf_consume(&in, (size_t)content_length);
        }
        atomic_fetch_add(&s->requests, 1);
        pthread_mutex_lock(&s->lock);
        s->handler(s, &req, &resp);
        pthread_mutex_unlock(&s->lock);
        buf_t out = BUF_INIT;
        buf_printf(&out, "HTTP/1.1 %d %s\r\n", resp.code, fake_reason(resp.code));
        buf_puts(&out, buf_str(&resp.headers));
        if (!resp.no_length)
            buf_printf(&out, "Content-Length: %zu\r\n", resp.body.len);
        if (resp.close || resp.cut_body_at >= 0)
            buf_puts(&out, "Connection: close\r\n");
        buf_puts(&out, "\r\n");
        size_t body_len = resp.body.len;
        if (resp.cut_body_at >= 0 && (size_t)resp.cut_body_at < body_len)
            body_len = (size_t)resp.cut_body_at;
        if (strcmp(req.method, "HEAD") != 0 && body_len)
            buf_append(&out, resp.body.data, body_len);
        int wrc = fake_write_all(fd, out.data, out.len);
        bool close_now = resp.close || resp.cut_body_at >= 0 || wrc < 0;
        buf_free(&out);
        buf_free(&resp.headers);
        buf_free(&resp.body);
    request_done:
        buf_free(&req.headers);
        buf_free(&req.body);
        if (close_now)
            goto done;
    }
done:
    buf_free(&in);
    close(fd);
}

static void *fake_connection_thread(void *arg)
{
    fake_connection_t *c = arg;
    fake_serve_connection(c->server, c->fd);
    free(c);
    return NULL;
}

static void *fake_thread(void *arg)
{
    fake_server_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        fake_connection_t *c = malloc(sizeof(*c));
        c->server = s;
        c->fd = fd;
        pthread_mutex_lock(&s->lock);
        if (s->connections_len == FAKE_MAX_CONNECTIONS ||
            pthread_create(&s->connections[s->connections_len], NULL, fake_connection_thread, c) !=
                0) {
            close(fd);
            free(c);
        } else {
            s->connections_len++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

static fake_server_t *fake_start(fake_handler_fn handler, void *data)
{
    fake_server_t *s = calloc(1, sizeof(*s));
    s->handler = handler;
    s->data = data;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->listen_fd, 16) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) < 0)
        abort();
    s->port = ntohs(a.sin_port);
    snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", s->port);
    pthread_create(&s->thread, NULL, fake_thread, s);
    return s;
}

static void fake_stop(fake_server_t *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->connections_len; i++)
        pthread_join(s->connections[i], NULL);
    pthread_mutex_destroy(&s->lock);
    close(s->listen_fd);
    free(s);
}

/* ---- references ------------------------------------------------------------------------ */

static const struct {
    const char *in;
    const char *registry, *repository, *tag, *digest;
} good_refs[] = {
    {"nginx", "docker.io", "library/nginx", "latest", NULL},
    {"nginx:1.25", "docker.io", "library/nginx", "1.25", NULL},
    {"library/nginx", "docker.io", "library/nginx", "latest", NULL},
    {"docker.io/nginx", "docker.io", "library/nginx", "latest", NULL},
    {"index.docker.io/nginx", "docker.io", "library/nginx", "latest", NULL},
    {"docker.io/bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", NULL},
    {"kubesphere/s2ioperator:v3.2.1", "docker.io", "kubesphere/s2ioperator", "v3.2.1", NULL},
    {"localhost/app", "localhost", "app", "latest", NULL},
    {"localhost:5000/app:dev", "localhost:5000", "app", "dev", NULL},
    {"127.0.0.1:5000/a/b/c:1", "127.0.0.1:5000", "a/b/c", "1", NULL},
    {"[::1]:5000/app", "[::1]:5000", "app", "latest", NULL},
    {"quay.io/coreos/etcd", "quay.io", "coreos/etcd", "latest", NULL},
    {"Registry.Example.COM/team/app", "Registry.Example.COM", "team/app", "latest", NULL},
    {"19U/ne/cp0p", "19U", "ne/cp0p", "latest", NULL}, /* upper case makes it a host */
    {"ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "ghcr.io", "o/r", NULL,
     "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "docker.io", "library/nginx", "1.25",
     "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"a_b__c-d--e/f.g", "docker.io", "a_b__c-d--e/f.g", "latest", NULL},
    {"localhost:5000", "docker.io", "library/localhost", "5000", NULL},
    {"my-registry.local:443/ns/img:TAG_1.0-rc", "my-registry.local:443", "ns/img", "TAG_1.0-rc",
     NULL},
};

static const struct {
    const char *in;
    const char *why;
} bad_refs[] = {
    {"", "empty"},
    {"Nginx", "lowercase"},
    {"docker.io/Library/nginx", "lowercase"},
    {"nginx:", "invalid tag"},
    {"nginx:-bad", "invalid tag"},
    {"nginx:.bad", "invalid tag"},
    {"nginx@sha256:abc", "64 lower-case hex"},
    {"nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "64 lower-case hex"},
    {"nginx@md5:0123", "unsupported digest algorithm"},
    {"nginx app", "whitespace"},
    {"/nginx", "invalid repository name"},
    {"nginx/", "invalid repository name"},
    {"a//b", "invalid repository name"},
    {"a/-b", "invalid repository name"},
    {"a/b_", "invalid repository name"},
    {"a/b___c", "invalid repository name"},
    {"-host.io/app", "invalid registry host"},
    {"host-.io/app", "invalid registry host"},
    {"host.io:port/app", "invalid registry host"},
    {"host.io:/app", "invalid registry host"},
    {"[zz]:5000/app", "invalid registry host"},
    {":tag", "no repository"},
    {"@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "no repository"},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image ID"},
    {"caf\xc3\xa9", "non-ASCII"},
};

START_TEST(test_reference_table_normalises_as_docker)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good_refs); i++) {
        registry_ref_t r = REGISTRY_REF_INIT;
        char *err = NULL;
        int rc = registry_ref_parse(good_refs[i].in, &r, &err);
        ck_assert_msg(rc == 0, "%s: %s", good_refs[i].in, err ? err : "");
        ck_assert_str_eq(r.registry, good_refs[i].registry);
        ck_assert_str_eq(r.repository, good_refs[i].repository);
        if (good_refs[i].tag)
            ck_assert_str_eq(r.tag, good_refs[i].tag);
        else
            ck_assert_ptr_null(r.tag);
        if (good_refs[i].digest)
            ck_assert_str_eq(r.digest, good_refs[i].digest);
        else
            ck_assert_ptr_null(r.digest);
        registry_ref_clear(&r);
    }
}
END_TEST

START_TEST(test_reference_errors_say_what_is_wrong)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad_refs); i++) {
        registry_ref_t r = REGISTRY_REF_INIT;
        char *err = NULL;
        int rc = registry_ref_parse(bad_refs[i].in, &r, &err);
        ck_assert_msg(rc == -1, "%s parsed", bad_refs[i].in);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, bad_refs[i].why), "%s: error \"%s\" lacks \"%s\"", bad_refs[i].in,
                      err, bad_refs[i].why);
        ck_assert_ptr_null(r.registry);
        free(err);
    }
    /* names are limited to 255 characters */
    buf_t b = BUF_INIT;
    buf_puts(&b, "host.io/");
    for (int i = 0; i < 250; i++)
        buf_putc(&b, 'a');
    registry_ref_t r = REGISTRY_REF_INIT;
    char *err = NULL;
    ck_assert_int_eq(registry_ref_parse(b.data, &r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "255"));
    free(err);
    /* the limit counts the normalised name: "docker.io/" + 250 is too long */
    buf_reset(&b);
    buf_puts(&b, "team/");
    for (int i = 0; i < 245; i++)
        buf_putc(&b, 'a');
    ck_assert_int_eq(registry_ref_parse(b.data, &r, &err), -1);
    free(err);
    buf_free(&b);
    ck_assert_int_eq(registry_ref_parse(NULL, &r, NULL), -1);
}
END_TEST

START_TEST(test_reference_string_and_api_host)
{
    registry_ref_t r = REGISTRY_REF_INIT, copy = REGISTRY_REF_INIT;
    ck_assert_int_eq(registry_ref_parse("nginx", &r, NULL), 0);
    char *s = registry_ref_string(&r);
    ck_assert_str_eq(s, "docker.io/library/nginx:latest");
    ck_assert_str_eq(registry_ref_api_host(&r), "registry-1.docker.io");
    ck_assert_str_eq(registry_ref_reference(&r), "latest");
    free(s);
    ck_assert_int_eq(registry_ref_copy(&copy, &r), 0);
    registry_ref_clear(&r);
    ck_assert_str_eq(copy.repository, "library/nginx");
    registry_ref_clear(&copy);
    const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char *in = util_asprintf("localhost:5000/app:v1@%s", d);
    ck_assert_int_eq(registry_ref_parse(in, &r, NULL), 0);
    s = registry_ref_string(&r);
    ck_assert_str_eq(s, in);
    ck_assert_str_eq(registry_ref_api_host(&r), "localhost:5000");
    ck_assert_str_eq(registry_ref_reference(&r), d); /* the digest wins */
    free(s);
    free(in);
    registry_ref_clear(&r);
}
END_TEST

/* ---- WWW-Authenticate ---------------------------------------------------------------- */

START_TEST(test_www_authenticate_docker_hub_bearer)
{
    registry_challenges_t ch = REGISTRY_CHALLENGES_INIT;
    char *err = NULL;
    ck_assert_int_eq(registry_challenges_parse(
                         "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker."
                         "io\",scope=\"repository:library/nginx:pull\"",
                         &ch, &err),
                     0);
    ck_assert_uint_eq(ch.len, 1);
    const registry_challenge_t *b = registry_challenges_find(&ch, "BEARER");
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->scheme, "bearer");
    ck_assert_str_eq(registry_challenge_param(b, "realm"), "https://auth.docker.io/token");
    ck_assert_str_eq(registry_challenge_param(b, "Service"), "registry.docker.io");
    ck_assert_str_eq(registry_challenge_param(b, "scope"), "repository:library/nginx:pull");
    ck_assert_ptr_null(registry_challenge_param(b, "error"));
    ck_assert_ptr_null(registry_challenges_find(&ch, "basic"));
    registry_challenges_clear(&ch);
}
END_TEST

START_TEST(test_www_authenticate_several_challenges_and_escapes)
{
    registry_challenges_t ch = REGISTRY_CHALLENGES_INIT;
    char *err = NULL;
    ck_assert_int_eq(registry_challenges_parse("Newauth realm=\"apps\", type=1,\t"
                                               "title=\"Login to \\\"apps\\\"\", Basic "
                                               "realm=\"simple\" ,, Negotiate abc+/d==,"
                                               "Bearer realm = https://r.io/t , error="
                                               "\"invalid_token\"",
                                               &ch, &err),
                     0);
    ck_assert_uint_eq(ch.len, 4);
    ck_assert_str_eq(ch.items[0].scheme, "newauth");
    ck_assert_uint_eq(ch.items[0].params_len, 3);
    ck_assert_str_eq(registry_challenge_param(&ch.items[0], "type"), "1");
    ck_assert_str_eq(registry_challenge_param(&ch.items[0], "title"), "Login to \"apps\"");
    ck_assert_str_eq(registry_challenge_param(registry_challenges_find(&ch, "basic"), "realm"),
                     "simple");
    ck_assert_str_eq(ch.items[2].scheme, "negotiate");
    ck_assert_str_eq(ch.items[2].token68, "abc+/d==");
    /* unquoted URL value, BWS around '=' */
    const registry_challenge_t *b = registry_challenges_find(&ch, "bearer");
    ck_assert_str_eq(registry_challenge_param(b, "realm"), "https://r.io/t");
    ck_assert_str_eq(registry_challenge_param(b, "error"), "invalid_token");
    /* a second header appends */
    ck_assert_int_eq(registry_challenges_parse("Basic", &ch, &err), 0);
    ck_assert_uint_eq(ch.len, 5);
    ck_assert_uint_eq(ch.items[4].params_len, 0);
    registry_challenges_clear(&ch);
    ck_assert_uint_eq(ch.len, 0);
}
END_TEST

START_TEST(test_www_authenticate_garbage_is_a_clear_error)
{
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        {"", "no challenge"},
        {" , ,", "no challenge"},
        {"Bearer realm=\"unterminated", "unterminated quoted string"},
        {"Bearer realm=\"ends with backslash\\", "unterminated quoted string"},
        {"Bearer realm service=x", "expected '='"},
        {"Bearer a=b, c=", "expected a parameter value"},
        {"Bearer realm=\"a\" service=\"b\"", "expected ','"},
        {"\"Bearer\"", "expected an auth scheme"},
        {"Bearer realm=\"x\", =y", "expected an auth scheme"},
        {"Bearer\x01realm=x", "expected a space"},
        {"Basic realm=\"a\",\"b\"", "expected an auth scheme"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        registry_challenges_t ch = REGISTRY_CHALLENGES_INIT;
        char *err = NULL;
        ck_assert_msg(registry_challenges_parse(bad[i].in, &ch, &err) == -1, "%s parsed",
                      bad[i].in);
        ck_assert_msg(err && strstr(err, bad[i].why), "%s: error \"%s\" lacks \"%s\"", bad[i].in,
                      err ? err : "(null)", bad[i].why);
        ck_assert_msg(strstr(err, "offset"), "%s", err);
        ck_assert_uint_eq(ch.len, 0);
        free(err);
    }
    ck_assert_int_eq(registry_challenges_parse(NULL, NULL, NULL), -1);
}
END_TEST

/* ---- docker config ---------------------------------------------------------------------- */

static registry_auth_config_t *load_config(const char *name)
{
    registry_auth_config_t *cfg = NULL;
    char *err = NULL;
    char *path = util_asprintf(TESTDATA "%s", name);
    ck_assert_msg(registry_auth_config_load(path, &cfg, &err) == 0, "%s", err ? err : "");
    free(path);
    return cfg;
}

static void expect_creds(const registry_auth_config_t *cfg, const char *registry, const char *user,
                         const char *pass)
{
    registry_credentials_t c = REGISTRY_CREDENTIALS_INIT;
    ck_assert_msg(registry_auth_config_lookup(cfg, registry, &c) == 1, "no credentials for %s",
                  registry);
    ck_assert_str_eq(c.username, user);
    ck_assert_str_eq(c.password, pass);
    registry_credentials_clear(&c);
    ck_assert_ptr_null(c.password);
}

START_TEST(test_docker_config_lookup_matches_hosts_as_docker)
{
    registry_auth_config_t *cfg = load_config("docker-config.json");
    /* docker.io and its aliases use the https://index.docker.io/v1/ key */
    expect_creds(cfg, "docker.io", "hubuser", "hub pass:with:colons");
    expect_creds(cfg, "index.docker.io", "hubuser", "hub pass:with:colons");
    expect_creds(cfg, "registry-1.docker.io", "hubuser", "hub pass:with:colons");
    /* a key with a scheme matches the host */
    expect_creds(cfg, "quay.io", "quayuser", "quaypass");
    expect_creds(cfg, "QUAY.IO", "quayuser", "quaypass");
    /* username/password fields; host:port exact */
    expect_creds(cfg, "registry.example.com:5000", "fielduser", "fieldpass");
    /* scheme and path stripped from the key */
    expect_creds(cfg, "localhost:5000", "local", "secret");
    registry_credentials_t c = REGISTRY_CREDENTIALS_INIT;
    /* the port is part of the host */
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "registry.example.com", &c), 0);
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "localhost", &c), 0);
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "ghcr.io", &c), 0);
    /* an entry without credentials is none; a malformed "auth" is an error */
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "empty.example.com", &c), 0);
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "broken.example.com", &c), -1);
    ck_assert_ptr_null(c.username);
    ck_assert_int_eq(registry_auth_config_lookup(NULL, "quay.io", &c), 0);
    registry_auth_config_free(cfg);
}
END_TEST

START_TEST(test_docker_config_legacy_dockercfg_and_errors)
{
    registry_auth_config_t *cfg = load_config("dockercfg-legacy.json");
    expect_creds(cfg, "ghcr.io", "gh", "token");
    registry_auth_config_free(cfg);
    char *err = NULL;
    const char *secret = "{\"auths\": {\"x\": {\"auth\": \"c2VjcmV0OnNlY3JldA==\"}";
    ck_assert_int_eq(registry_auth_config_parse(secret, strlen(secret), &cfg, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, "c2VjcmV0")); /* no secret in the message */
    free(err);
    const char *bad_auths = "{\"auths\": []}";
    ck_assert_int_eq(registry_auth_config_parse(bad_auths, strlen(bad_auths), &cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "auths"));
    free(err);
    ck_assert_int_eq(registry_auth_config_load("/nonexistent/config.json", &cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/config.json"));
    free(err);
}
END_TEST

/* ---- errors and digests ------------------------------------------------------------------ */

START_TEST(test_error_body_decoding)
{
    registry_error_t e = REGISTRY_ERROR_INIT;
    const char *body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
                       "unknown\",\"detail\":{\"Tag\":\"v9\"}}]}";
    ck_assert_int_eq(registry_error_from_response(&e, 404, body, strlen(body)),
                     REGISTRY_ERR_NOT_FOUND);
    ck_assert_str_eq(e.code, "MANIFEST_UNKNOWN");
    ck_assert_str_eq(e.message, "manifest unknown");
    char line[256];
    ck_assert_str_eq(registry_error_str(&e, line, sizeof(line)),
                     "NotFound (404) MANIFEST_UNKNOWN: manifest unknown");
    /* the code decides over the status */
    body = "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":\"provided digest did not "
           "match uploaded content\"}]}";
    ck_assert_int_eq(registry_error_from_response(&e, 400, body, strlen(body)),
                     REGISTRY_ERR_DIGEST_MISMATCH);
    body = "{\"errors\":[{\"code\":\"MANIFEST_BLOB_UNKNOWN\",\"message\":\"blob unknown\"}]}";
    ck_assert_int_eq(registry_error_from_response(&e, 400, body, strlen(body)),
                     REGISTRY_ERR_MANIFEST_INVALID);
    body = "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource "
           "is denied\"}]}";
    ck_assert_int_eq(registry_error_from_response(&e, 403, body, strlen(body)),
                     REGISTRY_ERR_DENIED);
    /* token servers */
    body = "{\"details\":\"incorrect username or password\"}";
    ck_assert_int_eq(registry_error_from_response(&e, 401, body, strlen(body)),
                     REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_str_eq(e.message, "incorrect username or password");
    /* a proxy's HTML: its first line */
    body = "\n  <html><body>502 Bad Gateway</body></html>\nmore";
    ck_assert_int_eq(registry_error_from_response(&e, 502, body, strlen(body)),
                     REGISTRY_ERR_SERVER);
    ck_assert_str_eq(e.message, "<html><body>502 Bad Gateway</body></html>");
    ck_assert_int_eq(registry_error_from_response(&e, 418, NULL, 0), REGISTRY_ERR_UNKNOWN);
    ck_assert_str_eq(e.message, "HTTP 418");
    ck_assert_int_eq(registry_error_from_response(&e, 429, "", 0), REGISTRY_ERR_TOO_MANY_REQUESTS);
    registry_error_clear(&e);
    ck_assert_int_eq(e.err, REGISTRY_OK);
    ck_assert_str_eq(registry_error_str(&e, line, sizeof(line)), "OK");
    ck_assert_str_eq(registry_err_name(REGISTRY_ERR_TRANSPORT), "Transport");
}
END_TEST

START_TEST(test_sha256_digests)
{
    char d[REGISTRY_DIGEST_LEN];
    ck_assert_int_eq(registry_digest_of("", 0, d), 0);
    ck_assert_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    registry_sha256_t h;
    ck_assert_int_eq(registry_sha256_init(&h), 0);
    registry_sha256_update(&h, "a", 1);
    registry_sha256_update(&h, "bc", 2);
    registry_sha256_final(&h, d);
    ck_assert_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* reusable after final */
    registry_sha256_update(&h, "abc", 3);
    registry_sha256_final(&h, d);
    ck_assert_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    registry_sha256_free(&h);
    registry_sha256_free(&h);
    ck_assert(registry_digest_valid(d));
    ck_assert(!registry_digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB4"
                                     "10FF61F20015AD"));
    ck_assert(!registry_digest_valid("sha512:ba78"));
    ck_assert(!registry_digest_valid(NULL));
}
END_TEST

/* ---- index selection ----------------------------------------------------------------------- */

static char *read_testdata(const char *name, size_t *len)
{
    char *path = util_asprintf(TESTDATA "%s", name);
    char *data = util_read_file(path, len);
    ck_assert_msg(data != NULL, "%s", path);
    free(path);
    return data;
}

static void expect_select(const char *doc, size_t len, const char *os, const char *arch,
                          const char *variant, registry_err_t want, const char *digest)
{
    registry_descriptor_t d = REGISTRY_DESCRIPTOR_INIT;
    char *err = NULL;
    registry_err_t rc = registry_index_select(doc, len, os, arch, variant, &d, &err);
    ck_assert_msg(rc == want, "%s/%s/%s: %d (%s)", os, arch, variant ? variant : "", rc,
                  err ? err : "");
    if (digest)
        ck_assert_str_eq(d.digest, digest);
    else
        ck_assert_ptr_nonnull(err);
    free(err);
    registry_descriptor_clear(&d);
}

START_TEST(test_index_selects_the_platform)
{
    size_t len;
    char *doc = read_testdata("index-oci-with-attestations.json", &len);
    expect_select(doc, len, "linux", "amd64", NULL, REGISTRY_OK,
                  "sha256:b2e814d28359e77bd0aa5fed1939620075e4ffa0eb20423cc557b375bd5c14ad");
    expect_select(doc, len, "linux", "arm", "v7", REGISTRY_OK,
                  "sha256:2222222222222222222222222222222222222222222222222222222222222222");
    expect_select(doc, len, "linux", "arm64", NULL, REGISTRY_OK,
                  "sha256:3333333333333333333333333333333333333333333333333333333333333333");
    expect_select(doc, len, "linux", "arm64", "v8", REGISTRY_OK,
                  "sha256:3333333333333333333333333333333333333333333333333333333333333333");
    expect_select(doc, len, "windows", "amd64", NULL, REGISTRY_OK,
                  "sha256:4444444444444444444444444444444444444444444444444444444444444444");
    expect_select(doc, len, "linux", "arm", "v6", REGISTRY_ERR_UNSUPPORTED, NULL);
    expect_select(doc, len, "linux", "s390x", NULL, REGISTRY_ERR_UNSUPPORTED, NULL);
    /* attestation entries (unknown/unknown) are never picked */
    expect_select(doc, len, "unknown", "unknown", NULL, REGISTRY_ERR_UNSUPPORTED, NULL);
    free(doc);
    doc = read_testdata("manifest-list-docker.json", &len);
    expect_select(doc, len, "linux", "amd64", NULL, REGISTRY_OK,
                  "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    free(doc);
    const char *bad = "{\"manifests\": {}}";
    expect_select(bad, strlen(bad), "linux", "amd64", NULL, REGISTRY_ERR_MANIFEST_INVALID, NULL);
    bad = "{\"manifests\": [{\"digest\": \"sha256:x\", \"platform\": {\"os\": \"linux\", "
          "\"architecture\": \"amd64\"}}]}";
    expect_select(bad, strlen(bad), "linux", "amd64", NULL, REGISTRY_ERR_MANIFEST_INVALID, NULL);
    expect_select("[", 1, "linux", "amd64", NULL, REGISTRY_ERR_MANIFEST_INVALID, NULL);
}
END_TEST

/* ---- the client against the scripted server ------------------------------------------------ */

static registry_client_t *new_client(const char *insecure_registry)
{
    registry_client_options_t o;
    registry_client_options_default(&o);
    o.retry_initial = 0.01;
    o.max_retries = 3;
    o.timeout = 10;
    o.chunk_size = 64 * 1024;
    registry_client_t *c = registry_client_new(&o);
    ck_assert_ptr_nonnull(c);
    if (insecure_registry)
        ck_assert_int_eq(registry_client_set_insecure(c, insecure_registry, true), 0);
    return c;
}

static registry_ref_t make_ref(const fake_server_t *s, const char *rest)
{
    char *in = util_asprintf("%s/%s", s->addr, rest);
    registry_ref_t r = REGISTRY_REF_INIT;
    ck_assert_int_eq(registry_ref_parse(in, &r, NULL), 0);
    free(in);
    return r;
}

static const char *manifest_body =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
    "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0},"
    "\"layers\":[]}";

typedef struct scenario {
    int manifest_gets;
    int failures_left;
    bool lie;
    char manifest_digest[REGISTRY_DIGEST_LEN];
    /* blobs */
    buf_t blob;
    char blob_digest[REGISTRY_DIGEST_LEN];
    bool honour_range;
    bool cut_first;
    buf_t ranges_seen;
    /* auth */
    int token_requests;
    int token_generation;
    bool rotate_after_first_use;
    buf_t token_queries;
    /* uploads */
    buf_t uploaded;
    int patches;
    bool fail_second_patch;
    bool failed_once;
    buf_t content_ranges;
    char committed_digest[REGISTRY_DIGEST_LEN];
    int deletes;
    bool mount_ok;
} scenario_t;

static void answer_manifest(scenario_t *sc, fake_response_t *resp)
{
    fake_reply(resp, 200, manifest_body);
    fake_add_header(resp, "Content-Type: application/vnd.oci.image.manifest.v1+json");
    fake_add_header(resp, "Docker-Content-Digest: %s",
                    sc->lie ? "sha256:0000000000000000000000000000000000000000000000000000000000"
                              "000000"
                            : sc->manifest_digest);
}

static void flaky_handler(fake_server_t *s, const fake_request_t *req, fake_response_t *resp)
{
    scenario_t *sc = s->data;
    if (strcmp(req->target, "/v2/") == 0) {
        fake_reply(resp, 200, "{}");
    } else if (strstr(req->target, "/manifests/")) {
        sc->manifest_gets++;
        if (sc->failures_left > 0) {
            sc->failures_left--;
            fake_reply(resp, 503,
                       "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"try later\"}]}");
            return;
        }
        answer_manifest(sc, resp);
    } else {
        fake_reply(resp, 404, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"x\"}]}");
    }
}

START_TEST(test_5xx_is_retried_with_backoff)
{
    scenario_t sc = {.failures_left = 2};
    registry_digest_of(manifest_body, strlen(manifest_body), sc.manifest_digest);
    fake_server_t *s = fake_start(flaky_handler, &sc);
    registry_client_t *c = new_client(s->addr);
    registry_ref_t ref = make_ref(s, "lib/app:v1");
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_OK);
    ck_assert_int_eq(sc.manifest_gets, 3);
    ck_assert_str_eq(m.media_type, REGISTRY_MEDIA_OCI_MANIFEST);
    ck_assert_str_eq(m.digest, sc.manifest_digest);
    ck_assert_str_eq(m.data, manifest_body);
    /* more failures than retries: the registry's error comes back */
    sc.failures_left = 10;
    sc.manifest_gets = 0;
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_ERR_SERVER);
    ck_assert_int_eq(sc.manifest_gets, 4);
    ck_assert_int_eq(e.http_code, 503);
    ck_assert_str_eq(e.code, "UNAVAILABLE");
    ck_assert_ptr_nonnull(strstr(e.message, "try later"));
    ck_assert_ptr_nonnull(strstr(e.message, "lib/app:v1"));
    /* 404 with its code */
    registry_ref_t missing =
        make_ref(s, "lib/app@sha256:"
                    "1111111111111111111111111111111111111111111111111111111111111111");
    int64_t size = 0;
    ck_assert_int_eq(registry_blob_exists(c, &missing, missing.digest, &size, &e),
                     REGISTRY_ERR_NOT_FOUND);
    ck_assert_int_eq(e.http_code, 404); /* a HEAD answer has no body to say more */
    registry_ref_clear(&missing);
    registry_error_clear(&e);
    registry_manifest_clear(&m);
    registry_ref_clear(&ref);
    registry_client_free(c);
    fake_stop(s);
}
END_TEST

START_TEST(test_manifest_digest_is_verified)
{
    scenario_t sc = {.lie = true};
    registry_digest_of(manifest_body, strlen(manifest_body), sc.manifest_digest);
    fake_server_t *s = fake_start(flaky_handler, &sc);
    registry_client_t *c = new_client(s->addr);
    registry_ref_t ref = make_ref(s, "lib/app:v1");
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    registry_error_t e = REGISTRY_ERROR_INIT;
    /* Docker-Content-Digest disagrees with the bytes */
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_ERR_DIGEST_MISMATCH);
    ck_assert_ptr_nonnull(strstr(e.message, "Docker-Content-Digest"));
    ck_assert_ptr_null(m.data);
    /* asked by digest, served other bytes */
    sc.lie = false;
    registry_ref_t by_digest =
        make_ref(s, "lib/app@sha256:"
                    "2222222222222222222222222222222222222222222222222222222222222222");
    ck_assert_int_eq(registry_manifest_get(c, &by_digest, &m, &e), REGISTRY_ERR_DIGEST_MISMATCH);
    ck_assert_ptr_nonnull(strstr(e.message, sc.manifest_digest));
    registry_ref_clear(&by_digest);
    registry_error_clear(&e);
    registry_ref_clear(&ref);
    registry_client_free(c);
    fake_stop(s);
}
END_TEST

static void blob_handler(fake_server_t *s, const fake_request_t *req, fake_response_t *resp)
{
    scenario_t *sc = s->data;
    char range[128];
    if (strcmp(req->target, "/v2/") == 0) {
        fake_reply(resp, 200, "{}");
        return;
    }
    if (!strstr(req->target, sc->blob_digest)) {
        fake_reply(resp, 404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"x\"}]}");
        return;
    }
    if (fake_header(req, "Range", range, sizeof(range))) {
        buf_printf(&sc->ranges_seen, "%s;", range);
        long from = 0;
        if (sc->honour_range && sscanf(range, "bytes=%ld-", &from) == 1) {
            resp->code = 206;
            buf_append(&resp->body, sc->blob.data + from, sc->blob.len - (size_t)from);
            fake_add_header(resp, "Content-Range: bytes %ld-%zu/%zu", from, sc->blob.len - 1,
                            sc->blob.len);
            return;
        }
    }
    resp->code = 200;
    buf_append(&resp->body, sc->blob.data, sc->blob.len);
    if (sc->cut_first) {
        sc->cut_first = false;
        resp->cut_body_at = 100000;
    }
}

static void fill_random(buf_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        buf_putc(b, (char)(seed >> 16));
    }
}

static int collect(void *data, const char *buf, size_t len)
{
    return buf_append(data, buf, len);
}

START_TEST(test_blob_download_resumes_after_a_cut)
{
    for (int honour = 0; honour < 2; honour++) {
        scenario_t sc = {.honour_range = honour, .cut_first = true};
        fill_random(&sc.blob, 300000, 7);
        registry_digest_of(sc.blob.data, sc.blob.len, sc.blob_digest);
        fake_server_t *s = fake_start(blob_handler, &sc);
        registry_client_t *c = new_client(s->addr);
        registry_ref_t repo = make_ref(s, "lib/app");
        buf_t got = BUF_INIT;
        registry_error_t e = REGISTRY_ERROR_INIT;
        ck_assert_msg(registry_blob_get(c, &repo, sc.blob_digest, collect, &got, &e) == REGISTRY_OK,
                      "%s", e.message ? e.message : "");
        ck_assert_uint_eq(got.len, sc.blob.len);
        ck_assert(memcmp(got.data, sc.blob.data, got.len) == 0);
        ck_assert_str_eq(buf_str(&sc.ranges_seen), "bytes=100000-;");
        /* a registry serving other bytes is caught */
        buf_reset(&got);
        sc.blob.data[5] ^= 1;
        ck_assert_int_eq(registry_blob_get(c, &repo, sc.blob_digest, collect, &got, &e),
                         REGISTRY_ERR_DIGEST_MISMATCH);
        /* to a file, removed on failure */
        char path[] = "/tmp/test_registry_blob_XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        ck_assert_int_eq(registry_blob_get_file(c, &repo, sc.blob_digest, path, &e),
                         REGISTRY_ERR_DIGEST_MISMATCH);
        ck_assert_int_eq(access(path, F_OK), -1);
        sc.blob.data[5] ^= 1;
        ck_assert_int_eq(registry_blob_get_file(c, &repo, sc.blob_digest, path, &e), REGISTRY_OK);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, 300000);
        unlink(path);
        registry_error_clear(&e);
        buf_free(&got);
        registry_ref_clear(&repo);
        registry_client_free(c);
        fake_stop(s);
        buf_free(&sc.blob);
        buf_free(&sc.ranges_seen);
    }
}
END_TEST

static void broken_challenge_handler(fake_server_t *s, const fake_request_t *req,
                                     fake_response_t *resp)
{
    (void)s;
    (void)req;
    fake_reply(resp, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"no\"}]}");
    fake_add_header(resp, "WWW-Authenticate: Bearer realm=\"http://x/token,service=\"y");
}

START_TEST(test_unparseable_challenge_is_a_clear_error)
{
    fake_server_t *s = fake_start(broken_challenge_handler, NULL);
    registry_client_t *c = new_client(s->addr);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_ERR_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(e.message, "WWW-Authenticate"));
    ck_assert_ptr_nonnull(strstr(e.message, s->addr));
    registry_error_clear(&e);
    registry_client_free(c);
    fake_stop(s);
}
END_TEST

#define TOKEN_USER "tokenuser"
#define TOKEN_PASS "s3cr3t-Pa55"

static void token_handler(fake_server_t *s, const fake_request_t *req, fake_response_t *resp)
{
    scenario_t *sc = s->data;
    char auth[512], want[512];
    bool has_auth = fake_header(req, "Authorization", auth, sizeof(auth)) != NULL;
    if (util_has_prefix(req->target, "/token")) {
        sc->token_requests++;
        buf_printf(&sc->token_queries, "%s\n", req->target);
        /* base64("tokenuser:s3cr3t-Pa55") */
        if (!has_auth || strcmp(auth, "Basic dG9rZW51c2VyOnMzY3IzdC1QYTU1") != 0) {
            fake_reply(resp, 401, "{\"details\":\"incorrect username or password\"}");
            return;
        }
        sc->token_generation++;
        buf_printf(&resp->body, "{\"access_token\":\"tok-%d\",\"expires_in\":300}",
                   sc->token_generation);
        resp->code = 200;
        return;
    }
    snprintf(want, sizeof(want), "Bearer tok-%d", sc->token_generation);
    if (!has_auth || strcmp(auth, want) != 0) {
        fake_reply(resp, 401,
                   "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
                   "\"authentication required\"}]}");
        fake_add_header(resp,
                        "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"fake "
                        "registry\",scope=\"repository:lib/app:pull\"",
                        s->addr);
        return;
    }
    if (strcmp(req->target, "/v2/") == 0) {
        fake_reply(resp, 200, "{}");
        return;
    }
    answer_manifest(sc, resp);
    if (sc->rotate_after_first_use) {
        sc->rotate_after_first_use = false;
        sc->token_generation += 100; /* the token we just accepted is now stale */
    }
}

START_TEST(test_token_flow_caches_per_scope_and_never_logs_secrets)
{
    scenario_t sc = {0};
    registry_digest_of(manifest_body, strlen(manifest_body), sc.manifest_digest);
    fake_server_t *s = fake_start(token_handler, &sc);
    char log_path[] = "/tmp/test_registry_log_XXXXXX";
    int log_fd = mkstemp(log_path);
    log_set_fd(log_fd);
    log_set_verbosity(10);
    registry_client_t *c = new_client(s->addr);
    registry_ref_t ref = make_ref(s, "lib/app:v1");
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    registry_error_t e = REGISTRY_ERROR_INIT;
    /* anonymous: the token server refuses */
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(e.message, "incorrect username or password"));
    ck_assert_ptr_nonnull(strstr(e.message, "anonymous"));
    ck_assert_int_eq(registry_client_set_credentials(c, s->addr, TOKEN_USER, TOKEN_PASS), 0);
    sc.token_requests = 0;
    for (int i = 0; i < 3; i++)
        ck_assert_msg(registry_manifest_get(c, &ref, &m, &e) == REGISTRY_OK, "%s", e.message);
    ck_assert_int_eq(sc.token_requests, 1);
    ck_assert_msg(strcasestr(buf_str(&sc.token_queries),
                             "service=fake+registry&scope=repository%3alib%2fapp%3apull"),
                  "%s", buf_str(&sc.token_queries));
    /* a token the registry stops accepting: one 401, a new token, the same request again */
    sc.rotate_after_first_use = true;
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_OK);
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_OK);
    ck_assert_int_eq(sc.token_requests, 2);
    /* ping = login check: token without scope */
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_OK);
    ck_assert_int_eq(sc.token_requests, 3);
    registry_manifest_clear(&m);
    registry_error_clear(&e);
    registry_ref_clear(&ref);
    registry_client_free(c);
    fake_stop(s);
    log_set_fd(2);
    log_set_verbosity(0);
    size_t len = 0;
    char *logged = util_read_file(log_path, &len);
    unlink(log_path);
    close(log_fd);
    ck_assert_ptr_nonnull(logged);
    ck_assert_ptr_nonnull(strstr(logged, "registry request")); /* it did log */
    ck_assert_ptr_null(strstr(logged, TOKEN_PASS));
    ck_assert_ptr_null(strstr(logged, "dG9rZW51c2VyOnMzY3IzdC1QYTU1"));
    ck_assert_ptr_null(strstr(logged, "tok-1"));
    free(logged);
    buf_free(&sc.token_queries);
}
END_TEST

static void basic_handler(fake_server_t *s, const fake_request_t *req, fake_response_t *resp)
{
    (void)s;
    char auth[256];
    /* base64("u:p") */
    if (!fake_header(req, "Authorization", auth, sizeof(auth)) || strcmp(auth, "Basic dTpw") != 0) {
        fake_reply(resp, 401,
                   "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
                   "\"authentication required\",\"detail\":null}]}");
        fake_add_header(resp, "WWW-Authenticate: Basic realm=\"fake\"");
        return;
    }
    fake_reply(resp, 200, "{}");
}

START_TEST(test_basic_auth_good_bad_and_missing_credentials)
{
    fake_server_t *s = fake_start(basic_handler, NULL);
    registry_client_t *c = new_client(s->addr);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(e.message, "no credentials configured"));
    ck_assert_str_eq(e.code, "UNAUTHORIZED");
    ck_assert_int_eq(registry_client_set_credentials(c, s->addr, "u", "wrong"), 0);
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(e.message, "authentication required"));
    ck_assert_int_eq(e.http_code, 401);
    ck_assert_int_eq(registry_client_set_credentials(c, s->addr, "u", "p"), 0);
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_OK);
    /* from a docker config */
    registry_client_t *c2 = new_client(s->addr);
    char *json = util_asprintf("{\"auths\":{\"http://%s\":{\"auth\":\"dTpw\"}}}", s->addr);
    registry_auth_config_t *cfg = NULL;
    ck_assert_int_eq(registry_auth_config_parse(json, strlen(json), &cfg, NULL), 0);
    registry_client_set_auth_config(c2, cfg);
    ck_assert_int_eq(registry_ping(c2, s->addr, &e), REGISTRY_OK);
    free(json);
    registry_error_clear(&e);
    registry_client_free(c);
    registry_client_free(c2);
    fake_stop(s);
}
END_TEST

static void upload_handler(fake_server_t *s, const fake_request_t *req, fake_response_t *resp)
{
    scenario_t *sc = s->data;
    char value[256];
    if (strcmp(req->target, "/v2/") == 0) {
        fake_reply(resp, 200, "{}");
    } else if (strcmp(req->method, "HEAD") == 0) {
        fake_reply(resp, 404, NULL);
    } else if (strcmp(req->method, "POST") == 0 && strstr(req->target, "mount=")) {
        buf_printf(&sc->content_ranges, "POST %s;", req->target);
        if (sc->mount_ok) {
            fake_reply(resp, 201, NULL);
            fake_add_header(resp, "Location: /v2/lib/dst/blobs/%s", sc->blob_digest);
        } else {
            fake_reply(resp, 202, NULL);
            fake_add_header(resp, "Location: /v2/lib/dst/blobs/uploads/u2?_state=m");
        }
    } else if (strcmp(req->method, "POST") == 0) {
        fake_reply(resp, 202, NULL);
        /* relative Location */
        fake_add_header(resp, "Location: /v2/lib/app/blobs/uploads/u1?_state=s0");
    } else if (strcmp(req->method, "DELETE") == 0) {
        sc->deletes++;
        fake_reply(resp, 204, NULL);
    } else if (strcmp(req->method, "GET") == 0 && strstr(req->target, "/uploads/")) {
        fake_reply(resp, 204, NULL);
        fake_add_header(resp, "Range: 0-%zu", sc->uploaded.len - 1);
        fake_add_header(resp, "Location: /v2/lib/app/blobs/uploads/u1?_state=status");
    } else if (strcmp(req->method, "PATCH") == 0) {
        sc->patches++;
        fake_header(req, "Content-Range", value, sizeof(value));
        buf_printf(&sc->content_ranges, "%s;", value);
        long start = -1, end = -1;
        sscanf(value, "%ld-%ld", &start, &end);
        if (start != (long)sc->uploaded.len || end - start + 1 != (long)req->body.len) {
            fake_reply(resp, 416,
                       "{\"errors\":[{\"code\":\"RANGE_INVALID\",\"message\":"
                       "\"invalid content range\"}]}");
            return;
        }
        if (sc->fail_second_patch && sc->patches == 2 && !sc->failed_once) {
            /* keep part of the chunk, then fail */
            sc->failed_once = true;
            buf_append(&sc->uploaded, req->body.data, req->body.len / 3);
            fake_reply(resp, 500, NULL);
            return;
        }
        buf_append(&sc->uploaded, req->body.data, req->body.len);
        fake_reply(resp, 202, NULL);
        fake_add_header(resp, "Range: 0-%zu", sc->uploaded.len - 1);
        /* alternate absolute and relative (to the request path) Locations */
        if (sc->patches % 2)
            fake_add_header(resp, "Location: http://%s/v2/lib/app/blobs/uploads/u1?_state=p%d",
                            s->addr, sc->patches);
        else
            fake_add_header(resp, "Location: u1?_state=p%d", sc->patches);
    } else if (strcmp(req->method, "PUT") == 0) {
        buf_printf(&sc->content_ranges, "PUT %s;", req->target);
        buf_append(&sc->uploaded, req->body.data, req->body.len);
        registry_digest_of(sc->uploaded.data ? sc->uploaded.data : "", sc->uploaded.len,
                           sc->committed_digest);
        const char *q = strstr(req->target, "digest=");
        if (!q || strncasecmp(q + 7, "sha256%3A", 9) != 0 ||
            strcmp(q + 16, sc->committed_digest + 7) != 0) {
            fake_reply(resp, 400,
                       "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":"
                       "\"provided digest did not match uploaded content\"}]}");
            return;
        }
        fake_reply(resp, 201, NULL);
        fake_add_header(resp, "Docker-Content-Digest: %s", sc->committed_digest);
    } else {
        fake_reply(resp, 405, NULL);
    }
}

typedef struct mem_source {
    const char *data;
    size_t len;
    size_t off;
} mem_source_t;

static ssize_t mem_read(void *data, char *buf, size_t len)
{
    mem_source_t *m = data;
    size_t n = m->len - m->off < len ? m->len - m->off : len;
    /* short reads on purpose */
    if (n > 7000)
        n = 7000;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

static int mem_rewind(void *data)
{
    ((mem_source_t *)data)->off = 0;
    return 0;
}

START_TEST(test_chunked_upload_follows_locations_and_resumes)
{
    scenario_t sc = {.fail_second_patch = true};
    buf_t data = BUF_INIT;
    fill_random(&data, 200000, 3);
    fake_server_t *s = fake_start(upload_handler, &sc);
    registry_client_t *c = new_client(s->addr);
    registry_ref_t repo = make_ref(s, "lib/app");
    mem_source_t m = {data.data, data.len, 0};
    registry_blob_source_t src = {.read = mem_read, .data = &m, .size = -1};
    char digest[REGISTRY_DIGEST_LEN], want[REGISTRY_DIGEST_LEN];
    registry_digest_of(data.data, data.len, want);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(registry_blob_upload_chunked(c, &repo, &src, NULL, digest, &e) == REGISTRY_OK,
                  "%s", e.message ? e.message : "");
    ck_assert_str_eq(digest, want);
    ck_assert_str_eq(sc.committed_digest, want);
    ck_assert_uint_eq(sc.uploaded.len, data.len);
    ck_assert(memcmp(sc.uploaded.data, data.data, data.len) == 0);
    /* 4 chunks of 64 KiB; the second failed after the server kept a third of it and was
     * resumed from there; the commit went to the last Location with digest appended */
    char *want_log = util_asprintf("0-65535;65536-131071;87381-131071;131072-196607;"
                                   "196608-199999;PUT /v2/lib/app/blobs/uploads/u1?_state=p5&"
                                   "digest=sha256%%3a%s;",
                                   want + 7);
    ck_assert_str_eq(buf_str(&sc.content_ranges), want_log);
    free(want_log);
    registry_error_clear(&e);
    registry_ref_clear(&repo);
    registry_client_free(c);
    fake_stop(s);
    buf_free(&data);
    buf_free(&sc.uploaded);
    buf_free(&sc.content_ranges);
}
END_TEST

START_TEST(test_monolithic_upload_and_mount_fallback)
{
    scenario_t sc = {0};
    buf_t data = BUF_INIT;
    fill_random(&data, 5000, 11);
    registry_digest_of(data.data, data.len, sc.blob_digest);
    fake_server_t *s = fake_start(upload_handler, &sc);
    registry_client_t *c = new_client(s->addr);
    registry_ref_t repo = make_ref(s, "lib/app");
    mem_source_t m = {data.data, data.len, 0};
    registry_blob_source_t src = {
        .read = mem_read, .rewind = mem_rewind, .data = &m, .size = (int64_t)data.len};
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(registry_blob_upload(c, &repo, sc.blob_digest, &src, &e) == REGISTRY_OK, "%s",
                  e.message ? e.message : "");
    ck_assert_str_eq(sc.committed_digest, sc.blob_digest);
    ck_assert_int_eq(sc.patches, 0);
    /* a wrong digest: the registry's DIGEST_INVALID becomes DIGEST_MISMATCH */
    buf_reset(&sc.uploaded);
    m.off = 0;
    const char *wrong = "sha256:9999999999999999999999999999999999999999999999999999999999999999";
    ck_assert_int_eq(registry_blob_upload(c, &repo, wrong, &src, &e), REGISTRY_ERR_DIGEST_MISMATCH);
    ck_assert_ptr_nonnull(strstr(e.message, "did not match"));
    ck_assert_int_eq(sc.deletes, 1); /* the failed session was cancelled */
    /* mount: 201, then 202 (declined: session cancelled) */
    registry_ref_t dst = make_ref(s, "lib/dst");
    bool mounted = false;
    sc.mount_ok = true;
    buf_reset(&sc.content_ranges);
    ck_assert_int_eq(registry_blob_mount(c, &dst, sc.blob_digest, "lib/app", &mounted, &e),
                     REGISTRY_OK);
    ck_assert(mounted);
    ck_assert_ptr_nonnull(
        strstr(buf_str(&sc.content_ranges), "POST /v2/lib/dst/blobs/uploads/?mount=sha256%3a"));
    ck_assert_ptr_nonnull(strstr(buf_str(&sc.content_ranges), "&from=lib%2fapp;"));
    sc.mount_ok = false;
    ck_assert_int_eq(registry_blob_mount(c, &dst, sc.blob_digest, "lib/app", &mounted, &e),
                     REGISTRY_OK);
    ck_assert(!mounted);
    ck_assert_int_eq(sc.deletes, 2);
    registry_ref_clear(&dst);
    registry_error_clear(&e);
    registry_ref_clear(&repo);
    registry_client_free(c);
    fake_stop(s);
    buf_free(&data);
    buf_free(&sc.uploaded);
    buf_free(&sc.content_ranges);
}
END_TEST

START_TEST(test_tls_is_verified_unless_insecure_and_dead_hosts_fail)
{
    scenario_t sc = {0};
    registry_digest_of(manifest_body, strlen(manifest_body), sc.manifest_digest);
    fake_server_t *s = fake_start(flaky_handler, &sc);
    /* not configured insecure: HTTPS only, and this server speaks plain HTTP */
    registry_client_t *c = new_client(NULL);
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_ERR_TRANSPORT);
    ck_assert_ptr_nonnull(strstr(e.message, "configure the registry as insecure"));
    /* insecure: HTTPS fails, plain HTTP is used */
    ck_assert_int_eq(registry_client_set_insecure(c, s->addr, true), 0);
    ck_assert_int_eq(registry_ping(c, s->addr, &e), REGISTRY_OK);
    registry_client_free(c);
    char dead[32];
    snprintf(dead, sizeof(dead), "127.0.0.1:%d", s->port);
    fake_stop(s);
    c = new_client(dead);
    ck_assert_int_eq(registry_ping(c, dead, &e), REGISTRY_ERR_TRANSPORT);
    ck_assert_int_eq(e.http_code, 0);
    registry_error_clear(&e);
    registry_client_free(c);
}
END_TEST

static void index_handler(fake_server_t *s, const fake_request_t *req, fake_response_t *resp)
{
    scenario_t *sc = s->data;
    if (strcmp(req->target, "/v2/") == 0) {
        fake_reply(resp, 200, "{}");
    } else if (strstr(req->target, "/manifests/multi")) {
        buf_printf(&resp->body,
                   "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":"
                   "\"%s\",\"digest\":\"sha256:%064d\",\"size\":1,\"platform\":{\"os\":"
                   "\"linux\",\"architecture\":\"arm64\"}},{\"mediaType\":\"%s\",\"digest\":"
                   "\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":"
                   "\"amd64\"}}]}",
                   REGISTRY_MEDIA_OCI_INDEX, REGISTRY_MEDIA_OCI_MANIFEST, 1,
                   REGISTRY_MEDIA_OCI_MANIFEST, sc->manifest_digest, strlen(manifest_body));
        resp->code = 200;
        fake_add_header(resp, "Content-Type: %s", REGISTRY_MEDIA_OCI_INDEX);
    } else if (strstr(req->target, sc->manifest_digest)) {
        sc->manifest_gets++;
        fake_reply(resp, 200, manifest_body);
        /* a registry that does not name the type: the document's mediaType is used */
        fake_add_header(resp, "Content-Type: application/json; charset=utf-8");
    } else {
        fake_reply(resp, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"x\"}]}");
    }
}

START_TEST(test_index_is_resolved_to_the_platform_manifest)
{
    scenario_t sc = {0};
    registry_digest_of(manifest_body, strlen(manifest_body), sc.manifest_digest);
    fake_server_t *s = fake_start(index_handler, &sc);
    registry_client_t *c = new_client(s->addr);
    registry_ref_t ref = make_ref(s, "lib/app:multi");
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_int_eq(registry_manifest_get(c, &ref, &m, &e), REGISTRY_OK);
    ck_assert_str_eq(m.media_type, REGISTRY_MEDIA_OCI_INDEX);
    ck_assert_msg(registry_manifest_get_image(c, &ref, &m, &e) == REGISTRY_OK, "%s", e.message);
    ck_assert_str_eq(m.media_type, REGISTRY_MEDIA_OCI_MANIFEST);
    ck_assert_str_eq(m.digest, sc.manifest_digest);
    ck_assert_int_eq(sc.manifest_gets, 1);
    registry_client_free(c);
    /* another platform */
    registry_client_options_t o;
    registry_client_options_default(&o);
    o.architecture = "s390x";
    c = registry_client_new(&o);
    registry_client_set_insecure(c, s->addr, true);
    ck_assert_int_eq(registry_manifest_get_image(c, &ref, &m, &e), REGISTRY_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.message, "linux/s390x"));
    registry_manifest_clear(&m);
    registry_error_clear(&e);
    registry_ref_clear(&ref);
    registry_client_free(c);
    fake_stop(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry");
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, test_reference_table_normalises_as_docker);
    tcase_add_test(parse, test_reference_errors_say_what_is_wrong);
    tcase_add_test(parse, test_reference_string_and_api_host);
    tcase_add_test(parse, test_www_authenticate_docker_hub_bearer);
    tcase_add_test(parse, test_www_authenticate_several_challenges_and_escapes);
    tcase_add_test(parse, test_www_authenticate_garbage_is_a_clear_error);
    tcase_add_test(parse, test_docker_config_lookup_matches_hosts_as_docker);
    tcase_add_test(parse, test_docker_config_legacy_dockercfg_and_errors);
    tcase_add_test(parse, test_error_body_decoding);
    tcase_add_test(parse, test_sha256_digests);
    tcase_add_test(parse, test_index_selects_the_platform);
    suite_add_tcase(s, parse);
    TCase *http = tcase_create("http");
    tcase_set_timeout(http, 60);
    tcase_add_test(http, test_5xx_is_retried_with_backoff);
    tcase_add_test(http, test_manifest_digest_is_verified);
    tcase_add_test(http, test_blob_download_resumes_after_a_cut);
    tcase_add_test(http, test_unparseable_challenge_is_a_clear_error);
    tcase_add_test(http, test_token_flow_caches_per_scope_and_never_logs_secrets);
    tcase_add_test(http, test_basic_auth_good_bad_and_missing_credentials);
    tcase_add_test(http, test_chunked_upload_follows_locations_and_resumes);
    tcase_add_test(http, test_monolithic_upload_and_mount_fallback);
    tcase_add_test(http, test_tls_is_verified_unless_insecure_and_dead_hosts_fail);
    tcase_add_test(http, test_index_is_resolved_to_the_platform_manifest);
    suite_add_tcase(s, http);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
