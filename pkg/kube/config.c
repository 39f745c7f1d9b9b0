/*
 * kube/config: where the API server is and who we are to it.
 *
 * Kubeconfig files are read one by one (config_yaml.c) and merged the way kubectl merges
 * them: for clusters, users and contexts the first file that defines a name wins, and the
 * first file that sets current-context wins. Only the chosen context, its cluster and its
 * user are validated, so a broken entry nobody uses does not stop a load. The in-cluster
 * configuration comes from the service-account files; credentials are handed out per
 * request by config_auth.c.
 */
#include "kube/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KUBECONFIG_MAX_BYTES (16u << 20)
#define NAMESPACE_MAX_BYTES  4096u
#define SERVICE_ACCOUNT_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_API_V1          "client.authentication.k8s.io/v1"
#define EXEC_API_V1BETA1     "client.authentication.k8s.io/v1beta1"

/* ---- small shared helpers ------------------------------------------------ */

int kube_config_fail(char **err, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *err = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return -1;
}

void kube_secret_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

char *kube_read_file_limited(const char *path, size_t max, bool regular_only, size_t *len_out,
                             const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (regular_only && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        errno = EINVAL;
        *why = "not a regular file";
        return NULL;
    }
    buf_t b = BUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (size_t)n > max - b.len || buf_append(&b, chunk, (size_t)n) < 0) {
            int saved = n < 0 ? errno : (b.oom ? ENOMEM : EFBIG);
            *why = saved == EFBIG ? "file too large" : strerror(saved);
            close(fd);
            kube_secret_free(b.data);
            errno = saved;
            return NULL;
        }
        if (n == 0)
            break;
    }
    close(fd);
    /* The last append (of 0 bytes at EOF) allocated, so even an empty file gives "". */
    if (len_out)
        *len_out = b.len;
    char *text = buf_steal(&b);
    if (!text) {
        *why = strerror(ENOMEM);
        errno = ENOMEM;
    }
    return text;
}

int kube_check_readable(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    close(fd);
    return 0;
}

static int base64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

int kube_base64_decode(const char *in, char **out, size_t *out_len, size_t *bad_offset)
{
    size_t n = strlen(in);
    char *dst = malloc(n / 4 * 3 + 4);
    if (!dst) {
        *bad_offset = 0;
        return -1;
    }
    unsigned int acc = 0;
    int bits = 0;
    size_t len = 0, chars = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        int v = ch == '=' ? 0 : base64_value(ch);
        if (v < 0 || (ch != '=' && pad) || (ch == '=' && ++pad > 2)) {
            explicit_bzero(dst, len);
            free(dst);
            *bad_offset = i;
            return -1;
        }
        if (ch == '=')
            continue;
        chars++;
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[len++] = (char)((acc >> bits) & 0xff);
            acc &= (1u << bits) - 1;
        }
    }
    /* One leftover character carries 6 bits, less than a byte; padding must fill a quad. */
    if (chars % 4 == 1 || (pad && (chars + pad) % 4 != 0)) {
        explicit_bzero(dst, len);
        free(dst);
        *bad_offset = n;
        return -1;
    }
    dst[len] = '\0';
    *out = dst;
    *out_len = len;
    return 0;
}

kube_config_t *kube_config_new(void)
{
    kube_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void free_string_list(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        kube_secret_free(*p);
    free(list);
}

void kube_exec_config_free(kube_exec_config_t *e)
{
    if (!e)
        return;
    free(e->command);
    free_string_list(e->args);
    free_string_list(e->env);
    free(e->api_version);
    free(e->install_hint);
    free(e->interactive_mode);
    free(e);
}

void kube_config_free(kube_config_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->server);
    free(c->ca_file);
    free(c->ca_data);
    free(c->tls_server_name);
    free(c->proxy_url);
    kube_secret_free(c->token);
    free(c->token_file);
    free(c->client_cert_file);
    free(c->client_key_file);
    free(c->client_cert_data);
    kube_secret_free(c->client_key_data);
    free(c->username);
    kube_secret_free(c->password);
    kube_exec_config_free(c->exec);
    free(c->namespace);
    free(c->source);
    free(c->context_name);
    free(c->cluster_name);
    free(c->user_name);
    kube_secret_free(c->cached_token);
    kube_auth_clear(&c->exec_cache);
    free(c);
}

