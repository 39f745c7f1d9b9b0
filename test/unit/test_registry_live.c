/*
 * Integration tests of pkg/registry against real registries: Debian's docker-registry
 * (distribution 2.8) started on loopback by hack/registry.sh, three of them:
 *   plain  HTTP, no authentication
 *   basic  HTTPS (self-signed, its certificate given as CA) with htpasswd Basic auth
 *   token  HTTP with bearer token auth; the token server is a process of this test that
 *          signs RS256 JWTs with the key hack/registry.sh generated (x5c header)
 * and skopeo as an independent client to check what we pushed. Run from the repo root.
 * The registries are started once in main (before Check forks the tests) and stopped at
 * the end.
 */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "registry/registry.h"
#include "util/util.h"

#define BASIC_USER "s2i"
#define BASIC_PASS "b4sic-Pass"
#define TOKEN_USER "tokuser"
#define TOKEN_PASS "t0ken-Pass"

static char scratch[] = "/tmp/test_registry_live_XXXXXX";
static char plain_addr[64], basic_addr[64], token_addr[64];
static char basic_ca[4096], token_dir[4096];

/* ---- helpers ------------------------------------------------------------------------------ */

/* Runs a shell command, returns its stdout (trailing newline removed) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    buf_t out = BUF_INIT;
    buf_puts(&out, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        buf_append(&out, chunk, n);
    int st = pclose(p);
    if (status)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    while (out.len && out.data[out.len - 1] == '\n')
        out.data[--out.len] = '\0';
    return buf_steal(&out);
}

static registry_client_t *client(void)
{
    registry_client_options_t o;
    registry_client_options_default(&o);
    o.chunk_size = 64 * 1024;
    o.retry_initial = 0.05;
    o.max_retries = 2;
    registry_client_t *c = registry_client_new(&o);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(registry_client_set_insecure(c, plain_addr, true), 0);
    ck_assert_int_eq(registry_client_set_insecure(c, token_addr, true), 0);
    ck_assert_int_eq(registry_client_set_ca_file(c, basic_addr, basic_ca), 0);
    return c;
}

static registry_ref_t ref(const char *addr, const char *rest)
{
    char *s = util_asprintf("%s/%s", addr, rest);
    registry_ref_t r = REGISTRY_REF_INIT;
    char *err = NULL;
    ck_assert_msg(registry_ref_parse(s, &r, &err) == 0, "%s: %s", s, err);
    free(s);
    return r;
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
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

static int mem_rewind(void *data)
{
    ((mem_source_t *)data)->off = 0;
    return 0;
}

static int collect(void *data, const char *buf, size_t len)
{
    return buf_append(data, buf, len);
}

/* A layer: a tar with one file of n pseudo-random (incompressible) bytes, and its gzip. */
typedef struct layer {
    buf_t gz;
    char digest[REGISTRY_DIGEST_LEN];
    char diff_id[REGISTRY_DIGEST_LEN];
} layer_t;

static void make_layer(layer_t *l, const char *name, size_t n, unsigned seed)
{
    size_t cap = n + (1u << 20), used = 0;
    char *tar = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    ck_assert_int_eq(archive_write_open_memory(a, tar, cap, &used), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_mtime(e, 1700000000, 0);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (char)(seed >> 16);
    }
    archive_write_data(a, data, n);
    free(data);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    registry_digest_of(tar, used, l->diff_id);
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    buf_init(&l->gz);
    buf_reserve(&l->gz, deflateBound(&z, used) + 64);
    z.next_in = (Bytef *)tar;
    z.avail_in = (uInt)used;
    z.next_out = (Bytef *)l->gz.data;
    z.avail_out = (uInt)l->gz.cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    l->gz.len = z.total_out;
    deflateEnd(&z);
    free(tar);
    registry_digest_of(l->gz.data, l->gz.len, l->digest);
}

typedef struct image {
    layer_t layers[2];
    char *config;
    char config_digest[REGISTRY_DIGEST_LEN];
    char *manifest;
    char manifest_digest[REGISTRY_DIGEST_LEN];
} image_t;

