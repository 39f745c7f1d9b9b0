/*
 * registry/blob: blob existence, download, upload, mount and copy.
 *
 * Downloads are hashed as they stream, and an interrupted one resumes with a Range
 * request (a registry that ignores Range answers 200 and the bytes we already have are
 * skipped). Uploads follow the distribution spec: POST opens a session, its Location (
 * relative or absolute, and renewed by every answer) receives PATCH chunks with
 * Content-Range, and PUT ?digest= commits. A failed chunk is resumed from the offset the
 * registry reports for the session (GET on the Location) rather than sent blindly again,
 * since a registry may have stored part of it. A monolithic PUT that fails is never
 * replayed into the same session (the registry may have appended part of the body): the
 * whole upload starts again from a new POST when the source can rewind.
 *
 * The copy between registries pipes a GET into a PUT through a small buffer with a curl
 * multi handle: each side pauses when the buffer is full or empty, so a layer crosses
 * from one registry to another without touching the disk.
 */
#include "registry/registry_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIPE_CAPACITY  (1u << 20)
#define PIPE_RESUME_AT (PIPE_CAPACITY / 2) /* room that unpauses the download */
#define POLL_MS        100

static char *blob_path(const registry_ref_t *repo, const char *digest)
{
    return util_asprintf("/v2/%s/blobs/%s", repo->repository, digest);
}

static char *repo_name(const registry_ref_t *repo)
{
    return util_asprintf("%s/%s", repo->registry, repo->repository);
}

static registry_err_t check_repo(const registry_ref_t *repo, const char *digest,
                                 registry_error_t *error)
{
    if (error)
        registry_error_clear(error);
    if (!repo || !repo->registry || !repo->repository)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "incomplete repository");
    if (digest && !registry_digest_valid(digest))
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL,
                                  "invalid blob digest \"%s\" (sha256 only)", digest);
    return REGISTRY_OK;
}

static registry_err_t oom(registry_error_t *error)
{
    return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
}

registry_err_t registry_blob_exists(registry_client_t *c, const registry_ref_t *repo,
                                    const char *digest, int64_t *size_out, registry_error_t *error)
{
    registry_err_t rc = check_repo(repo, digest, error);
    if (rc != REGISTRY_OK)
        return rc;
    char *path = blob_path(repo, digest);
    char *scope = registry_scope(repo->repository, "pull");
    char *name = repo_name(repo);
    response_t resp;
    response_init(&resp);
    if (!path || !scope || !name) {
        rc = oom(error);
        goto out;
    }
    request_t req = {
        .registry = repo->registry, .method = "HEAD", .path = path, .scope = scope, .follow = true};
    rc = registry_do(c, &req, &resp, error);
    if (rc == REGISTRY_OK && resp.code != 200) {
        rc = registry_error_from_resp(error, &resp, "HEAD blob", digest);
        registry_error_prefix(error, "%s", name);
    }
    if (rc == REGISTRY_OK && size_out)
        *size_out = resp.content_length;
out:
    response_clear(&resp);
    free(path);
    free(scope);
    free(name);
    return rc;
}

/* ---- download ------------------------------------------------------------------------ */

typedef struct verify {
    registry_blob_write_fn write;
    void *data;
    registry_sha256_t sha;
    int64_t total;
} verify_t;

static int verify_write(void *data, const char *buf, size_t len)
{
    verify_t *v = data;
    registry_sha256_update(&v->sha, buf, len);
    v->total += (int64_t)len;
    return v->write(v->data, buf, len);
}

