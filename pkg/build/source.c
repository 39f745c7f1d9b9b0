/*
 * build/source: step `prepare`, in our own image: the bundle to /s2i/tools, the source to
 * /s2i/source, the commit to /s2i/work/source.json.
 *
 * Credentials never reach an argv, an environment variable, a log line or the
 * termination message: basic-auth (the git Secret's username/password, or ones written
 * into sourceUrl, which are taken out of it) is answered by this program itself as git's
 * GIT_ASKPASS from files in a private directory; an ssh key is copied to a private file
 * named in GIT_SSH_COMMAND. Only the URL without credentials is ever printed.
 */
#include "build/build_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ASKPASS_ENV       "S2I_GIT_ASKPASS_DIR"
#define DOWNLOAD_TIMEOUT  1800L
#define DOWNLOAD_LOW_RATE 1024L
#define DOWNLOAD_LOW_TIME 120L

bool build_revision_is_commit(const char *revision)
{
    size_t n = revision ? strlen(revision) : 0;
    if (!((n >= 7 && n <= 40) || n == 64))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)revision[i]) || isupper((unsigned char)revision[i]))
            return false;
    return true;
}

/* 'path' with ' as '\'' : what sh needs to take path as one word. */
static void put_quoted(buf_t *b, const char *s)
{
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_puts(b, "'\\''");
        else
            buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

char *build_git_ssh_command(const char *key_file, const char *known_hosts)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "ssh -i ");
    put_quoted(&b, key_file);
    buf_puts(&b, " -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=");
    put_quoted(&b, known_hosts);
    buf_puts(&b, " -o StrictHostKeyChecking=accept-new");
    char *out = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return out;
}

int build_askpass(const char *dir, const char *prompt, char **answer)
{
    *answer = NULL;
    const char *file = NULL;
    if (util_has_prefix(prompt, "Username"))
        file = "username";
    else if (util_has_prefix(prompt, "Password"))
        file = "password";
    if (!dir || !file)
        return -1;
    char *path = build_path_join(dir, file);
    char *value = path ? util_read_file(path, NULL) : NULL;
    free(path);
    if (!value)
        return -1;
    value[strcspn(value, "\r\n")] = '\0';
    *answer = value;
    return 0;
}

/* ---- the bundle ------------------------------------------------------------------------ */

static char *self_path(const build_paths_t *paths)
{
    if (paths->self)
        return util_strdup(paths->self);
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return util_strdup(buf);
}

static build_err_t copy_bundle(const build_paths_t *paths, build_error_t *error)
{
    char *bundle = NULL;
    if (paths->bundle) {
        bundle = util_strdup(paths->bundle);
    } else {
        char *self = self_path(paths);
        bundle = self ? util_strdup(dirname(self)) : NULL;
        free(self);
    }
    char *marker = bundle ? build_path_join(bundle, BUILD_BUNDLE_MARKER) : NULL;
    if (!marker) {
        free(bundle);
        return build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
    }
    if (access(marker, R_OK) < 0) {
        build_error_set(error, BUILD_ERR_INTERNAL,
                        "%s is not an s2i-builder bundle (no " BUILD_BUNDLE_MARKER ")", bundle);
    } else {
        char *err = NULL;
        if (build_copy_tree(bundle, paths->tools, NULL, &err) < 0)
            build_error_set(error, BUILD_ERR_INTERNAL, "copying the tools: %s", err);
        free(err);
    }
    free(marker);
    free(bundle);
    return error->err;
}

/* ---- binary sources (B2I) ---------------------------------------------------------------- */

static size_t fwrite_cb(char *data, size_t size, size_t n, void *f)
{
    return fwrite(data, size, n, f) * size;
}

/* The file name of a URL's path ("https://h/a/app.jar?x=1" -> "app.jar"). */
static char *url_basename(const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    size_t n = strcspn(s, "?#");
    const char *slash = memrchr(s, '/', n);
    if (!slash)
        return NULL;
    size_t len = n - (size_t)(slash + 1 - s);
    if (len == 0 || (len == 2 && strncmp(slash + 1, "..", 2) == 0) || (len == 1 && slash[1] == '.'))
        return NULL;
    return util_asprintf("%.*s", (int)len, slash + 1);
}