static void make_image(image_t *img, const char *label, const char *manifest_type)
{
    make_layer(&img->layers[0], "app/big.bin", 300 * 1024, 1);
    make_layer(&img->layers[1], "app/small.txt", 2000, 2);
    bool docker = strcmp(manifest_type, REGISTRY_MEDIA_DOCKER_MANIFEST) == 0;
    img->config = util_asprintf(
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/usr/libexec/"
        "s2i/run\"],\"Labels\":{\"io.openshift.s2i.build.source-location\":\"%s\"},"
        "\"WorkingDir\":\"/app\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]},"
        "\"history\":[{\"created_by\":\"base\"},{\"created_by\":\"s2i assemble\"}]}",
        label, img->layers[0].diff_id, img->layers[1].diff_id);
    registry_digest_of(img->config, strlen(img->config), img->config_digest);
    const char *layer_type = docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                    : "application/vnd.oci.image.layer.v1.tar+gzip";
    img->manifest = util_asprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
        "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
        "\"size\":%zu},{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
        manifest_type,
        docker ? "application/vnd.docker.container.image.v1+json"
               : "application/vnd.oci.image.config.v1+json",
        img->config_digest, strlen(img->config), layer_type, img->layers[0].digest,
        img->layers[0].gz.len, layer_type, img->layers[1].digest, img->layers[1].gz.len);
    registry_digest_of(img->manifest, strlen(img->manifest), img->manifest_digest);
}

static void free_image(image_t *img)
{
    buf_free(&img->layers[0].gz);
    buf_free(&img->layers[1].gz);
    free(img->config);
    free(img->manifest);
}

/* Pushes img to repo:tag: the big layer in chunks, the rest monolithic. */
static registry_err_t push_image(registry_client_t *c, const registry_ref_t *target,
                                 const image_t *img, const char *manifest_type, registry_error_t *e)
{
    mem_source_t m0 = {img->layers[0].gz.data, img->layers[0].gz.len, 0};
    registry_blob_source_t s0 = {.read = mem_read, .data = &m0, .size = -1};
    char got[REGISTRY_DIGEST_LEN];
    registry_err_t rc = registry_blob_upload_chunked(c, target, &s0, img->layers[0].digest, got, e);
    if (rc != REGISTRY_OK)
        return rc;
    ck_assert_str_eq(got, img->layers[0].digest);
    mem_source_t m1 = {img->layers[1].gz.data, img->layers[1].gz.len, 0};
    registry_blob_source_t s1 = {.read = mem_read,
                                 .rewind = mem_rewind,
                                 .data = &m1,
                                 .size = (int64_t)img->layers[1].gz.len};
    rc = registry_blob_upload(c, target, img->layers[1].digest, &s1, e);
    if (rc != REGISTRY_OK)
        return rc;
    mem_source_t mc = {img->config, strlen(img->config), 0};
    registry_blob_source_t sc = {
        .read = mem_read, .rewind = mem_rewind, .data = &mc, .size = (int64_t)strlen(img->config)};
    rc = registry_blob_upload(c, target, img->config_digest, &sc, e);
    if (rc != REGISTRY_OK)
        return rc;
    char digest[REGISTRY_DIGEST_LEN];
    rc = registry_manifest_put(c, target, manifest_type, img->manifest, strlen(img->manifest),
                               digest, e);
    if (rc == REGISTRY_OK)
        ck_assert_str_eq(digest, img->manifest_digest);
    return rc;
}

static json_object *skopeo_json(const char *args, const char *image)
{
    char *cmd = util_asprintf("skopeo inspect --tls-verify=false %s docker://%s 2>&1", args, image);
    int status = -1;
    char *out = run(cmd, &status);
    ck_assert_msg(status == 0, "%s: %s", cmd, out);
    json_object *j = json_tokener_parse(out);
    ck_assert_msg(j != NULL, "%s: not JSON: %s", cmd, out);
    free(cmd);
    free(out);
    return j;
}

static const char *jstr(json_object *o, const char *a, const char *b)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, a, &v))
        return NULL;
    if (b && !json_object_object_get_ex(v, b, &v))
        return NULL;
    return json_object_get_string(v);
}

/* ---- token server -------------------------------------------------------------------------- */

/* A process of its own (forked before the tests), so the tests Check forks see no thread
 * they did not start; requests are counted in shared memory. */
typedef struct token_server {
    int fd;
    int port;
    pid_t pid;
    atomic_int *requests;
} token_server_t;

static volatile sig_atomic_t token_server_stopping;

static void token_server_on_term(int sig)
{
    (void)sig;
    token_server_stopping = 1;
}