/* ---- merging and validation ---------------------------------------------- */

typedef enum { KIND_CLUSTER, KIND_USER, KIND_CONTEXT } entry_kind_t;

/* The first file (in merge order) that defines name wins. */
static void *find_entry(kube_config_file_t *files, size_t n_files, entry_kind_t kind,
                        const char *name, kube_config_file_t **file_out)
{
    for (size_t f = 0; f < n_files; f++) {
        kube_config_file_t *file = &files[f];
        char *items = kind == KIND_CLUSTER ? (char *)file->clusters
                      : kind == KIND_USER  ? (char *)file->users
                                           : (char *)file->contexts;
        size_t n = kind == KIND_CLUSTER ? file->n_clusters
                   : kind == KIND_USER  ? file->n_users
                                        : file->n_contexts;
        size_t size = kind == KIND_CLUSTER ? sizeof(kube_config_cluster_t)
                      : kind == KIND_USER  ? sizeof(kube_config_user_t)
                                           : sizeof(kube_config_context_t);
        for (size_t i = 0; i < n; i++) {
            kube_config_entry_t *e = (kube_config_entry_t *)(items + i * size);
            if (strcmp(e->name, name) == 0) {
                *file_out = file;
                return e;
            }
        }
    }
    return NULL;
}

/* "kubeconfig <file>: line N: <kind> "<name>": <message>" */
static int fail_entry(char **err, const kube_config_file_t *file, int line, const char *kind,
                      const char *name, const char *fmt, ...) UTIL_PRINTF(6, 7);
static int fail_entry(char **err, const kube_config_file_t *file, int line, const char *kind,
                      const char *name, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "kubeconfig %s: line %d: %s \"%s\": ", file->path, line, kind, name);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *err = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return -1;
}

static char *take(kube_config_field_t *field)
{
    char *v = field->value;
    field->value = NULL;
    return v;
}

/* kubectl resolves relative paths against the directory of the file that holds them. */
static char *resolve_path(const kube_config_file_t *file, const char *path)
{
    if (path[0] == '/' || !file->dir)
        return strdup(path);
    bool slash = util_has_suffix(file->dir, "/");
    return util_asprintf("%s%s%s", file->dir, slash ? "" : "/", path);
}

/* Resolves a path field and checks that the file can be read, as kubectl's validation does. */
static int resolve_file_field(const kube_config_file_t *file, const kube_config_entry_t *entry,
                              const char *kind, const char *key, const kube_config_field_t *field,
                              char **out, char **err)
{
    *out = resolve_path(file, field->value);
    if (!*out)
        return kube_config_fail(err, "out of memory");
    const char *why;
    if (kube_check_readable(*out, &why) < 0)
        return fail_entry(err, file, field->line, kind, entry->name, "%s %s: %s", key, *out, why);
    return 0;
}

static int decode_field(const kube_config_file_t *file, const kube_config_entry_t *entry,
                        const char *kind, const char *key, const kube_config_field_t *field,
                        char **out, size_t *out_len, char **err)
{
    size_t len, bad;
    if (kube_base64_decode(field->value, out, out_len ? out_len : &len, &bad) < 0)
        return fail_entry(err, file, field->line, kind, entry->name,
                          "%s: invalid base64 at offset %zu", key, bad);
    return 0;
}

