/*
 * kube/config_exec: runs a client-go exec credential plugin (ExecCredential of
 * client.authentication.k8s.io/v1 or v1beta1) as kubectl does: the command with its args, our
 * environment plus the configured env plus KUBERNETES_EXEC_INFO, and an ExecCredential JSON
 * read from stdout. stdin is /dev/null because an operator is never interactive.
 *
 * A failure names the plugin, says how it ended, quotes the start of its stderr (with the
 * secrets we know masked) and adds the installHint. stdout is never quoted: it may hold a
 * credential. A plugin that hangs is killed after EXEC_TIMEOUT_SECONDS.
 */
#include "kube/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_TIMEOUT_SECONDS 60.0
#define EXEC_STDOUT_MAX      (1u << 20)
#define EXEC_STDERR_KEPT     (64u << 10)
#define EXEC_STDERR_SHOWN    1024u
#define EXEC_INFO_VAR        "KUBERNETES_EXEC_INFO"
#define CA_MAX_BYTES         (16u << 20)

extern char **environ;

/* ---- KUBERNETES_EXEC_INFO -------------------------------------------------- */

static int add_string(json_object *o, const char *key, const char *value)
{
    if (!value)
        return 0;
    json_object *v = json_object_new_string(value);
    if (!v || json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int add_bool(json_object *o, const char *key, bool value)
{
    json_object *v = json_object_new_boolean(value);
    if (!v || json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static char *base64_encode(const char *data, size_t len)
{
    if (len > (size_t)INT32_MAX / 2)
        return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

/* spec.cluster for provideClusterInfo, with the CA as certificate-authority-data. */
static json_object *cluster_info(const kube_config_t *c, char **err)
{
    char *ca = NULL;
    if (c->ca_data) {
        ca = base64_encode(c->ca_data, c->ca_data_len);
    } else if (c->ca_file) {
        size_t len;
        const char *why;
        char *pem = kube_read_file_limited(c->ca_file, CA_MAX_BYTES, false, &len, &why);
        if (!pem) {
            kube_config_fail(err, "%s: certificate-authority %s for the exec plugin: %s", c->source,
                             c->ca_file, why);
            return NULL;
        }
        ca = base64_encode(pem, len);
        free(pem);
    }
    json_object *cluster = json_object_new_object();
    if (!cluster || ((c->ca_data || c->ca_file) && !ca) ||
        add_string(cluster, "server", c->server) < 0 ||
        add_string(cluster, "tls-server-name", c->tls_server_name) < 0 ||
        (c->insecure_skip_tls_verify && add_bool(cluster, "insecure-skip-tls-verify", true) < 0) ||
        add_string(cluster, "certificate-authority-data", ca) < 0 ||
        add_string(cluster, "proxy-url", c->proxy_url) < 0) {
        json_object_put(cluster);
        free(ca);
        kube_config_fail(err, "%s: out of memory", c->source);
        return NULL;
    }
    free(ca);
    return cluster;
}

/* "KUBERNETES_EXEC_INFO=<ExecCredential with spec only>", as kubectl sets it. */
static char *exec_info_var(const kube_config_t *c, char **err)
{
    json_object *root = json_object_new_object();
    json_object *spec = json_object_new_object();
    if (!root || !spec || add_string(root, "kind", "ExecCredential") < 0 ||
        add_string(root, "apiVersion", c->exec->api_version) < 0 ||
        add_bool(spec, "interactive", false) < 0)
        goto oom;
    if (c->exec->provide_cluster_info) {
        json_object *cluster = cluster_info(c, err);
        if (!cluster) {
            json_object_put(spec);
            json_object_put(root);
            return NULL;
        }
        if (json_object_object_add(spec, "cluster", cluster) != 0) {
            json_object_put(cluster);
            goto oom;
        }
    }
    if (json_object_object_add(root, "spec", spec) != 0)
        goto oom;
    spec = NULL;
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    char *var = text ? util_asprintf(EXEC_INFO_VAR "=%s", text) : NULL;
    json_object_put(root);
    if (!var)
        kube_config_fail(err, "%s: out of memory", c->source);
    return var;
oom:
    json_object_put(spec);
    json_object_put(root);
    kube_config_fail(err, "%s: out of memory", c->source);
    return NULL;
}

/* ---- environment and arguments -------------------------------------------- */

static bool same_name(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");
    return la == lb && memcmp(a, b, la) == 0;
}

/* Our environment minus what the plugin config overrides, then its env, then the exec info.
 * The strings are borrowed; only the array is allocated. */
static char **build_env(const kube_exec_config_t *e, char *info_var)
{
    size_t n_ours = 0, n_theirs = 0;
    for (char **p = environ; p && *p; p++)
        n_ours++;
    for (char **p = e->env; p && *p; p++)
        n_theirs++;
    char **envp = calloc(n_ours + n_theirs + 2, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (char **p = environ; p && *p; p++) {
        bool overridden = same_name(*p, info_var);
        for (char **q = e->env; q && *q && !overridden; q++)
            overridden = same_name(*p, *q);
        if (!overridden)
            envp[k++] = *p;
    }
    for (char **q = e->env; q && *q; q++)
        envp[k++] = *q;
    envp[k] = info_var;
    return envp;
}

static char **build_argv(const kube_exec_config_t *e)
{
    size_t n = 0;
    for (char **p = e->args; p && *p; p++)
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return NULL;
    argv[0] = e->command;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = e->args[i];
    return argv;
}

/* ---- running --------------------------------------------------------------- */

/* The program to run: command itself when it holds a '/', else the first executable of that
 * name in $PATH, as kubectl looks it up. Doing it here (not in posix_spawnp) makes "not
 * installed" a clear error before anything is started. */
static char *find_executable(const char *command, int *error)
{
    struct stat st;
    *error = ENOENT;
    if (strchr(command, '/')) {
        if (access(command, X_OK) < 0) {
            *error = errno;
            return NULL;
        }
        return strdup(command);
    }
    const char *path = getenv("PATH");
    char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (!dirs) {
        *error = ENOMEM;
        return NULL;
    }
    char *found = NULL, *cursor = dirs;
    for (char *dir; !found && (dir = strsep(&cursor, ":"));) {
        char *candidate = util_asprintf("%s/%s", *dir ? dir : ".", command);
        if (!candidate) {
            *error = ENOMEM;
            break;
        }
        if (access(candidate, X_OK) == 0 && stat(candidate, &st) == 0 && S_ISREG(st.st_mode))
            found = candidate;
        else
            free(candidate);
    }
    free(dirs);
    return found;
}

typedef struct exec_result {
    buf_t out;
    buf_t err;
    int status; /* from waitpid */
    bool timed_out;
    bool out_too_large;
} exec_result_t;

/* Reads both pipes until EOF, the deadline or too much stdout. */
static void drain(int out_fd, int err_fd, exec_result_t *r)
{
    struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    double deadline = util_monotonic() + EXEC_TIMEOUT_SECONDS;
    int open_fds = 2;
    while (open_fds > 0 && !r->out_too_large) {
        double left = deadline - util_monotonic();
        if (left <= 0) {
            r->timed_out = true;
            break;
        }
        int n = poll(fds, 2, (int)(left * 1000.0) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char chunk[4096];
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            buf_t *b = i == 0 ? &r->out : &r->err;
            size_t max = i == 0 ? EXEC_STDOUT_MAX : EXEC_STDERR_KEPT;
            size_t room = max - b->len;
            if ((size_t)got > room && i == 0)
                r->out_too_large = true;
            buf_append(b, chunk, (size_t)got < room ? (size_t)got : room);
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    }
}

/* Starts the plugin; returns the posix_spawn error (0 on success). */
static int spawn_plugin(const char *program, char **argv, char **envp, pid_t *pid, int *out_fd,
                        int *err_fd)
{
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0)
        return errno;
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        int saved = errno;
        close(out_pipe[0]);
        close(out_pipe[1]);
        return saved;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0 && (rc = posix_spawnattr_init(&attr)) != 0)
        posix_spawn_file_actions_destroy(&actions);
    if (rc == 0) {
        /* The plugin starts with default signal handling and nothing blocked, whatever our
         * threads have set up. */
        rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        if (rc == 0)
            rc = posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
        if (rc == 0)
            rc = posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
        if (rc == 0)
            rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (rc == 0)
            rc = posix_spawnattr_setsigmask(&attr, &none);
        if (rc == 0)
            rc = posix_spawnattr_setsigdefault(&attr, &all);
        if (rc == 0)
            rc = posix_spawn(pid, program, &actions, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return rc;
    }
    *out_fd = out_pipe[0];
    *err_fd = err_pipe[0];
    return 0;
}

/* ---- errors ---------------------------------------------------------------- */

/* Replaces every occurrence of secret in text by "[redacted]". */
static void redact(buf_t *text, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4 || !text->data || !memmem(text->data, text->len, secret, n))
        return;
    buf_t out = BUF_INIT;
    const char *p = text->data, *end = text->data + text->len;
    for (const char *hit; (hit = memmem(p, (size_t)(end - p), secret, n)); p = hit + n) {
        buf_append(&out, p, (size_t)(hit - p));
        buf_puts(&out, "[redacted]");
    }
    buf_append(&out, p, (size_t)(end - p));
    buf_free(text);
    *text = out;
}

static int exec_fail(kube_config_t *c, const char *how, buf_t *stderr_text, char **err)
{
    const kube_exec_config_t *e = c->exec;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s: user \"%s\": exec plugin %s %s", c->source,
               c->user_name ? c->user_name : "", e->command, how);
    if (stderr_text && stderr_text->len) {
        const char *secrets[] = {
            c->token,           c->password,         c->cached_token,
            c->client_key_data, c->exec_cache.token, c->exec_cache.client_key_pem};
        for (size_t i = 0; i < UTIL_ARRAY_LEN(secrets); i++)
            redact(stderr_text, secrets[i]);
        size_t len = strnlen(stderr_text->data, stderr_text->len);
        while (len > 0 && strchr(" \t\r\n", stderr_text->data[len - 1]))
            len--;
        bool cut = len > EXEC_STDERR_SHOWN;
        if (cut) {
            len = EXEC_STDERR_SHOWN;
            while (len > 0 && ((unsigned char)stderr_text->data[len] & 0xC0) == 0x80)
                len--; /* do not split a UTF-8 character */
        }
        if (len)
            buf_printf(&b, "; stderr: %.*s%s", (int)len, stderr_text->data, cut ? "..." : "");
    }
    if (e->install_hint)
        buf_printf(&b, "\n\n%s", e->install_hint);
    *err = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return -1;
}

/* ---- the credential ---------------------------------------------------------- */

static const char *get_string(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return s && *s ? s : NULL;
}

static int parse_credential(kube_config_t *c, const char *text, kube_auth_t *cred, time_t *expiry,
                            char **err)
{
    enum json_tokener_error jerr = json_tokener_success;
    json_object *root = json_tokener_parse_verbose(text, &jerr);
    int rc = -1;
    char how[160];
    json_object *status = NULL;
    if (!root || !json_object_is_type(root, json_type_object)) {
        snprintf(how, sizeof how, "wrote no ExecCredential JSON object to stdout (%s)",
                 root ? "not an object" : json_tokener_error_desc(jerr));
        goto out;
    }
    const char *kind = get_string(root, "kind"), *version = get_string(root, "apiVersion");
    if (!util_streq(kind, "ExecCredential")) {
        snprintf(how, sizeof how, "returned kind \"%.40s\", not ExecCredential", kind ? kind : "");
        goto out;
    }
    if (!util_streq(version, c->exec->api_version)) {
        snprintf(how, sizeof how, "returned apiVersion \"%.60s\", not %s", version ? version : "",
                 c->exec->api_version);
        goto out;
    }
    if (!json_object_object_get_ex(root, "status", &status) ||
        !json_object_is_type(status, json_type_object)) {
        snprintf(how, sizeof how, "returned an ExecCredential without status");
        goto out;
    }
    const char *token = get_string(status, "token");
    const char *cert = get_string(status, "clientCertificateData");
    const char *key = get_string(status, "clientKeyData");
    const char *expiration = get_string(status, "expirationTimestamp");
    if (!token && !cert && !key) {
        snprintf(how, sizeof how, "returned neither status.token nor a client certificate");
        goto out;
    }
    if (!cert != !key) {
        snprintf(how, sizeof how,
                 "returned only one of status.clientCertificateData and status.clientKeyData");
        goto out;
    }
    *expiry = 0;
    if (expiration && util_parse_rfc3339(expiration, expiry) < 0) {
        snprintf(how, sizeof how, "returned status.expirationTimestamp \"%.40s\", not RFC 3339",
                 expiration);
        goto out;
    }
    if ((token && !(cred->token = strdup(token))) ||
        (cert && !(cred->client_cert_pem = strdup(cert))) ||
        (key && !(cred->client_key_pem = strdup(key)))) {
        kube_auth_clear(cred);
        json_object_put(root);
        return kube_config_fail(err, "%s: out of memory", c->source);
    }
    rc = 0;
out:
    json_object_put(root);
    return rc == 0 ? 0 : exec_fail(c, how, NULL, err);
}

int kube_config_exec_run_locked(kube_config_t *c, kube_auth_t *cred, time_t *expiry, char **err)
{
    const kube_exec_config_t *e = c->exec;
    if (util_streq(e->interactive_mode, "Always"))
        return exec_fail(c,
                         "needs a terminal (interactiveMode: Always), which an operator "
                         "does not have",
                         NULL, err);
    int spawn_rc;
    char *program = find_executable(e->command, &spawn_rc);
    if (!program) {
        char how[160];
        snprintf(how, sizeof how, "could not be found: %s", strerror(spawn_rc));
        return exec_fail(c, how, NULL, err);
    }
    char *info = exec_info_var(c, err);
    if (!info) {
        free(program);
        return -1;
    }
    char **envp = build_env(e, info);
    char **argv = build_argv(e);
    pid_t pid = -1;
    int out_fd = -1, err_fd = -1;
    spawn_rc = ENOMEM;
    if (envp && argv)
        spawn_rc = spawn_plugin(program, argv, envp, &pid, &out_fd, &err_fd);
    free(envp);
    free(argv);
    free(info);
    free(program);
    if (spawn_rc != 0) {
        char how[160];
        snprintf(how, sizeof how, "could not be started: %s", strerror(spawn_rc));
        return exec_fail(c, how, NULL, err);
    }

    exec_result_t r = {.out = BUF_INIT, .err = BUF_INIT};
    drain(out_fd, err_fd, &r);
    if (r.timed_out || r.out_too_large)
        kill(pid, SIGKILL);
    while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR)
        ;
    char how[160];
    int rc;
    if (r.timed_out) {
        snprintf(how, sizeof how, "did not finish within %.0f seconds", EXEC_TIMEOUT_SECONDS);
        rc = exec_fail(c, how, &r.err, err);
    } else if (r.out_too_large) {
        snprintf(how, sizeof how, "wrote more than %u bytes to stdout", EXEC_STDOUT_MAX);
        rc = exec_fail(c, how, &r.err, err);
    } else if (WIFSIGNALED(r.status)) {
        snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(r.status));
        rc = exec_fail(c, how, &r.err, err);
    } else if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        snprintf(how, sizeof how, "failed with exit status %d", WEXITSTATUS(r.status));
        rc = exec_fail(c, how, &r.err, err);
    } else if (r.out.oom || r.err.oom) {
        rc = kube_config_fail(err, "%s: out of memory", c->source);
    } else {
        rc = parse_credential(c, buf_str(&r.out), cred, expiry, err);
    }
    if (r.out.data)
        explicit_bzero(r.out.data, r.out.len);
    buf_free(&r.out);
    buf_free(&r.err);
    return rc;
}