static token_server_t token_server;

static char *b64url(const unsigned char *data, size_t len)
{
    char *std = malloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)std, data, (int)len);
    for (int i = 0; i < n; i++) {
        if (std[i] == '+')
            std[i] = '-';
        else if (std[i] == '/')
            std[i] = '_';
    }
    while (n > 0 && std[n - 1] == '=')
        std[--n] = '\0';
    return std;
}

static void url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *o++ = *s == '+' ? ' ' : *s;
        }
    }
    *o = '\0';
}

/* A JWT granting every requested repository scope, as distribution verifies it. */
static char *issue_token(const char *query)
{
    char *key_path = util_asprintf("%s/token.key", token_dir);
    char *crt_path = util_asprintf("%s/token.crt", token_dir);
    FILE *kf = fopen(key_path, "r"), *cf = fopen(crt_path, "r");
    free(key_path);
    free(crt_path);
    if (!kf || !cf) {
        if (kf)
            fclose(kf);
        if (cf)
            fclose(cf);
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    X509 *crt = PEM_read_X509(cf, NULL, NULL, NULL);
    fclose(kf);
    fclose(cf);
    unsigned char *der = NULL;
    int der_len = i2d_X509(crt, &der);
    char *x5c = malloc(4 * ((size_t)(der_len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)x5c, der, der_len);
    OPENSSL_free(der);
    X509_free(crt);
    json_object *access = json_object_new_array();
    char *q = util_strdup(query), *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        if (strncmp(kv, "scope=", 6) != 0)
            continue;
        url_decode(kv + 6);
        char *type = kv + 6, *name = strchr(type, ':'),
             *actions = name ? strrchr(name + 1, ':') : NULL;
        if (!name || !actions)
            continue;
        *name++ = '\0';
        *actions++ = '\0';
        json_object *ra = json_object_new_object();
        json_object_object_add(ra, "type", json_object_new_string(type));
        json_object_object_add(ra, "name", json_object_new_string(name));
        json_object *acts = json_object_new_array();
        char *asave = NULL;
        for (char *act = strtok_r(actions, ",", &asave); act; act = strtok_r(NULL, ",", &asave))
            json_object_array_add(acts, json_object_new_string(act));
        json_object_object_add(ra, "actions", acts);
        json_object_array_add(access, ra);
    }
    free(q);
    long now = (long)time(NULL);
    char *header = util_asprintf("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[\"%s\"]}", x5c);
    char *claims = util_asprintf(
        "{\"iss\":\"s2i-test-issuer\",\"sub\":\"" TOKEN_USER "\",\"aud\":\"s2i-test-registry\","
        "\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld,\"jti\":\"%ld-%d\",\"access\":%s}",
        now + 300, now - 10, now, now, rand(),
        json_object_to_json_string_ext(access,
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(access);
    free(x5c);
    char *h64 = b64url((unsigned char *)header, strlen(header));
    char *c64 = b64url((unsigned char *)claims, strlen(claims));
    char *signing_input = util_asprintf("%s.%s", h64, c64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sig_len = 0;
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(md, NULL, &sig_len, (unsigned char *)signing_input, strlen(signing_input));
    unsigned char *sig = malloc(sig_len);
    EVP_DigestSign(md, sig, &sig_len, (unsigned char *)signing_input, strlen(signing_input));
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    char *s64 = b64url(sig, sig_len);
    char *jwt = util_asprintf("%s.%s", signing_input, s64);
    free(sig);
    free(s64);
    free(signing_input);
    free(h64);
    free(c64);
    free(header);
    free(claims);
    return jwt;
}

static void token_serve(int fd)
{
    buf_t in = BUF_INIT;
    char chunk[4096];
    while (!in.data || !strstr(in.data, "\r\n\r\n")) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0)
            goto out;
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0)
            goto out;
        buf_append(&in, chunk, (size_t)n);
    }
    atomic_fetch_add(token_server.requests, 1);
    char target[4096] = "";
    sscanf(in.data, "GET %4095s", target);
    /* base64("tokuser:t0ken-Pass") */
    bool authorized = strstr(in.data, "Authorization: Basic dG9rdXNlcjp0MGtlbi1QYXNz\r\n") != NULL;
    const char *query = strchr(target, '?') ? strchr(target, '?') + 1 : "";
    char *body = NULL;
    int code = 200;
    if (!authorized) {
        code = 401;
        body = util_strdup("{\"details\":\"incorrect username or password\"}");
    } else {
        char *jwt = issue_token(query);
        body = jwt ? util_asprintf("{\"token\":\"%s\",\"access_token\":\"%s\",\"expires_in\":300}",
                                   jwt, jwt)
                   : util_strdup("{\"details\":\"no signing key\"}");
        code = jwt ? 200 : 500;
        free(jwt);
    }
    char *resp = util_asprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                               "%zu\r\nConnection: close\r\n\r\n%s",
                               code, strlen(body), body);
    if (write(fd, resp, strlen(resp)) < 0)
        perror("token server write");
    free(resp);
    free(body);
out:
    buf_free(&in);
    close(fd);
}