static build_err_t fetch_binary(const build_paths_t *paths, const build_config_t *cfg,
                                build_source_info_t *info, build_error_t *error)
{
    char *safe = util_url_without_credentials(cfg->source_url);
    char *name = url_basename(cfg->source_url);
    char *path = name ? build_path_join(paths->source, name) : NULL;
    FILE *f = path ? fopen(path, "we") : NULL;
    if (!f) {
        build_error_set(error, BUILD_ERR_SOURCE_FETCH, "%s: %s", safe ? safe : "",
                        name ? strerror(errno) : "the URL names no file");
        goto out;
    }
    log_info("downloading the binary source", "url", safe, "file", path, NULL);
    CURL *curl = curl_easy_init();
    if (!curl) {
        fclose(f);
        build_error_set(error, BUILD_ERR_INTERNAL, "cannot initialise libcurl");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, cfg->source_url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fwrite_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, DOWNLOAD_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, DOWNLOAD_LOW_RATE);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, DOWNLOAD_LOW_TIME);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    long size = ftell(f);
    if (fclose(f) != 0 && rc == CURLE_OK)
        rc = CURLE_WRITE_ERROR;
    if (rc != CURLE_OK) {
        if (status >= 400)
            build_error_set(error, BUILD_ERR_SOURCE_FETCH, "downloading %s: HTTP %ld", safe,
                            status);
        else
            build_error_set(error, BUILD_ERR_SOURCE_FETCH, "downloading %s: %s", safe,
                            curl_easy_strerror(rc));
        goto out;
    }
    info->binary_name = util_strdup(name);
    info->binary_size = size > 0 ? (uint64_t)size : 0;
out:
    free(safe);
    free(name);
    free(path);
    return error->err;
}

/* ---- git ------------------------------------------------------------------------------------ */

typedef struct git {
    const build_paths_t *paths;
    const build_config_t *cfg;
    char *url;     /* without credentials */
    char *private; /* a 0700 directory: HOME, credentials, the ssh key */
    char **env;
} git_t;

static void git_free(git_t *g)
{
    if (g->private)
        build_remove_tree(g->private);
    free(g->private);
    free(g->url);
    build_strv_free(g->env);
}

static int git(git_t *g, char **out, ...)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = "git";
    va_list ap;
    va_start(ap, out);
    for (const char *a; n < UTIL_ARRAY_LEN(argv) - 1 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    build_cmd_t cmd = {.argv = argv, .env = g->env, .cwd = NULL, .capture = out != NULL};
    int rc = build_cmd_run(&cmd, out);
    if (rc < 0)
        log_error("cannot run git", "error", strerror(errno), NULL);
    return rc;
}

/* Writes "<private>/<name>" with mode 0600. */
static int private_file(git_t *g, const char *name, const char *data, size_t len, char **path)
{
    *path = build_path_join(g->private, name);
    return *path && build_write_file(*path, data, len, 0600) == 0 ? 0 : -1;
}

/* Credentials from the URL itself ("https://user:token@host/x.git"): taken out of it and
 * written where the askpass answers from. */
static int url_credentials(git_t *g, const char *raw_url, const char **askpass_dir)
{
    const char *scheme = strstr(raw_url, "://");
    if (!scheme || !util_has_prefix(raw_url, "http"))
        return 0;
    const char *host = scheme + 3;
    size_t authority = strcspn(host, "/?#");
    const char *at = memrchr(host, '@', authority);
    if (!at)
        return 0;
    size_t userinfo = (size_t)(at - host);
    const char *colon = memchr(host, ':', userinfo);
    size_t user_len = colon ? (size_t)(colon - host) : userinfo;
    char *p1 = NULL, *p2 = NULL;
    int rc = private_file(g, "username", host, user_len, &p1);
    if (rc == 0 && colon)
        rc = private_file(g, "password", colon + 1, userinfo - user_len - 1, &p2);
    free(p1);
    free(p2);
    *askpass_dir = g->private;
    return rc;
}