static int fill_cluster(kube_config_t *c, const kube_config_file_t *file, kube_config_cluster_t *cl,
                        char **err)
{
    const char *name = cl->entry.name;
    if (!cl->server.value)
        return fail_entry(err, file, cl->entry.line, "cluster", name, "server is not set");
    if (cl->ca_data.value) {
        if (decode_field(file, &cl->entry, "cluster", "certificate-authority-data", &cl->ca_data,
                         &c->ca_data, &c->ca_data_len, err) < 0)
            return -1;
    } else if (cl->ca_file.value) {
        if (resolve_file_field(file, &cl->entry, "cluster", "certificate-authority", &cl->ca_file,
                               &c->ca_file, err) < 0)
            return -1;
    }
    if (cl->insecure_skip_tls_verify && (c->ca_data || c->ca_file))
        return fail_entry(err, file, cl->entry.line, "cluster", name,
                          "insecure-skip-tls-verify cannot be combined with a "
                          "certificate-authority: choose one");
    c->insecure_skip_tls_verify = cl->insecure_skip_tls_verify;
    c->server = take(&cl->server);
    c->tls_server_name = take(&cl->tls_server_name);
    c->proxy_url = take(&cl->proxy_url);
    return 0;
}

static int check_exec(const kube_config_file_t *file, const kube_config_user_t *u,
                      kube_exec_config_t *e, char **err)
{
    const char *name = u->entry.name;
    if (!e->command)
        return fail_entry(err, file, u->exec_line, "user", name, "exec.command is not set");
    if (!e->api_version)
        return fail_entry(err, file, u->exec_line, "user", name,
                          "exec.apiVersion is not set (use " EXEC_API_V1 ")");
    if (!util_streq(e->api_version, EXEC_API_V1) && !util_streq(e->api_version, EXEC_API_V1BETA1))
        return fail_entry(err, file, u->exec_line, "user", name,
                          "exec.apiVersion \"%s\" is not supported (use " EXEC_API_V1
                          " or " EXEC_API_V1BETA1 ")",
                          e->api_version);
    if (!e->interactive_mode && util_streq(e->api_version, EXEC_API_V1))
        return fail_entry(err, file, u->exec_line, "user", name,
                          "exec.interactiveMode must be set for " EXEC_API_V1);
    if (e->interactive_mode && !util_streq(e->interactive_mode, "Never") &&
        !util_streq(e->interactive_mode, "IfAvailable") &&
        !util_streq(e->interactive_mode, "Always"))
        return fail_entry(err, file, u->exec_line, "user", name,
                          "exec.interactiveMode \"%s\" is not one of Never, IfAvailable, Always",
                          e->interactive_mode);
    /* A command with a '/' is a path (relative to the kubeconfig); without, it is looked up
     * in $PATH when run. */
    if (strchr(e->command, '/') && e->command[0] != '/') {
        char *resolved = resolve_path(file, e->command);
        if (!resolved)
            return kube_config_fail(err, "out of memory");
        free(e->command);
        e->command = resolved;
    }
    return 0;
}

static int fill_user(kube_config_t *c, const kube_config_file_t *file, kube_config_user_t *u,
                     char **err)
{
    const char *name = u->entry.name;
    int line = u->entry.line;
    if (u->auth_provider.value)
        return fail_entry(err, file, u->auth_provider.line, "user", name,
                          "auth-provider \"%s\" is not supported; use an exec credential plugin",
                          u->auth_provider.value);
    if (u->impersonate.value)
        return fail_entry(err, file, u->impersonate.line, "user", name,
                          "%s: impersonation is not supported", u->impersonate.value);
    bool has_token = u->token.value || u->token_file.value;
    bool has_basic = u->username.value || u->password.value;
    if (has_token && has_basic)
        return fail_entry(err, file, line, "user", name,
                          "more than one authentication method (token and username/password); "
                          "only one is allowed");
    if (u->client_cert_file.value && u->client_cert_data.value)
        return fail_entry(err, file, line, "user", name,
                          "client-certificate and client-certificate-data are both set");
    if (u->client_key_file.value && u->client_key_data.value)
        return fail_entry(err, file, line, "user", name,
                          "client-key and client-key-data are both set");
    bool has_cert = u->client_cert_file.value || u->client_cert_data.value;
    bool has_key = u->client_key_file.value || u->client_key_data.value;
    if (has_cert && !has_key)
        return fail_entry(err, file, line, "user", name,
                          "client-key or client-key-data must be set with a client certificate");
    if ((u->client_cert_data.value &&
         decode_field(file, &u->entry, "user", "client-certificate-data", &u->client_cert_data,
                      &c->client_cert_data, NULL, err) < 0) ||
        (u->client_key_data.value &&
         decode_field(file, &u->entry, "user", "client-key-data", &u->client_key_data,
                      &c->client_key_data, NULL, err) < 0) ||
        (u->client_cert_file.value &&
         resolve_file_field(file, &u->entry, "user", "client-certificate", &u->client_cert_file,
                            &c->client_cert_file, err) < 0) ||
        (u->client_key_file.value &&
         resolve_file_field(file, &u->entry, "user", "client-key", &u->client_key_file,
                            &c->client_key_file, err) < 0))
        return -1;
    c->token = take(&u->token);
    c->username = take(&u->username);
    c->password = take(&u->password);
    if (u->token_file.value) {
        if (!(c->token_file = resolve_path(file, u->token_file.value)))
            return kube_config_fail(err, "out of memory");
        char *why = NULL;
        if (kube_config_token_file_refresh_locked(c, &why) < 0) {
            fail_entry(err, file, u->token_file.line, "user", name, "tokenFile %s: %s",
                       c->token_file, why ? why : "out of memory");
            free(why);
            return -1;
        }
    }
    if (u->exec) {
        if (check_exec(file, u, u->exec, err) < 0)
            return -1;
        c->exec = u->exec;
        u->exec = NULL;
    }
    return 0;
}