registry_err_t registry_blob_get(registry_client_t *c, const registry_ref_t *repo,
                                 const char *digest, registry_blob_write_fn write, void *data,
                                 registry_error_t *error)
{
    registry_err_t rc = check_repo(repo, digest, error);
    if (rc != REGISTRY_OK)
        return rc;
    if (!write)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "no blob receiver");
    verify_t v = {.write = write, .data = data};
    if (registry_sha256_init(&v.sha) < 0)
        return oom(error);
    char *path = blob_path(repo, digest);
    char *scope = registry_scope(repo->repository, "pull");
    char *name = repo_name(repo);
    char *range = NULL;
    response_t resp;
    response_init(&resp);
    backoff_t bo;
    backoff_init(&bo, registry_client_retry_initial(c), 10, 2, 0.2);
    if (!path || !scope || !name) {
        rc = oom(error);
        goto out;
    }
    for (int resumes = 0;; resumes++) {
        free(range);
        range = v.total > 0 ? util_asprintf("Range: bytes=%lld-", (long long)v.total) : NULL;
        if (v.total > 0 && !range) {
            rc = oom(error);
            break;
        }
        request_t req = {.registry = repo->registry,
                         .method = "GET",
                         .path = path,
                         .scope = scope,
                         .headers = {range},
                         .write = verify_write,
                         .write_data = &v,
                         .skip = v.total,
                         .blob = true,
                         .follow = true};
        rc = registry_do(c, &req, &resp, error);
        if (rc == REGISTRY_ERR_TRANSPORT && resp.delivered > 0 &&
            resumes < registry_client_max_retries(c)) {
            log_warn("blob download interrupted, resuming", "blob", digest, "repository", name,
                     "error", error && error->message ? error->message : "", NULL);
            util_sleep(backoff_next(&bo));
            continue;
        }
        break;
    }
    if (rc != REGISTRY_OK)
        goto out;
    if (resp.code != 200 && resp.code != 206) {
        rc = registry_error_from_resp(error, &resp, "GET blob", digest);
        registry_error_prefix(error, "%s", name);
        goto out;
    }
    char got[REGISTRY_DIGEST_LEN];
    registry_sha256_final(&v.sha, got);
    if (strcmp(got, digest) != 0)
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, resp.code, NULL,
                                "GET blob %s from %s: %lld bytes hashing to %s", digest, name,
                                (long long)v.total, got);
out:
    registry_sha256_free(&v.sha);
    response_clear(&resp);
    free(range);
    free(path);
    free(scope);
    free(name);
    return rc;
}