static build_err_t git_setup(git_t *g, build_error_t *error)
{
    const char *tmpdir = getenv("TMPDIR");
    char *t = util_asprintf("%s/s2i-git-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!t || !mkdtemp(t)) {
        free(t);
        return build_error_set(error, BUILD_ERR_INTERNAL, "cannot create a private directory: %s",
                               strerror(errno));
    }
    g->private = t;
    g->url = util_url_without_credentials(g->cfg->source_url);
    if (!g->url)
        return build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
    const char *askpass_dir = NULL;
    char *ssh = NULL;
    const char *secret = build_config_secret(g->cfg, BUILD_SECRET_GIT);
    if (url_credentials(g, g->cfg->source_url, &askpass_dir) < 0)
        return build_error_set(error, BUILD_ERR_INTERNAL, "cannot store the URL's credentials");
    if (secret && !askpass_dir) {
        char *user = build_path_join(secret, "username");
        char *key = build_path_join(secret, "ssh-privatekey");
        if (user && access(user, R_OK) == 0)
            askpass_dir = secret;
        if (key && access(key, R_OK) == 0) {
            /* ssh refuses a key others can read: a private copy. */
            size_t len = 0;
            char *data = util_read_file(key, &len);
            char *copy = NULL, *known = NULL;
            char *secret_known = build_path_join(secret, "known_hosts");
            char *known_data = secret_known ? util_read_file(secret_known, NULL) : NULL;
            if (data && private_file(g, "id", data, len, &copy) == 0 &&
                private_file(g, "known_hosts", known_data ? known_data : "",
                             known_data ? strlen(known_data) : 0, &known) == 0)
                ssh = build_git_ssh_command(copy, known);
            if (data)
                memset(data, 0, len);
            free(data);
            free(known_data);
            free(secret_known);
            free(copy);
            free(known);
            if (!ssh) {
                free(user);
                free(key);
                return build_error_set(error, BUILD_ERR_SOURCE_FETCH,
                                       "cannot use the git Secret's ssh-privatekey");
            }
        }
        free(user);
        free(key);
    }
    char *self = self_path(g->paths);
    char *home = util_asprintf("HOME=%s", g->private);
    char *askpass = util_asprintf("GIT_ASKPASS=%s", self ? self : "");
    char *askdir = util_asprintf(ASKPASS_ENV "=%s", askpass_dir ? askpass_dir : "");
    char *ssh_env = ssh ? util_asprintf("GIT_SSH_COMMAND=%s", ssh) : NULL;
    char *overrides[] = {home, "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C",
                         /* /s2i/source is the pod's directory, not ours: git would refuse
                          * to work in a repository someone else owns. */
                         "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory",
                         "GIT_CONFIG_VALUE_0=*", askpass_dir ? askpass : NULL,
                         askpass_dir ? askdir : NULL, ssh_env, NULL};
    /* Compact the optional entries out of the list. */
    size_t w = 0;
    for (size_t r = 0; r < UTIL_ARRAY_LEN(overrides) - 1; r++)
        if (overrides[r])
            overrides[w++] = overrides[r];
    overrides[w] = NULL;
    const char *unset[] = {"GIT_DIR", "GIT_WORK_TREE", ASKPASS_ENV, "SSH_ASKPASS", NULL};
    if (home && askpass && askdir)
        g->env = build_env_merge(NULL, overrides, unset);
    free(self);
    free(home);
    free(askpass);
    free(askdir);
    free(ssh_env);
    free(ssh);
    if (!g->env)
        return build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
    return BUILD_OK;
}

/* Empties dir (the source emptyDir) for a second attempt. */
static int empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = build_path_join(dir, de->d_name);
        if (!p || build_remove_tree(p) < 0)
            rc = -1;
        free(p);
    }
    closedir(d);
    return rc;
}