/* "https://host:6443/" -> "https://host:6443"; a server without a scheme gets https when any
 * TLS setting is present and http otherwise, as client-go defaults it. */
static int normalize_server(kube_config_t *c, const kube_config_file_t *file, int line, char **err)
{
    size_t len = strlen(c->server);
    while (len > 0 && c->server[len - 1] == '/')
        c->server[--len] = '\0';
    if (len == 0)
        return fail_entry(err, file, line, "cluster", c->cluster_name, "server is not a URL");
    if (strstr(c->server, "://"))
        return 0;
    bool tls = c->ca_file || c->ca_data || c->insecure_skip_tls_verify || c->client_cert_file ||
               c->client_cert_data;
    char *with_scheme = util_asprintf("%s://%s", tls ? "https" : "http", c->server);
    if (!with_scheme)
        return kube_config_fail(err, "out of memory");
    free(c->server);
    c->server = with_scheme;
    return 0;
}

static int build_config(kube_config_file_t *files, size_t n_files, const char *label,
                        const char *context, kube_config_t **out, char **err)
{
    const char *ctx_name = context && *context ? context : NULL;
    for (size_t i = 0; i < n_files && !ctx_name; i++)
        ctx_name = files[i].current_context.value;
    if (!ctx_name)
        return kube_config_fail(err,
                                "kubeconfig %s: current-context is not set and no context "
                                "was given",
                                label);
    kube_config_file_t *ctx_file = NULL, *cluster_file = NULL, *user_file = NULL;
    kube_config_context_t *ctx = find_entry(files, n_files, KIND_CONTEXT, ctx_name, &ctx_file);
    if (!ctx)
        return kube_config_fail(err, "kubeconfig %s: context \"%s\" not found", label, ctx_name);
    if (!ctx->cluster.value)
        return fail_entry(err, ctx_file, ctx->entry.line, "context", ctx_name,
                          "cluster is not set");
    kube_config_cluster_t *cluster =
        find_entry(files, n_files, KIND_CLUSTER, ctx->cluster.value, &cluster_file);
    if (!cluster)
        return fail_entry(err, ctx_file, ctx->cluster.line, "context", ctx_name,
                          "cluster \"%s\" not found in %s", ctx->cluster.value, label);
    /* A context without a user is anonymous, which kubectl allows. */
    kube_config_user_t *user = NULL;
    if (ctx->user.value &&
        !(user = find_entry(files, n_files, KIND_USER, ctx->user.value, &user_file)))
        return fail_entry(err, ctx_file, ctx->user.line, "context", ctx_name,
                          "user \"%s\" not found in %s", ctx->user.value, label);

    kube_config_t *c = kube_config_new();
    if (!c)
        return kube_config_fail(err, "out of memory");
    c->context_name = strdup(ctx_name);
    c->cluster_name = strdup(cluster->entry.name);
    c->user_name = user ? strdup(user->entry.name) : NULL;
    c->source = util_asprintf("kubeconfig %s", ctx_file->path);
    if (!c->context_name || !c->cluster_name || (user && !c->user_name) || !c->source) {
        kube_config_free(c);
        return kube_config_fail(err, "out of memory");
    }
    if (fill_cluster(c, cluster_file, cluster, err) < 0 ||
        (user && fill_user(c, user_file, user, err) < 0) ||
        normalize_server(c, cluster_file, cluster->entry.line, err) < 0) {
        kube_config_free(c);
        return -1;
    }
    c->namespace = take(&ctx->namespace);
    *out = c;
    return 0;
}