static int fd_write_all(void *data, const char *buf, size_t len)
{
    int fd = *(int *)data;
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

registry_err_t registry_blob_get_file(registry_client_t *c, const registry_ref_t *repo,
                                      const char *digest, const char *path, registry_error_t *error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return registry_error_set(error, REGISTRY_ERR_IO, 0, NULL, "%s: %m", path);
    registry_err_t rc = registry_blob_get(c, repo, digest, fd_write_all, &fd, error);
    if (rc == REGISTRY_ERR_IO)
        registry_error_set(error, REGISTRY_ERR_IO, 0, NULL, "writing %s: %m", path);
    if (close(fd) < 0 && rc == REGISTRY_OK)
        rc = registry_error_set(error, REGISTRY_ERR_IO, 0, NULL, "closing %s: %m", path);
    if (rc != REGISTRY_OK)
        unlink(path);
    return rc;
}

/* ---- upload sessions ----------------------------------------------------------------- */

/* POST to open a session (or mount: query "mount=..&from=.."). 202 gives *location;
 * 201 (a mount done) sets *mounted. */
static registry_err_t open_session(registry_client_t *c, const registry_ref_t *repo,
                                   const char *digest, const char *from, char **location,
                                   bool *mounted, registry_error_t *error)
{
    *location = NULL;
    *mounted = false;
    char *name = repo_name(repo);
    char *path = util_asprintf("/v2/%s/blobs/uploads/", repo->repository);
    char *scope = registry_scope(repo->repository, "pull,push");
    char *from_scope = from ? registry_scope(from, "pull") : NULL;
    char *scopes = from_scope ? util_asprintf("%s %s", scope ? scope : "", from_scope) : NULL;
    registry_err_t rc = REGISTRY_OK;
    response_t resp;
    response_init(&resp);
    if (!name || !path || !scope || (from && (!from_scope || !scopes))) {
        rc = oom(error);
        goto out;
    }
    if (from) {
        char *base = util_asprintf("http://x%s", path);
        char *with_mount = base ? registry_url_add_query(base, "mount", digest) : NULL;
        char *with_from = with_mount ? registry_url_add_query(with_mount, "from", from) : NULL;
        free(path);
        path = with_from ? util_strdup(with_from + strlen("http://x")) : NULL;
        free(base);
        free(with_mount);
        free(with_from);
        if (!path) {
            rc = oom(error);
            goto out;
        }
    }
    request_t req = {
        .registry = repo->registry, .method = "POST", .path = path, .scope = from ? scopes : scope};
    rc = registry_do(c, &req, &resp, error);
    if (rc != REGISTRY_OK)
        goto out;
    if (resp.code == 201 && from) {
        *mounted = true;
        goto out;
    }
    if (resp.code != 202) {
        rc = registry_error_from_resp(error, &resp, from ? "mount blob into" : "start upload to",
                                      name);
        goto out;
    }
    if (!resp.location) {
        rc = registry_error_set(error, REGISTRY_ERR_PROTOCOL, resp.code, NULL,
                                "start upload to %s: 202 without a Location", name);
        goto out;
    }
    *location = registry_resolve_url(resp.effective_url, resp.location);
    if (!*location)
        rc = registry_error_set(error, REGISTRY_ERR_PROTOCOL, resp.code, NULL,
                                "start upload to %s: unusable Location", name);
out:
    response_clear(&resp);
    free(name);
    free(path);
    free(scope);
    free(from_scope);
    free(scopes);
    return rc;
}

/* DELETE an abandoned session; failures only cost the registry some garbage. */
static void cancel_session(registry_client_t *c, const registry_ref_t *repo, const char *location)
{
    char *scope = registry_scope(repo->repository, "pull,push");
    request_t req = {
        .registry = repo->registry, .method = "DELETE", .url = location, .scope = scope};
    response_t resp;
    response_init(&resp);
    registry_error_t ignored = REGISTRY_ERROR_INIT;
    if (scope)
        registry_do(c, &req, &resp, &ignored);
    registry_error_clear(&ignored);
    response_clear(&resp);
    free(scope);
}

/* The Location after an answer, resolved; takes over *location. */
static int follow_location(char **location, const response_t *resp)
{
    if (!resp->location)
        return 0;
    char *next =
        registry_resolve_url(resp->effective_url ? resp->effective_url : *location, resp->location);
    if (!next)
        return -1;
    free(*location);
    *location = next;
    return 0;
}

/* PUT location?digest= with the body of req (empty when req has none). */
static registry_err_t commit(registry_client_t *c, const registry_ref_t *repo, const char *location,
                             const char *digest, const registry_blob_source_t *source, int64_t size,
                             registry_error_t *error)
{
    char *url = registry_url_add_query(location, "digest", digest);
    char *scope = registry_scope(repo->repository, "pull,push");
    char *name = repo_name(repo);
    response_t resp;
    response_init(&resp);
    registry_err_t rc = REGISTRY_OK;
    if (!url || !scope || !name) {
        rc = oom(error);
        goto out;
    }
    /* With a body, the request goes out once: a failed PUT may have left part of the body
     * in the session, so the caller starts again from a new session. Without one it is
     * safe to repeat, but a repeat after a commit whose answer was lost finds no session
     * (404): then the blob itself tells whether the commit happened. */
    request_t req = {.registry = repo->registry,
                     .method = "PUT",
                     .url = url,
                     .scope = scope,
                     .source = source,
                     .body = "",
                     .body_len = source ? size : 0,
                     .blob = true,
                     .once = source != NULL};
    rc = registry_do(c, &req, &resp, error);
    if (rc != REGISTRY_OK)
        goto out;
    if (resp.code == 404 && !source &&
        registry_blob_exists(c, repo, digest, NULL, NULL) == REGISTRY_OK) {
        if (error)
            registry_error_clear(error);
        goto out;
    }
    if (resp.code != 201) {
        rc = registry_error_from_resp(error, &resp, "commit blob", digest);
        registry_error_prefix(error, "%s", name);
        goto out;
    }
    if (registry_digest_valid(resp.docker_content_digest) &&
        strcmp(resp.docker_content_digest, digest) != 0)
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, resp.code, NULL,
                                "commit blob %s to %s: registry stored %s", digest, name,
                                resp.docker_content_digest);
out:
    response_clear(&resp);
    free(url);
    free(scope);
    free(name);
    return rc;
}

static bool retry_worthy(registry_err_t rc)
{
    return rc == REGISTRY_ERR_TRANSPORT || rc == REGISTRY_ERR_SERVER ||
           rc == REGISTRY_ERR_TOO_MANY_REQUESTS;
}