static build_err_t git_clone(git_t *g, build_source_info_t *info, build_error_t *error)
{
    const char *dir = g->paths->source;
    const char *rev = g->cfg->revision_id;
    int rc = -1;
    log_info("fetching the source", "url", g->url, "revision", *rev ? rev : "(default branch)",
             NULL);
    /* git gets the URL without credentials: they come from the askpass helper. */
    if (!*rev) {
        rc = git(g, NULL, "clone", "--depth", "1", "--", g->url, dir, NULL);
    } else if (!build_revision_is_commit(rev)) {
        rc = git(g, NULL, "clone", "--depth", "1", "--branch", rev, "--", g->url, dir, NULL);
        if (rc != 0) {
            log_info("a shallow clone of the revision failed: cloning the whole repository",
                     "revision", rev, NULL);
            empty_dir(dir);
        }
    }
    if (rc != 0 && *rev) {
        rc = git(g, NULL, "clone", "--no-checkout", "--", g->url, dir, NULL);
        if (rc == 0)
            rc = git(g, NULL, "-C", dir, "checkout", "--quiet", "--detach", rev, "--", NULL);
        if (rc != 0 && rc != -1)
            return build_error_set(error, BUILD_ERR_SOURCE_FETCH,
                                   "git clone of %s at revision %s failed (exit %d)", g->url, rev,
                                   rc);
    }
    if (rc != 0)
        return build_error_set(error, BUILD_ERR_SOURCE_FETCH, "git clone of %s failed (exit %d)",
                               g->url, rc);
    char *gitmodules = build_path_join(dir, ".gitmodules");
    bool submodules = gitmodules && build_path_exists(gitmodules);
    free(gitmodules);
    if (submodules) {
        rc = git(g, NULL, "-C", dir, "submodule", "update", "--init", "--recursive", NULL);
        if (rc != 0)
            return build_error_set(error, BUILD_ERR_SOURCE_FETCH,
                                   "git submodule update in %s failed (exit %d)", g->url, rc);
    }
    struct {
        const char *format;
        char **slot;
    } facts[] = {
        {"--format=%H", &info->commit_id},        {"--format=%cn", &info->committer_name},
        {"--format=%ce", &info->committer_email}, {"--format=%cI", &info->commit_date},
        {"--format=%s", &info->commit_message},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(facts); i++) {
        if (git(g, facts[i].slot, "-C", dir, "log", "-1", facts[i].format, NULL) != 0)
            return build_error_set(error, BUILD_ERR_SOURCE_FETCH, "cannot read the commit of %s",
                                   g->url);
    }
    log_info("source fetched", "commit", info->commit_id, NULL);
    return BUILD_OK;
}

static build_err_t fetch_git(const build_paths_t *paths, const build_config_t *cfg,
                             build_source_info_t *info, build_error_t *error)
{
    git_t g = {.paths = paths, .cfg = cfg};
    if (git_setup(&g, error) == BUILD_OK)
        git_clone(&g, info, error);
    git_free(&g);
    return error->err;
}

build_err_t build_prepare(const build_paths_t *paths, const build_config_t *cfg,
                          build_error_t *error)
{
    if (copy_bundle(paths, error) != BUILD_OK)
        return error->err;
    build_source_info_t info = {0};
    info.source_url = util_url_without_credentials(cfg->source_url);
    info.revision_id = util_strdup(cfg->revision_id);
    info.builder_image = util_strdup(cfg->s2i->builder_image);
    info.description = util_strdup(cfg->s2i->description);
    info.context_dir = util_strdup(cfg->s2i->context_dir);
    if (!*cfg->source_url)
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "sourceUrl: required");
    else if (cfg->s2i->is_binary_url)
        fetch_binary(paths, cfg, &info, error);
    else
        fetch_git(paths, cfg, &info, error);
    if (error->err == BUILD_OK && info.context_dir && *info.context_dir) {
        char *ctx = build_path_join(paths->source, info.context_dir);
        if (!ctx || strstr(info.context_dir, "..") || !build_is_dir(ctx))
            build_error_set(error, BUILD_ERR_SOURCE_FETCH,
                            "contextDir %s is not a directory of the source", info.context_dir);
        free(ctx);
    }
    if (error->err == BUILD_OK) {
        char *path = build_path_join(paths->work, "source.json");
        char *err = NULL;
        if (!path || build_source_info_save(&info, path, &err) < 0)
            build_error_set(error, BUILD_ERR_INTERNAL, "%s", err ? err : "out of memory");
        free(err);
        free(path);
    }
    build_source_info_clear(&info);
    return error->err;
}
