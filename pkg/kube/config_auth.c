/*
 * kube/config_auth: the credentials for one request.
 *
 * A token file is re-read when it changes and at least once a minute: the kubelet rotates a
 * projected service-account token by swapping a symlink (new inode, new mtime), while some
 * filesystems keep coarse mtimes, so client-go's minute is the backstop. An exec plugin's
 * credential is cached until its expirationTimestamp (forever without one, until
 * kube_config_invalidate_auth). Both caches live under c->lock; a plugin therefore runs once
 * even when many threads ask at the same moment.
 */
#include "kube/config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOKEN_MAX_BYTES      (1u << 20)
#define TOKEN_REREAD_SECONDS 60.0

int kube_config_token_file_refresh_locked(kube_config_t *c, char **why)
{
    *why = NULL;
    struct stat st;
    if (stat(c->token_file, &st) < 0) {
        *why = strdup(strerror(errno));
        return -1;
    }
    bool changed = !c->cached_token || c->cached_token_stale ||
                   st.st_mtim.tv_sec != c->cached_token_mtime ||
                   st.st_mtim.tv_nsec != c->cached_token_mtime_nsec ||
                   (unsigned long long)st.st_ino != c->cached_token_ino ||
                   (unsigned long long)st.st_dev != c->cached_token_dev ||
                   (long long)st.st_size != c->cached_token_size;
    if (!changed && util_monotonic() - c->cached_token_read_at < TOKEN_REREAD_SECONDS)
        return 0;
    const char *reason;
    char *token = kube_read_file_limited(c->token_file, TOKEN_MAX_BYTES, true, NULL, &reason);
    if (!token) {
        *why = strdup(reason);
        return -1;
    }
    size_t start = strspn(token, " \t\r\n"), end = strlen(token);
    while (end > start && strchr(" \t\r\n", token[end - 1]))
        end--;
    memmove(token, token + start, end - start);
    explicit_bzero(token + (end - start), strlen(token) - (end - start));
    if (end == start) {
        free(token);
        *why = strdup("the file is empty");
        return -1;
    }
    kube_secret_free(c->cached_token);
    c->cached_token = token;
    c->cached_token_mtime = st.st_mtim.tv_sec;
    c->cached_token_mtime_nsec = st.st_mtim.tv_nsec;
    c->cached_token_ino = (unsigned long long)st.st_ino;
    c->cached_token_dev = (unsigned long long)st.st_dev;
    c->cached_token_size = (long long)st.st_size;
    c->cached_token_read_at = util_monotonic();
    c->cached_token_stale = false;
    return 0;
}

static void copy_into(char **dst, const char *src, bool *oom)
{
    if (src && !(*dst = strdup(src)))
        *oom = true;
}

static int exec_credential_locked(kube_config_t *c, char **err)
{
    bool cached = c->exec_cache.token || c->exec_cache.client_cert_pem;
    if (cached && (c->exec_expiry == 0 || time(NULL) < c->exec_expiry))
        return 0;
    kube_auth_t fresh = {0};
    time_t expiry = 0;
    if (kube_config_exec_run_locked(c, &fresh, &expiry, err) < 0)
        return -1;
    kube_auth_clear(&c->exec_cache);
    c->exec_cache = fresh;
    c->exec_expiry = expiry;
    return 0;
}

static int auth_locked(kube_config_t *c, kube_auth_t *out, char **err)
{
    const char *token = c->token;
    if (c->token_file) {
        char *why = NULL;
        if (kube_config_token_file_refresh_locked(c, &why) < 0) {
            /* As client-go: a rotation hiccup keeps the previous token rather than failing. */
            if (!c->cached_token) {
                kube_config_fail(err, "%s: token file %s: %s", c->source, c->token_file,
                                 why ? why : "out of memory");
                free(why);
                return -1;
            }
            log_warn("re-reading the token file failed; using the previous token", "file",
                     c->token_file, "error", why, (char *)NULL);
            free(why);
        }
        token = c->cached_token;
    }
    const char *cert_pem = c->client_cert_data, *key_pem = c->client_key_data;
    const char *cert_file = c->client_cert_file, *key_file = c->client_key_file;
    if (c->exec) {
        if (exec_credential_locked(c, err) < 0)
            return -1;
        if (c->exec_cache.token)
            token = c->exec_cache.token;
        if (c->exec_cache.client_cert_pem) {
            cert_pem = c->exec_cache.client_cert_pem;
            key_pem = c->exec_cache.client_key_pem;
            cert_file = key_file = NULL;
        }
    }
    bool oom = false;
    copy_into(&out->token, token, &oom);
    copy_into(&out->client_cert_pem, cert_pem, &oom);
    copy_into(&out->client_key_pem, key_pem, &oom);
    copy_into(&out->client_cert_file, cert_file, &oom);
    copy_into(&out->client_key_file, key_file, &oom);
    copy_into(&out->username, c->username, &oom);
    copy_into(&out->password, c->password, &oom);
    if (oom)
        return kube_config_fail(err, "%s: out of memory", c->source);
    return 0;
}

int kube_config_auth(kube_config_t *c, kube_auth_t *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    pthread_mutex_lock(&c->lock);
    int rc = auth_locked(c, out, err);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        kube_auth_clear(out);
    return rc;
}

void kube_config_invalidate_auth(kube_config_t *c)
{
    pthread_mutex_lock(&c->lock);
    kube_auth_clear(&c->exec_cache);
    c->exec_expiry = 0;
    /* Keep the old token as a fallback in case the re-read fails. */
    c->cached_token_stale = true;
    pthread_mutex_unlock(&c->lock);
}

void kube_auth_clear(kube_auth_t *a)
{
    if (!a)
        return;
    kube_secret_free(a->token);
    free(a->client_cert_pem);
    kube_secret_free(a->client_key_pem);
    free(a->client_cert_file);
    free(a->client_key_file);
    free(a->username);
    kube_secret_free(a->password);
    memset(a, 0, sizeof *a);
}