/* The absolute directory of path, for resolving the relative paths inside it. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir || dir[0] == '/')
        return dir;
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return dir; /* a relative anchor still works while the cwd stays */
    char *abs = util_streq(dir, ".") ? strdup(cwd) : util_asprintf("%s/%s", cwd, dir);
    free(cwd);
    free(dir);
    return abs;
}

int kube_config_parse(const char *yaml, size_t len, const char *path_for_messages,
                      const char *context, kube_config_t **out, char **err)
{
    *out = NULL;
    *err = NULL;
    kube_config_file_t file = {0};
    file.path = strdup(path_for_messages ? path_for_messages : "<memory>");
    if (path_for_messages)
        file.dir = dir_of(path_for_messages);
    int rc;
    if (!file.path || (path_for_messages && !file.dir))
        rc = kube_config_fail(err, "out of memory");
    else if ((rc = kube_config_file_parse(&file, yaml, len, err)) == 0)
        rc = build_config(&file, 1, file.path, context, out, err);
    kube_config_file_clear(&file);
    return rc;
}

int kube_config_load_file(const char *paths, const char *context, kube_config_t **out, char **err)
{
    *out = NULL;
    *err = NULL;
    if (!paths || !*paths)
        return kube_config_fail(err, "kubeconfig: no path given");
    size_t max_files = 1;
    for (const char *p = paths; *p; p++)
        max_files += *p == ':';
    char *list = strdup(paths);
    kube_config_file_t *files = calloc(max_files, sizeof *files);
    if (!list || !files) {
        free(list);
        free(files);
        return kube_config_fail(err, "out of memory");
    }
    size_t n_files = 0, n_paths = 0;
    int rc = 0;
    char *cursor = list;
    for (char *path; rc == 0 && (path = strsep(&cursor, ":"));) {
        if (!*path)
            continue;
        n_paths++;
        size_t len;
        const char *why;
        char *text = kube_read_file_limited(path, KUBECONFIG_MAX_BYTES, false, &len, &why);
        if (!text) {
            /* kubectl skips files of $KUBECONFIG that do not exist. */
            if (errno != ENOENT || max_files == 1)
                rc = kube_config_fail(err, "kubeconfig %s: cannot read: %s", path, why);
            continue;
        }
        kube_config_file_t *f = &files[n_files++];
        f->path = strdup(path);
        f->dir = dir_of(path);
        if (!f->path || !f->dir)
            rc = kube_config_fail(err, "out of memory");
        else
            rc = kube_config_file_parse(f, text, len, err);
        kube_secret_free(text);
    }
    if (rc == 0 && n_files == 0)
        rc = kube_config_fail(err, "kubeconfig %s: %s", paths,
                              n_paths ? "none of the files exist" : "no path given");
    if (rc == 0)
        rc = build_config(files, n_files, paths, context, out, err);
    for (size_t i = 0; i < n_files; i++)
        kube_config_file_clear(&files[i]);
    free(files);
    free(list);
    return rc;
}

/* ---- in-cluster ------------------------------------------------------------ */