registry_err_t registry_blob_upload(registry_client_t *c, const registry_ref_t *repo,
                                    const char *digest, const registry_blob_source_t *source,
                                    registry_error_t *error)
{
    registry_err_t rc = check_repo(repo, digest, error);
    if (rc != REGISTRY_OK)
        return rc;
    if (!source || !source->read || source->size < 0)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL,
                                  "monolithic upload needs a source of known size");
    backoff_t bo;
    backoff_init(&bo, registry_client_retry_initial(c), 10, 2, 0.2);
    for (int attempt = 0;; attempt++) {
        if (attempt > 0 && source->rewind(source->data) < 0)
            return registry_error_set(error, REGISTRY_ERR_IO, 0, NULL,
                                      "upload %s: cannot rewind the source", digest);
        char *location = NULL;
        bool mounted = false;
        rc = open_session(c, repo, digest, NULL, &location, &mounted, error);
        if (rc == REGISTRY_OK) {
            rc = commit(c, repo, location, digest, source, source->size, error);
            if (rc != REGISTRY_OK)
                cancel_session(c, repo, location);
        }
        free(location);
        if (rc == REGISTRY_OK || !retry_worthy(rc) || !source->rewind ||
            attempt >= registry_client_max_retries(c))
            break;
        log_warn("blob upload failed, starting again", "blob", digest, "error",
                 error && error->message ? error->message : "", NULL);
        util_sleep(backoff_next(&bo));
    }
    if (rc == REGISTRY_OK)
        log_v(2, "uploaded blob", "blob", digest, "registry", repo->registry, "repository",
              repo->repository, NULL);
    return rc;
}

/* How much of the session the registry holds (GET on the Location: 204 with Range:
 * 0-<last>). -1 when it cannot tell. */
static int64_t session_offset(registry_client_t *c, const registry_ref_t *repo, char **location)
{
    char *scope = registry_scope(repo->repository, "pull,push");
    request_t req = {.registry = repo->registry, .method = "GET", .url = *location, .scope = scope};
    response_t resp;
    response_init(&resp);
    registry_error_t ignored = REGISTRY_ERROR_INIT;
    int64_t offset = -1;
    if (scope && registry_do(c, &req, &resp, &ignored) == REGISTRY_OK && resp.code == 204) {
        long long first = 0, last = -1;
        if (!resp.range)
            offset = 0;
        else if (sscanf(resp.range, "%lld-%lld", &first, &last) == 2 && first == 0)
            offset = last + 1;
        if (offset >= 0 && follow_location(location, &resp) < 0)
            offset = -1;
    }
    registry_error_clear(&ignored);
    response_clear(&resp);
    free(scope);
    return offset;
}

/* PATCH one chunk that starts at *offset in the session; on failure resumes from what
 * the registry reports having. */
static registry_err_t send_chunk(registry_client_t *c, const registry_ref_t *repo, char **location,
                                 int64_t *offset, const char *data, size_t len,
                                 registry_error_t *error)
{
    char *scope = registry_scope(repo->repository, "pull,push");
    char *name = repo_name(repo);
    registry_err_t rc = REGISTRY_OK;
    if (!scope || !name) {
        free(scope);
        free(name);
        return oom(error);
    }
    int64_t chunk_start = *offset;
    backoff_t bo;
    backoff_init(&bo, registry_client_retry_initial(c), 10, 2, 0.2);
    for (int attempt = 0;; attempt++) {
        size_t skip = (size_t)(*offset - chunk_start);
        char range[80];
        snprintf(range, sizeof(range), "Content-Range: %lld-%lld", (long long)*offset,
                 (long long)(chunk_start + (int64_t)len - 1));
        /* Once, without blind retries: a failure is resolved below from the session. */
        request_t req = {.registry = repo->registry,
                         .method = "PATCH",
                         .url = *location,
                         .scope = scope,
                         .headers = {range},
                         .body = data + skip,
                         .body_len = (int64_t)(len - skip),
                         .blob = true,
                         .once = true};
        response_t resp;
        response_init(&resp);
        rc = registry_do(c, &req, &resp, error);
        if (rc == REGISTRY_OK && resp.code == 202) {
            if (follow_location(location, &resp) < 0)
                rc = registry_error_set(error, REGISTRY_ERR_PROTOCOL, resp.code, NULL,
                                        "upload to %s: unusable Location", name);
            *offset = chunk_start + (int64_t)len;
            response_clear(&resp);
            break;
        }
        if (rc == REGISTRY_OK)
            rc = registry_error_from_resp(error, &resp, "upload chunk to", name);
        response_clear(&resp);
        if (!retry_worthy(rc) && rc != REGISTRY_ERR_INVALID)
            break;
        if (attempt >= registry_client_max_retries(c))
            break;
        int64_t have = session_offset(c, repo, location);
        if (have < chunk_start || have > chunk_start + (int64_t)len)
            break; /* the session lost data we no longer hold */
        log_warn("chunk upload failed, resuming", "repository", name, "error",
                 error && error->message ? error->message : "", NULL);
        *offset = have;
        if (have == chunk_start + (int64_t)len) {
            rc = REGISTRY_OK;
            if (error)
                registry_error_clear(error);
            break;
        }
        util_sleep(backoff_next(&bo));
    }
    free(scope);
    free(name);
    return rc;
}