static void token_server_loop(void)
{
    signal(SIGTERM, token_server_on_term);
    while (!token_server_stopping) {
        struct pollfd p = {.fd = token_server.fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(token_server.fd, NULL, NULL);
        if (fd >= 0)
            token_serve(fd);
    }
    close(token_server.fd);
    _exit(0);
}

static void token_server_start(void)
{
    token_server.requests =
        mmap(NULL, sizeof(atomic_int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    token_server.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (bind(token_server.fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(token_server.fd, 16) < 0 ||
        getsockname(token_server.fd, (struct sockaddr *)&a, &alen) < 0) {
        perror("token server");
        exit(1);
    }
    token_server.port = ntohs(a.sin_port);
    fflush(NULL);
    token_server.pid = fork();
    if (token_server.pid == 0)
        token_server_loop();
}

static void token_server_stop(void)
{
    kill(token_server.pid, SIGTERM);
    waitpid(token_server.pid, NULL, 0);
    close(token_server.fd);
    munmap(token_server.requests, sizeof(atomic_int));
}

/* ---- tests ---------------------------------------------------------------------------------- */

START_TEST(test_push_pull_two_layer_image_and_skopeo_agrees)
{
    registry_client_t *c = client();
    image_t img = {0};
    make_image(&img, "https://example.com/app.git", REGISTRY_MEDIA_OCI_MANIFEST);
    registry_ref_t target = ref(plain_addr, "live/app:v1");
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(push_image(c, &target, &img, REGISTRY_MEDIA_OCI_MANIFEST, &e) == REGISTRY_OK,
                  "%s", e.message);
    /* HEAD */
    registry_descriptor_t d = REGISTRY_DESCRIPTOR_INIT;
    ck_assert_int_eq(registry_manifest_head(c, &target, &d, &e), REGISTRY_OK);
    ck_assert_str_eq(d.digest, img.manifest_digest);
    ck_assert_str_eq(d.media_type, REGISTRY_MEDIA_OCI_MANIFEST);
    ck_assert_int_eq(d.size, (int64_t)strlen(img.manifest));
    registry_descriptor_clear(&d);
    /* pull back by tag and by digest */
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    ck_assert_int_eq(registry_manifest_get_image(c, &target, &m, &e), REGISTRY_OK);
    ck_assert_str_eq(m.data, img.manifest);
    ck_assert_str_eq(m.digest, img.manifest_digest);
    registry_ref_t by_digest = ref(plain_addr, "live/app");
    free(by_digest.tag);
    by_digest.tag = NULL;
    by_digest.digest = util_strdup(img.manifest_digest);
    ck_assert_int_eq(registry_manifest_get(c, &by_digest, &m, &e), REGISTRY_OK);
    ck_assert_str_eq(m.media_type, REGISTRY_MEDIA_OCI_MANIFEST);
    registry_manifest_clear(&m);
    registry_ref_clear(&by_digest);
    for (int i = 0; i < 2; i++) {
        int64_t size = 0;
        ck_assert_int_eq(registry_blob_exists(c, &target, img.layers[i].digest, &size, &e),
                         REGISTRY_OK);
        ck_assert_int_eq(size, (int64_t)img.layers[i].gz.len);
        buf_t got = BUF_INIT;
        ck_assert_int_eq(registry_blob_get(c, &target, img.layers[i].digest, collect, &got, &e),
                         REGISTRY_OK);
        ck_assert_uint_eq(got.len, img.layers[i].gz.len);
        ck_assert(memcmp(got.data, img.layers[i].gz.data, got.len) == 0);
        buf_free(&got);
    }
    /* the same blobs under a Docker v2 schema 2 manifest */
    image_t dimg = {0};
    make_image(&dimg, "https://example.com/app.git", REGISTRY_MEDIA_DOCKER_MANIFEST);
    registry_ref_t dtarget = ref(plain_addr, "live/app:v1-docker");
    ck_assert_msg(push_image(c, &dtarget, &dimg, REGISTRY_MEDIA_DOCKER_MANIFEST, &e) == REGISTRY_OK,
                  "%s", e.message);
    ck_assert_int_eq(registry_manifest_head(c, &dtarget, &d, &e), REGISTRY_OK);
    ck_assert_str_eq(d.media_type, REGISTRY_MEDIA_DOCKER_MANIFEST);
    ck_assert_str_eq(d.digest, dimg.manifest_digest);
    registry_descriptor_clear(&d);
    /* skopeo, an independent client, reads what we pushed */
    char *image = util_asprintf("%s/live/app:v1", plain_addr);
    json_object *j = skopeo_json("", image);
    ck_assert_str_eq(jstr(j, "Digest", NULL), img.manifest_digest);
    ck_assert_str_eq(jstr(j, "Labels", "io.openshift.s2i.build.source-location"),
                     "https://example.com/app.git");
    json_object *layers = NULL;
    json_object_object_get_ex(j, "Layers", &layers);
    ck_assert_uint_eq(json_object_array_length(layers), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(layers, 0)),
                     img.layers[0].digest);
    json_object_put(j);
    j = skopeo_json("--config", image);
    json_object *cmd = NULL, *cfg = NULL;
    json_object_object_get_ex(j, "config", &cfg);
    json_object_object_get_ex(cfg, "Cmd", &cmd);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(cmd, 0)),
                     "/usr/libexec/s2i/run");
    ck_assert_str_eq(jstr(cfg, "WorkingDir", NULL), "/app");
    json_object_put(j);
    char *raw_cmd = util_asprintf("skopeo inspect --raw --tls-verify=false docker://%s", image);
    char *raw = run(raw_cmd, NULL);
    ck_assert_str_eq(raw, img.manifest);
    free(raw);
    free(raw_cmd);
    free(image);
    registry_ref_clear(&dtarget);
    free_image(&dimg);
    registry_ref_clear(&target);
    free_image(&img);
    registry_error_clear(&e);
    registry_client_free(c);
}
END_TEST

START_TEST(test_registry_errors_are_typed_with_its_messages)
{
    registry_client_t *c = client();
    registry_error_t e = REGISTRY_ERROR_INIT;
    registry_ref_t missing = ref(plain_addr, "live/nothing:here");
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    ck_assert_int_eq(registry_manifest_get(c, &missing, &m, &e), REGISTRY_ERR_NOT_FOUND);
    ck_assert_int_eq(e.http_code, 404);
    ck_assert_msg(util_streq(e.code, "MANIFEST_UNKNOWN") || util_streq(e.code, "NAME_UNKNOWN"),
                  "%s", e.code);
    image_t img = {0};
    make_image(&img, "x", REGISTRY_MEDIA_OCI_MANIFEST);
    registry_ref_t target = ref(plain_addr, "live/errors:v1");
    /* a manifest whose blobs were never pushed */
    ck_assert_int_eq(registry_manifest_put(c, &target, REGISTRY_MEDIA_OCI_MANIFEST, img.manifest,
                                           strlen(img.manifest), NULL, &e),
                     REGISTRY_ERR_MANIFEST_INVALID);
    ck_assert_str_eq(e.code, "MANIFEST_BLOB_UNKNOWN");
    char line[512];
    ck_assert_ptr_nonnull(strstr(registry_error_str(&e, line, sizeof(line)),
                                 "ManifestInvalid (400) MANIFEST_BLOB_UNKNOWN"));
    /* an upload under the wrong digest */
    mem_source_t ms = {img.config, strlen(img.config), 0};
    registry_blob_source_t src = {
        .read = mem_read, .rewind = mem_rewind, .data = &ms, .size = (int64_t)strlen(img.config)};
    ck_assert_int_eq(registry_blob_upload(c, &target, img.layers[0].digest, &src, &e),
                     REGISTRY_ERR_DIGEST_MISMATCH);
    ck_assert_str_eq(e.code, "DIGEST_INVALID");
    int64_t size;
    ck_assert_int_eq(registry_blob_exists(c, &target, img.layers[0].digest, &size, &e),
                     REGISTRY_ERR_NOT_FOUND);
    /* invalid tag from the registry's point of view is caught before: parse */
    registry_ref_t bad = REGISTRY_REF_INIT;
    char *err = NULL;
    ck_assert_int_eq(registry_ref_parse("127.0.0.1:1/UPPER", &bad, &err), -1);
    free(err);
    free_image(&img);
    registry_ref_clear(&target);
    registry_ref_clear(&missing);
    registry_error_clear(&e);
    registry_client_free(c);
}
END_TEST

START_TEST(test_mount_copy_across_repositories_and_registries)
{
    registry_client_t *c = client();
    ck_assert_int_eq(registry_client_set_credentials(c, basic_addr, BASIC_USER, BASIC_PASS), 0);
    image_t img = {0};
    make_image(&img, "mount", REGISTRY_MEDIA_OCI_MANIFEST);
    registry_ref_t a = ref(plain_addr, "mount/a:v1");
    registry_error_t e = REGISTRY_ERROR_INIT;
    ck_assert_msg(push_image(c, &a, &img, REGISTRY_MEDIA_OCI_MANIFEST, &e) == REGISTRY_OK, "%s",
                  e.message);
    /* 201: mounted */
    registry_ref_t b = ref(plain_addr, "mount/b");
    bool mounted = false;
    ck_assert_int_eq(registry_blob_mount(c, &b, img.layers[0].digest, "mount/a", &mounted, &e),
                     REGISTRY_OK);
    ck_assert(mounted);
    ck_assert_int_eq(registry_blob_exists(c, &b, img.layers[0].digest, NULL, &e), REGISTRY_OK);
    /* 202: the source does not have it; the caller uploads instead */
    layer_t extra;
    make_layer(&extra, "extra", 1000, 9);
    ck_assert_int_eq(registry_blob_mount(c, &b, extra.digest, "mount/a", &mounted, &e),
                     REGISTRY_OK);
    ck_assert(!mounted);
    mem_source_t ms = {extra.gz.data, extra.gz.len, 0};
    registry_blob_source_t src = {
        .read = mem_read, .rewind = mem_rewind, .data = &ms, .size = (int64_t)extra.gz.len};
    ck_assert_int_eq(registry_blob_upload(c, &b, extra.digest, &src, &e), REGISTRY_OK);
    /* copy: same registry mounts; another registry streams; a second time exists */
    registry_ref_t other = ref(plain_addr, "mount/c");
    registry_copy_how_t how;
    ck_assert_int_eq(registry_blob_copy(c, &a, &other, img.layers[1].digest, -1, &how, &e),
                     REGISTRY_OK);
    ck_assert_int_eq(how, REGISTRY_COPY_MOUNTED);
    registry_ref_t remote = ref(basic_addr, "copied/app");
    ck_assert_msg(registry_blob_copy(c, &a, &remote, img.layers[0].digest,
                                     (int64_t)img.layers[0].gz.len, &how, &e) == REGISTRY_OK,
                  "%s", e.message);
    ck_assert_int_eq(how, REGISTRY_COPY_STREAMED);
    buf_t got = BUF_INIT;
    ck_assert_int_eq(registry_blob_get(c, &remote, img.layers[0].digest, collect, &got, &e),
                     REGISTRY_OK);
    ck_assert_uint_eq(got.len, img.layers[0].gz.len);
    ck_assert(memcmp(got.data, img.layers[0].gz.data, got.len) == 0);
    buf_free(&got);
    ck_assert_int_eq(registry_blob_copy(c, &a, &remote, img.layers[0].digest, -1, &how, &e),
                     REGISTRY_OK);
    ck_assert_int_eq(how, REGISTRY_COPY_EXISTED);
    /* a blob the source does not have */
    ck_assert_int_eq(registry_blob_copy(c, &a, &remote, extra.digest, -1, &how, &e),
                     REGISTRY_ERR_NOT_FOUND);
    buf_free(&extra.gz);
    registry_ref_clear(&a);
    registry_ref_clear(&b);
    registry_ref_clear(&other);
    registry_ref_clear(&remote);
    free_image(&img);
    registry_error_clear(&e);
    registry_client_free(c);
}
END_TEST

START_TEST(test_basic_auth_over_tls)
{
    registry_error_t e = REGISTRY_ERROR_INIT;
    registry_client_t *c = client();
    /* no credentials */
    ck_assert_int_eq(registry_ping(c, basic_addr, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(e.message, "no credentials configured"));
    /* bad credentials: the registry's own message */
    ck_assert_int_eq(registry_client_set_credentials(c, basic_addr, BASIC_USER, "wrong"), 0);
    ck_assert_int_eq(registry_ping(c, basic_addr, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_int_eq(e.http_code, 401);
    ck_assert_str_eq(e.code, "UNAUTHORIZED");
    ck_assert_ptr_nonnull(strstr(e.message, "authentication required"));
    registry_client_free(c);
    /* good credentials from a docker config.json */
    c = client();
    char *plain = util_asprintf("%s:%s", BASIC_USER, BASIC_PASS);
    char *cmd = util_asprintf("printf %%s '%s' | base64 -w0", plain);
    char *b64 = run(cmd, NULL);
    char *json = util_asprintf("{\"auths\":{\"https://%s\":{\"auth\":\"%s\"}}}", basic_addr, b64);
    registry_auth_config_t *cfg = NULL;
    ck_assert_int_eq(registry_auth_config_parse(json, strlen(json), &cfg, NULL), 0);
    registry_client_set_auth_config(c, cfg);
    ck_assert_msg(registry_ping(c, basic_addr, &e) == REGISTRY_OK, "%s", e.message);
    image_t img = {0};
    make_image(&img, "basic", REGISTRY_MEDIA_OCI_MANIFEST);
    registry_ref_t target = ref(basic_addr, "secure/app:v1");
    ck_assert_msg(push_image(c, &target, &img, REGISTRY_MEDIA_OCI_MANIFEST, &e) == REGISTRY_OK,
                  "%s", e.message);
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    ck_assert_int_eq(registry_manifest_get_image(c, &target, &m, &e), REGISTRY_OK);
    ck_assert_str_eq(m.digest, img.manifest_digest);
    registry_manifest_clear(&m);
    char *image = util_asprintf("%s/secure/app:v1", basic_addr);
    char *args = util_asprintf("--creds %s:%s", BASIC_USER, BASIC_PASS);
    json_object *j = skopeo_json(args, image);
    ck_assert_str_eq(jstr(j, "Digest", NULL), img.manifest_digest);
    json_object_put(j);
    free(args);
    free(image);
    registry_client_free(c);
    /* TLS is verified: without the CA the self-signed certificate is refused */
    registry_client_options_t o;
    registry_client_options_default(&o);
    o.max_retries = 0;
    c = registry_client_new(&o);
    ck_assert_int_eq(registry_ping(c, basic_addr, &e), REGISTRY_ERR_TRANSPORT);
    ck_assert_msg(strstr(e.message, "certificate"), "%s", e.message);
    /* unless the registry is configured insecure */
    ck_assert_int_eq(registry_client_set_insecure(c, basic_addr, true), 0);
    ck_assert_int_eq(registry_client_set_credentials(c, basic_addr, BASIC_USER, BASIC_PASS), 0);
    ck_assert_int_eq(registry_ping(c, basic_addr, &e), REGISTRY_OK);
    registry_client_free(c);
    free_image(&img);
    registry_ref_clear(&target);
    free(json);
    free(b64);
    free(cmd);
    free(plain);
    registry_error_clear(&e);
}
END_TEST

START_TEST(test_bearer_token_flow)
{
    registry_error_t e = REGISTRY_ERROR_INIT;
    registry_client_t *c = client();
    registry_ref_t target = ref(token_addr, "tok/app:v1");
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    /* no credentials: the token server says no */
    ck_assert_int_eq(registry_manifest_get(c, &target, &m, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(e.message, "incorrect username or password"));
    ck_assert_int_eq(registry_client_set_credentials(c, token_addr, TOKEN_USER, TOKEN_PASS), 0);
    int before = atomic_load(token_server.requests);
    image_t img = {0};
    make_image(&img, "token", REGISTRY_MEDIA_OCI_MANIFEST);
    ck_assert_msg(push_image(c, &target, &img, REGISTRY_MEDIA_OCI_MANIFEST, &e) == REGISTRY_OK,
                  "%s", e.message);
    ck_assert_int_eq(registry_manifest_get_image(c, &target, &m, &e), REGISTRY_OK);
    ck_assert_str_eq(m.digest, img.manifest_digest);
    buf_t got = BUF_INIT;
    ck_assert_int_eq(registry_blob_get(c, &target, img.layers[1].digest, collect, &got, &e),
                     REGISTRY_OK);
    buf_free(&got);
    /* one token for pull,push and one for pull, reused by a dozen requests */
    int used = atomic_load(token_server.requests) - before;
    ck_assert_msg(used == 2, "%d token requests", used);
    /* a mount needs both repositories in the token */
    registry_ref_t other = ref(token_addr, "tok/other");
    bool mounted = false;
    ck_assert_int_eq(registry_blob_mount(c, &other, img.layers[0].digest, "tok/app", &mounted, &e),
                     REGISTRY_OK);
    ck_assert(mounted);
    ck_assert_int_eq(registry_ping(c, token_addr, &e), REGISTRY_OK);
    registry_client_free(c);
    /* wrong password */
    c = client();
    ck_assert_int_eq(registry_client_set_credentials(c, token_addr, TOKEN_USER, "nope"), 0);
    ck_assert_int_eq(registry_ping(c, token_addr, &e), REGISTRY_ERR_UNAUTHORIZED);
    ck_assert_ptr_nonnull(strstr(e.message, "incorrect username or password"));
    ck_assert_ptr_nonnull(strstr(e.message, "with credentials"));
    ck_assert_ptr_null(strstr(e.message, "nope"));
    /* skopeo gets its own tokens from our token server */
    char *image = util_asprintf("%s/tok/app:v1", token_addr);
    json_object *j = skopeo_json("--creds " TOKEN_USER ":" TOKEN_PASS, image);
    ck_assert_str_eq(jstr(j, "Digest", NULL), img.manifest_digest);
    json_object_put(j);
    free(image);
    registry_ref_clear(&other);
    registry_manifest_clear(&m);
    free_image(&img);
    registry_ref_clear(&target);
    registry_error_clear(&e);
    registry_client_free(c);
}
END_TEST

/* ---- main ------------------------------------------------------------------------------------ */

static int start_registry(const char *name, const char *args, char *addr, size_t len)
{
    char *cmd = util_asprintf("hack/registry.sh start %s/%s %s", scratch, name, args);
    int status = -1;
    char *out = run(cmd, &status);
    free(cmd);
    if (status != 0 || !out || !*out) {
        fprintf(stderr, "test_registry_live: starting %s failed: %s\n", name, out ? out : "");
        free(out);
        return -1;
    }
    snprintf(addr, len, "%s", out);
    free(out);
    return 0;
}

static void stop_registries(void)
{
    const char *names[] = {"plain", "basic", "token"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        char *cmd = util_asprintf("hack/registry.sh stop %s/%s", scratch, names[i]);
        free(run(cmd, NULL));
        free(cmd);
    }
}

int main(void)
{
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    snprintf(basic_ca, sizeof(basic_ca), "%s/basic/cert.pem", scratch);
    snprintf(token_dir, sizeof(token_dir), "%s/token", scratch); /* before the fork */
    token_server_start();
    char *token_args = util_asprintf("--token http://127.0.0.1:%d/token", token_server.port);
    int failed = 1;
    if (start_registry("plain", "", plain_addr, sizeof(plain_addr)) == 0 &&
        start_registry("basic", "--tls --auth " BASIC_USER ":" BASIC_PASS, basic_addr,
                       sizeof(basic_addr)) == 0 &&
        start_registry("token", token_args, token_addr, sizeof(token_addr)) == 0) {
        Suite *s = suite_create("registry_live");
        TCase *tc = tcase_create("docker-registry");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_push_pull_two_layer_image_and_skopeo_agrees);
        tcase_add_test(tc, test_registry_errors_are_typed_with_its_messages);
        tcase_add_test(tc, test_mount_copy_across_repositories_and_registries);
        tcase_add_test(tc, test_basic_auth_over_tls);
        tcase_add_test(tc, test_bearer_token_flow);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    stop_registries();
    token_server_stop();
    free(token_args);
    if (!failed) {
        char *cmd = util_asprintf("rm -rf '%s'", scratch);
        free(run(cmd, NULL));
        free(cmd);
    } else {
        fprintf(stderr, "test_registry_live: registry logs kept in %s\n", scratch);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