static char *read_namespace(const char *root)
{
    const char *env = getenv("POD_NAMESPACE");
    if (env && *env)
        return strdup(env);
    char *path = util_asprintf("%s/namespace", root);
    if (!path)
        return NULL;
    const char *why;
    char *ns = kube_read_file_limited(path, NAMESPACE_MAX_BYTES, true, NULL, &why);
    free(path);
    if (!ns)
        return NULL;
    size_t start = strspn(ns, " \t\r\n"), end = strlen(ns);
    while (end > start && strchr(" \t\r\n", ns[end - 1]))
        end--;
    memmove(ns, ns + start, end - start);
    ns[end - start] = '\0';
    if (!*ns) {
        free(ns);
        return NULL;
    }
    return ns;
}

int kube_config_in_cluster(const char *root, kube_config_t **out, char **err)
{
    *out = NULL;
    *err = NULL;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return kube_config_fail(err, "in-cluster: KUBERNETES_SERVICE_HOST and "
                                     "KUBERNETES_SERVICE_PORT must be set (not running in a pod?)");
    if (!root)
        root = SERVICE_ACCOUNT_ROOT;
    kube_config_t *c = kube_config_new();
    if (!c)
        return kube_config_fail(err, "out of memory");
    bool ipv6 = strchr(host, ':') && host[0] != '[';
    c->server = util_asprintf(ipv6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->token_file = util_asprintf("%s/token", root);
    char *ca_file = util_asprintf("%s/ca.crt", root);
    c->source = strdup("in-cluster");
    c->in_cluster = true;
    if (!c->server || !c->token_file || !ca_file || !c->source) {
        free(ca_file);
        kube_config_free(c);
        return kube_config_fail(err, "out of memory");
    }
    char *why = NULL;
    if (kube_config_token_file_refresh_locked(c, &why) < 0) {
        kube_config_fail(err, "in-cluster: token file %s: %s", c->token_file,
                         why ? why : "out of memory");
        free(why);
        free(ca_file);
        kube_config_free(c);
        return -1;
    }
    /* As client-go: an unreadable CA is reported, and the system trust store is used. */
    const char *ca_why;
    if (kube_check_readable(ca_file, &ca_why) < 0) {
        log_warn("in-cluster CA file is unreadable; using the system trust store", "file", ca_file,
                 "error", ca_why, (char *)NULL);
        free(ca_file);
    } else {
        c->ca_file = ca_file;
    }
    c->namespace = read_namespace(root);
    *out = c;
    return 0;
}

/* ---- the default chain ----------------------------------------------------- */

static char *home_kubeconfig(void)
{
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd pw, *result = NULL;
        char scratch[4096];
        if (getpwuid_r(getuid(), &pw, scratch, sizeof scratch, &result) != 0 || !result)
            return NULL;
        home = result->pw_dir;
    }
    return util_asprintf("%s/.kube/config", home);
}

int kube_config_load_default_at(const char *explicit_path, const char *context,
                                const char *in_cluster_root, kube_config_t **out, char **err)
{
    *out = NULL;
    *err = NULL;
    if (explicit_path && *explicit_path)
        return kube_config_load_file(explicit_path, context, out, err);
    const char *env = getenv("KUBECONFIG");
    if (env && *env)
        return kube_config_load_file(env, context, out, err);

    char *in_cluster_err = NULL;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host && *host) {
        if (kube_config_in_cluster(in_cluster_root, out, &in_cluster_err) == 0)
            return 0;
    }
    char *home = home_kubeconfig();
    struct stat st;
    if (home && stat(home, &st) == 0) {
        if (in_cluster_err)
            log_v(1, "in-cluster configuration failed; using the home kubeconfig", "error",
                  in_cluster_err, "kubeconfig", home, (char *)NULL);
        free(in_cluster_err);
        int rc = kube_config_load_file(home, context, out, err);
        free(home);
        return rc;
    }
    if (in_cluster_err) {
        *err = in_cluster_err;
    } else {
        kube_config_fail(err,
                         "no Kubernetes configuration found: no --kubeconfig, $KUBECONFIG is "
                         "unset, KUBERNETES_SERVICE_HOST is unset and %s does not exist",
                         home ? home : "~/.kube/config");
    }
    free(home);
    return -1;
}

int kube_config_load_default(const char *explicit_path, const char *context, kube_config_t **out,
                             char **err)
{
    return kube_config_load_default_at(explicit_path, context, NULL, out, err);
}