/* Reads until len bytes or the end; the count, or -1. */
static ssize_t read_full(const registry_blob_source_t *source, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = source->read(source->data, buf + got, len - got);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

registry_err_t registry_blob_upload_chunked(registry_client_t *c, const registry_ref_t *repo,
                                            const registry_blob_source_t *source,
                                            const char *expected,
                                            char digest_out[REGISTRY_DIGEST_LEN],
                                            registry_error_t *error)
{
    registry_err_t rc = check_repo(repo, expected, error);
    if (rc != REGISTRY_OK)
        return rc;
    if (!source || !source->read)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "no upload source");
    size_t chunk = registry_client_chunk_size(c);
    char *buf = malloc(chunk);
    registry_sha256_t sha = {0};
    if (!buf || registry_sha256_init(&sha) < 0) {
        free(buf);
        return oom(error);
    }
    char *location = NULL;
    bool mounted = false;
    int64_t offset = 0;
    rc = open_session(c, repo, NULL, NULL, &location, &mounted, error);
    while (rc == REGISTRY_OK) {
        ssize_t n = read_full(source, buf, chunk);
        if (n < 0) {
            rc = registry_error_set(error, REGISTRY_ERR_IO, 0, NULL,
                                    "upload to %s/%s: reading the source failed", repo->registry,
                                    repo->repository);
            break;
        }
        if (n == 0)
            break;
        registry_sha256_update(&sha, buf, (size_t)n);
        rc = send_chunk(c, repo, &location, &offset, buf, (size_t)n, error);
        if ((size_t)n < chunk)
            break;
    }
    char digest[REGISTRY_DIGEST_LEN];
    registry_sha256_final(&sha, digest);
    if (rc == REGISTRY_OK && expected && strcmp(expected, digest) != 0)
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, 0, NULL,
                                "upload to %s/%s: the data hashes to %s, expected %s",
                                repo->registry, repo->repository, digest, expected);
    if (rc == REGISTRY_OK)
        rc = commit(c, repo, location, digest, NULL, 0, error);
    if (rc != REGISTRY_OK && location)
        cancel_session(c, repo, location);
    if (rc == REGISTRY_OK) {
        if (digest_out)
            memcpy(digest_out, digest, REGISTRY_DIGEST_LEN);
        log_v(2, "uploaded blob in chunks", "blob", digest, "registry", repo->registry,
              "repository", repo->repository, NULL);
    }
    registry_sha256_free(&sha);
    free(location);
    free(buf);
    return rc;
}

/* ---- files ----------------------------------------------------------------------------- */

typedef struct file_source {
    int fd;
} file_source_t;

static ssize_t file_read(void *data, char *buf, size_t len)
{
    file_source_t *f = data;
    for (;;) {
        ssize_t n = read(f->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static int file_rewind(void *data)
{
    file_source_t *f = data;
    return lseek(f->fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

registry_err_t registry_blob_upload_file(registry_client_t *c, const registry_ref_t *repo,
                                         const char *path, const char *digest,
                                         registry_error_t *error)
{
    registry_err_t rc = check_repo(repo, digest, error);
    if (rc != REGISTRY_OK)
        return rc;
    file_source_t f = {.fd = open(path, O_RDONLY | O_CLOEXEC)};
    struct stat st;
    if (f.fd < 0 || fstat(f.fd, &st) < 0) {
        rc = registry_error_set(error, REGISTRY_ERR_IO, 0, NULL, "%s: %m", path);
        if (f.fd >= 0)
            close(f.fd);
        return rc;
    }
    registry_blob_source_t source = {
        .read = file_read, .rewind = file_rewind, .data = &f, .size = st.st_size};
    char computed[REGISTRY_DIGEST_LEN];
    if (!digest) {
        registry_sha256_t sha;
        char buf[1 << 16];
        ssize_t n;
        if (registry_sha256_init(&sha) < 0) {
            close(f.fd);
            return oom(error);
        }
        while ((n = file_read(&f, buf, sizeof(buf))) > 0)
            registry_sha256_update(&sha, buf, (size_t)n);
        registry_sha256_final(&sha, computed);
        registry_sha256_free(&sha);
        if (n < 0 || file_rewind(&f) < 0) {
            close(f.fd);
            return registry_error_set(error, REGISTRY_ERR_IO, 0, NULL, "reading %s: %m", path);
        }
        digest = computed;
    }
    rc = registry_blob_exists(c, repo, digest, NULL, error);
    if (rc == REGISTRY_ERR_NOT_FOUND) {
        registry_error_clear(error);
        if ((size_t)st.st_size <= registry_client_chunk_size(c))
            rc = registry_blob_upload(c, repo, digest, &source, error);
        else
            rc = registry_blob_upload_chunked(c, repo, &source, digest, NULL, error);
    }
    close(f.fd);
    return rc;
}

/* ---- mount and copy --------------------------------------------------------------------- */

registry_err_t registry_blob_mount(registry_client_t *c, const registry_ref_t *repo,
                                   const char *digest, const char *from_repository, bool *mounted,
                                   registry_error_t *error)
{
    *mounted = false;
    registry_err_t rc = check_repo(repo, digest, error);
    if (rc != REGISTRY_OK)
        return rc;
    if (!from_repository)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "mount without source");
    char *location = NULL;
    rc = open_session(c, repo, digest, from_repository, &location, mounted, error);
    if (rc == REGISTRY_OK && location)
        cancel_session(c, repo, location);
    free(location);
    return rc;
}

registry_err_t registry_blob_copy(registry_client_t *c, const registry_ref_t *src,
                                  const registry_ref_t *dst, const char *digest, int64_t size,
                                  registry_copy_how_t *how, registry_error_t *error)
{
    registry_err_t rc = check_repo(src, digest, error);
    if (rc == REGISTRY_OK)
        rc = check_repo(dst, digest, error);
    if (rc != REGISTRY_OK)
        return rc;
    rc = registry_blob_exists(c, dst, digest, NULL, error);
    if (rc == REGISTRY_OK) {
        if (how)
            *how = REGISTRY_COPY_EXISTED;
        return rc;
    }
    if (rc != REGISTRY_ERR_NOT_FOUND)
        return rc;
    registry_error_clear(error);
    if (size < 0) {
        rc = registry_blob_exists(c, src, digest, &size, error);
        if (rc != REGISTRY_OK)
            return rc;
        if (size < 0)
            return registry_error_set(error, REGISTRY_ERR_PROTOCOL, 0, NULL,
                                      "HEAD blob %s: no Content-Length", digest);
    }
    bool same_registry = strcmp(src->registry, dst->registry) == 0;
    char *src_path = blob_path(src, digest);
    char *src_scope = registry_scope(src->repository, "pull");
    char *dst_scope = registry_scope(dst->repository, "pull,push");
    if (!src_path || !src_scope || !dst_scope) {
        rc = oom(error);
        goto out;
    }
    backoff_t bo;
    backoff_init(&bo, registry_client_retry_initial(c), 10, 2, 0.2);
    for (int attempt = 0;; attempt++) {
        char *location = NULL;
        bool mounted = false;
        if (same_registry && strcmp(src->repository, dst->repository) != 0)
            rc = open_session(c, dst, digest, src->repository, &location, &mounted, error);
        else
            rc = open_session(c, dst, NULL, NULL, &location, &mounted, error);
        if (rc == REGISTRY_OK && mounted) {
            if (how)
                *how = REGISTRY_COPY_MOUNTED;
            log_v(2, "mounted blob", "blob", digest, "from", src->repository, "into",
                  dst->repository, NULL);
            break;
        }
        char *put_url =
            rc == REGISTRY_OK ? registry_url_add_query(location, "digest", digest) : NULL;
        if (rc == REGISTRY_OK && !put_url)
            rc = oom(error);
        if (rc == REGISTRY_OK) {
            request_t get = {.registry = src->registry,
                             .method = "GET",
                             .path = src_path,
                             .scope = src_scope,
                             .blob = true,
                             .follow = true};
            request_t put = {.registry = dst->registry,
                             .method = "PUT",
                             .url = put_url,
                             .scope = dst_scope,
                             .body_len = size,
                             .blob = true};
            rc = registry_stream_copy(c, &get, &put, size, digest, error);
            if (rc != REGISTRY_OK)
                cancel_session(c, dst, location);
        }
        free(put_url);
        free(location);
        if (rc == REGISTRY_OK) {
            if (how)
                *how = REGISTRY_COPY_STREAMED;
            log_v(2, "copied blob", "blob", digest, "from", src->registry, "to", dst->registry,
                  NULL);
            break;
        }
        if (!retry_worthy(rc) || attempt >= registry_client_max_retries(c))
            break;
        log_warn("blob copy failed, starting again", "blob", digest, "error",
                 error && error->message ? error->message : "", NULL);
        util_sleep(backoff_next(&bo));
    }
out:
    free(src_path);
    free(src_scope);
    free(dst_scope);
    return rc;
}

/* ---- the streamed copy ------------------------------------------------------------------ */

typedef struct pipe_state {
    char *data;
    size_t cap;
    size_t start; /* unread bytes are data[start, end) */
    size_t end;
    bool get_done;
    bool get_ok;
    bool get_paused;
    bool put_paused;
    registry_sha256_t sha;
    int64_t total;
    response_t get_resp;
    response_t put_resp;
} pipe_state_t;

static size_t pipe_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    pipe_state_t *p = userdata;
    size_t len = size * nmemb;
    long code = 0;
    curl_easy_getinfo(p->get_resp.handle, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        /* an error answer: keep its body for the message */
        size_t room = p->get_resp.body.len < REGISTRY_ERROR_BODY_MAX
                          ? REGISTRY_ERROR_BODY_MAX - p->get_resp.body.len
                          : 0;
        buf_append(&p->get_resp.body, data, len < room ? len : room);
        return len;
    }
    if (p->end + len > p->cap && p->start > 0) {
        memmove(p->data, p->data + p->start, p->end - p->start);
        p->end -= p->start;
        p->start = 0;
    }
    if (p->end + len > p->cap) {
        if (p->end > 0) {
            p->get_paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        char *bigger = realloc(p->data, len);
        if (!bigger)
            return 0;
        p->data = bigger;
        p->cap = len;
    }
    memcpy(p->data + p->end, data, len);
    p->end += len;
    registry_sha256_update(&p->sha, data, len);
    p->total += (int64_t)len;
    return len;
}

static size_t pipe_read_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
    pipe_state_t *p = userdata;
    size_t want = size * nitems;
    size_t have = p->end - p->start;
    if (have == 0) {
        if (p->get_done)
            return p->get_ok ? 0 : CURL_READFUNC_ABORT;
        p->put_paused = true;
        return CURL_READFUNC_PAUSE;
    }
    size_t n = want < have ? want : have;
    memcpy(buffer, p->data + p->start, n);
    p->start += n;
    if (p->start == p->end)
        p->start = p->end = 0;
    return n;
}

registry_err_t registry_stream_copy(registry_client_t *c, const request_t *get,
                                    const request_t *put, int64_t size, const char *digest,
                                    registry_error_t *error)
{
    pipe_state_t p = {.cap = PIPE_CAPACITY};
    response_init(&p.get_resp);
    response_init(&p.put_resp);
    char *get_url = NULL, *get_auth = NULL, *put_url = NULL, *put_auth = NULL;
    struct curl_slist *get_headers = NULL, *put_headers = NULL;
    CURL *gh = NULL, *ph = NULL;
    CURLM *m = NULL;
    registry_err_t rc = registry_prepare(c, get, &get_url, &get_auth, error);
    if (rc == REGISTRY_OK)
        rc = registry_prepare(c, put, &put_url, &put_auth, error);
    if (rc != REGISTRY_OK)
        goto out;
    p.data = malloc(p.cap);
    gh = registry_handle_take(c);
    ph = registry_handle_take(c);
    m = curl_multi_init();
    if (!p.data || !gh || !ph || !m || registry_sha256_init(&p.sha) < 0 ||
        registry_setup_handle(c, gh, get, get_url, get_auth, &p.get_resp, &get_headers) < 0 ||
        registry_setup_handle(c, ph, put, put_url, put_auth, &p.put_resp, &put_headers) < 0) {
        rc = oom(error);
        goto out;
    }
    curl_easy_setopt(gh, CURLOPT_WRITEFUNCTION, pipe_write_cb);
    curl_easy_setopt(gh, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(ph, CURLOPT_READFUNCTION, pipe_read_cb);
    curl_easy_setopt(ph, CURLOPT_READDATA, &p);
    curl_easy_setopt(ph, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    curl_multi_add_handle(m, gh);
    curl_multi_add_handle(m, ph);
    bool put_done = false, failed = false;
    int running = 2;
    while (!put_done && !failed) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left = 0;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            if (msg->easy_handle == gh) {
                registry_finish_handle(gh, msg->data.result, &p.get_resp);
                p.get_done = true;
                p.get_ok = msg->data.result == CURLE_OK && p.get_resp.code == 200;
                failed |= !p.get_ok;
                if (p.put_paused) {
                    p.put_paused = false;
                    curl_easy_pause(ph, CURLPAUSE_CONT);
                }
            } else if (msg->easy_handle == ph) {
                registry_finish_handle(ph, msg->data.result, &p.put_resp);
                put_done = true;
            }
        }
        if (p.get_paused && p.cap - (p.end - p.start) >= PIPE_RESUME_AT) {
            p.get_paused = false;
            curl_easy_pause(gh, CURLPAUSE_CONT);
        }
        if (p.put_paused && (p.end > p.start || p.get_done)) {
            p.put_paused = false;
            curl_easy_pause(ph, CURLPAUSE_CONT);
        }
        if (running == 0 && !put_done)
            break;
        if (!put_done && !failed)
            curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
    }
    if (p.get_done && !p.get_ok) {
        if (p.get_resp.curl_code != CURLE_OK)
            rc = registry_error_set(error, REGISTRY_ERR_TRANSPORT, 0, NULL,
                                    "copy blob %s: GET %s: %s", digest, get_url,
                                    p.get_resp.curl_error);
        else
            rc = registry_error_from_resp(error, &p.get_resp, "copy blob: GET", get_url);
        goto out;
    }
    if (!put_done || p.put_resp.curl_code != CURLE_OK) {
        rc = registry_error_set(error, REGISTRY_ERR_TRANSPORT, 0, NULL, "copy blob %s: PUT %s: %s",
                                digest, put->registry,
                                put_done ? p.put_resp.curl_error : "did not finish");
        goto out;
    }
    if (p.put_resp.code != 201) {
        rc = registry_error_from_resp(error, &p.put_resp, "copy blob: PUT", digest);
        goto out;
    }
    char got[REGISTRY_DIGEST_LEN];
    registry_sha256_final(&p.sha, got);
    if (strcmp(got, digest) != 0 || p.total != size)
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, 0, NULL,
                                "copy blob %s: the source sent %lld bytes hashing to %s", digest,
                                (long long)p.total, got);
out:
    if (m) {
        if (gh)
            curl_multi_remove_handle(m, gh);
        if (ph)
            curl_multi_remove_handle(m, ph);
        curl_multi_cleanup(m);
    }
    registry_handle_give(c, gh);
    registry_handle_give(c, ph);
    curl_slist_free_all(get_headers);
    curl_slist_free_all(put_headers);
    registry_sha256_free(&p.sha);
    response_clear(&p.get_resp);
    response_clear(&p.put_resp);
    free(p.data);
    if (get_auth)
        explicit_bzero(get_auth, strlen(get_auth));
    if (put_auth)
        explicit_bzero(put_auth, strlen(put_auth));
    free(get_auth);
    free(put_auth);
    free(get_url);
    free(put_url);
    return rc;
}
