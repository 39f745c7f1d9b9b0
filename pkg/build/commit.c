/*
 * build/commit: images as a build sees them (manifest + config fetched from a registry)
 * and the commit that pushes a new one: the base image's layers by digest (already there,
 * mounted from the base's repository, or streamed from its registry; never re-uploaded
 * when the target has them), the build's layer, the config, and the manifest in the
 * base's flavour (OCI or Docker v2 schema 2), the other flavour when the registry refuses
 * it.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Paths of a pod that are never part of a build's layer, whatever is mounted there. */
static const char *const FIXED_EXCLUDES[] = {
    "/proc",
    "/sys",
    "/dev",
    "/s2i",
    "/etc/s2i",
    "/run/secrets",
    "/var/run/secrets",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/dev/termination-log",
};

char **build_snapshot_excludes(void)
{
    char **out = calloc(1, sizeof(char *));
    size_t len = 0;
    for (size_t i = 0; out && i < UTIL_ARRAY_LEN(FIXED_EXCLUDES); i++) {
        if (build_strv_push(&out, &len, FIXED_EXCLUDES[i]) < 0) {
            build_strv_free(out);
            return NULL;
        }
    }
    char **mounts = build_mount_points(NULL);
    for (char **m = mounts; out && m && *m; m++) {
        if (build_strv_push(&out, &len, *m) < 0) {
            build_strv_free(out);
            out = NULL;
        }
    }
    build_strv_free(mounts);
    return out;
}

int build_file_sink_write(void *data, const void *buf, size_t len)
{
    build_file_sink_t *s = data;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(s->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

build_err_t build_layer_options(image_layer_options_t *o, build_error_t *error)
{
    char *err = NULL;
    if (image_layer_options_default(o, &err) < 0) {
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "%s", err ? err : "SOURCE_DATE_EPOCH");
        free(err);
    }
    return error->err;
}

/* ---- images -------------------------------------------------------------------------- */

void build_image_clear(build_image_t *img)
{
    if (!img)
        return;
    registry_ref_clear(&img->ref);
    registry_manifest_clear(&img->raw);
    image_manifest_free(img->manifest);
    image_config_free(img->config);
    memset(img, 0, sizeof(*img));
}

static int buf_sink(void *data, const char *chunk, size_t len)
{
    buf_t *b = data;
    if (b->len + len > IMAGE_CONFIG_MAX)
        return -1;
    return buf_append(b, chunk, len);
}

registry_err_t build_image_fetch(registry_client_t *c, const char *ref, build_image_t *out,
                                 registry_error_t *error)
{
    memset(out, 0, sizeof(*out));
    out->raw = (registry_manifest_t)REGISTRY_MANIFEST_INIT;
    char *err = NULL;
    registry_err_t rc = REGISTRY_OK;
    if (registry_ref_parse(ref, &out->ref, &err) < 0) {
        registry_error_clear(error);
        error->err = REGISTRY_ERR_INVALID_REFERENCE;
        error->message = util_asprintf("%s: %s", ref, err ? err : "invalid reference");
        free(err);
        return error->err;
    }
    rc = registry_manifest_get_image(c, &out->ref, &out->raw, error);
    if (rc != REGISTRY_OK)
        return rc;
    if (image_manifest_parse(out->raw.data, out->raw.len, out->raw.media_type, &out->manifest,
                             &err) != IMAGE_OK) {
        registry_error_clear(error);
        error->err = REGISTRY_ERR_MANIFEST_INVALID;
        error->message = util_asprintf("manifest of %s: %s", ref, err ? err : "invalid");
        free(err);
        return error->err;
    }
    image_descriptor_t d;
    if (image_manifest_config(out->manifest, &d) < 0) {
        registry_error_clear(error);
        error->err = REGISTRY_ERR_MANIFEST_INVALID;
        error->message = util_asprintf("manifest of %s has no config", ref);
        return error->err;
    }
    buf_t b = BUF_INIT;
    rc = registry_blob_get(c, &out->ref, d.digest, buf_sink, &b, error);
    if (rc == REGISTRY_OK) {
        buf_puts(&b, "");
        if (image_config_parse(b.data, b.len, &out->config, &err) != IMAGE_OK) {
            registry_error_clear(error);
            error->err = rc = REGISTRY_ERR_MANIFEST_INVALID;
            error->message = util_asprintf("config of %s: %s", ref, err ? err : "invalid");
            free(err);
        }
        out->config_size = (int64_t)b.len;
    }
    buf_free(&b);
    return rc;
}

/* ---- the new config -------------------------------------------------------------------- */

int build_commit_config(image_config_t *config, const build_config_t *cfg,
                        const build_source_info_t *src, const char *run_script, const char *target,
                        time_t created, char **err)
{
    const api_s2i_config_t *s2i = cfg->s2i;
    const char *cmd[] = {run_script};
    int rc = image_config_set_cmd(config, cmd, 1);
    char **env = build_config_environment(cfg);
    rc |= env ? 0 : -1;
    for (char **kv = env; kv && *kv && rc == 0; kv++) {
        char *eq = strchr(*kv, '=');
        *eq = '\0';
        rc |= image_config_set_env(config, *kv, eq + 1);
        *eq = '=';
    }
    build_strv_free(env);
    char *prefix = NULL;
    if (s2i->label_namespace && *s2i->label_namespace)
        prefix = util_asprintf("%s%s", s2i->label_namespace,
                               util_has_suffix(s2i->label_namespace, ".") ? "" : ".");
    else
        prefix = util_strdup(BUILD_DEFAULT_LABEL_PREFIX);
    char *author = src->committer_name && *src->committer_name
                       ? util_asprintf("%s <%s>", src->committer_name,
                                       src->committer_email ? src->committer_email : "")
                       : NULL;
    const struct {
        const char *key;
        const char *value;
    } labels[] = {
        {"image", s2i->builder_image},
        {"source-location", src->source_url},
        {"source-context-dir", src->context_dir},
        {"commit.id", src->commit_id},
        {"commit.ref", src->revision_id},
        {"commit.author", author},
        {"commit.date", src->commit_date},
        {"commit.message", src->commit_message},
    };
    rc |= prefix ? 0 : -1;
    rc |= image_config_set_label(config, "io.k8s.display-name", target);
    if (s2i->description && *s2i->description)
        rc |= image_config_set_label(config, "io.k8s.description", s2i->description);
    for (size_t i = 0; prefix && i < UTIL_ARRAY_LEN(labels); i++) {
        if (!labels[i].value || !*labels[i].value)
            continue;
        char *key = util_asprintf("%s%s", prefix, labels[i].key);
        rc |= key ? image_config_set_label(config, key, labels[i].value) : -1;
        free(key);
    }
    for (size_t i = 0; i < s2i->labels.len; i++)
        rc |= image_config_set_label(config, s2i->labels.items[i].key, s2i->labels.items[i].value);
    rc |= image_config_set_created(config, created);
    free(prefix);
    free(author);
    if (rc != 0)
        *err = util_strdup("out of memory");
    return rc != 0 ? -1 : 0;
}

/* ---- pushing ------------------------------------------------------------------------------- */

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

registry_err_t build_push_bytes(registry_client_t *c, const registry_ref_t *repo, const char *data,
                                size_t len, const char *digest, registry_error_t *e)
{
    if (registry_blob_exists(c, repo, digest, NULL, e) == REGISTRY_OK)
        return REGISTRY_OK;
    registry_error_clear(e);
    mem_source_t m = {data, len, 0};
    registry_blob_source_t src = {mem_read, mem_rewind, &m, (int64_t)len};
    return registry_blob_upload(c, repo, digest, &src, e);
}

static build_err_t push_failed(build_error_t *error, const char *what, const registry_error_t *e)
{
    char line[512];
    return build_error_set(error, BUILD_ERR_PUSH, "%s: %s", what,
                           registry_error_str(e, line, sizeof(line)));
}

static registry_err_t put_manifest(registry_client_t *c, const registry_ref_t *target,
                                   image_manifest_t *m, char digest[REGISTRY_DIGEST_LEN],
                                   registry_error_t *e)
{
    char *data = NULL;
    size_t len = 0;
    if (image_manifest_encode(m, &data, &len, NULL) != IMAGE_OK) {
        registry_error_clear(e);
        e->err = REGISTRY_ERR_CLIENT;
        e->message = util_strdup("cannot encode the manifest");
        return e->err;
    }
    registry_err_t rc =
        registry_manifest_put(c, target, image_manifest_media_type(m), data, len, digest, e);
    free(data);
    return rc;
}

build_err_t build_commit_push(registry_client_t *c, const build_commit_t *commit,
                              build_result_t *result, build_error_t *error)
{
    memset(result, 0, sizeof(*result));
    registry_ref_t target = REGISTRY_REF_INIT;
    registry_error_t e = REGISTRY_ERROR_INIT;
    image_manifest_t *m = NULL;
    char *cdata = NULL, *err = NULL;
    size_t clen = 0;
    char cdigest[REGISTRY_DIGEST_LEN], digest[REGISTRY_DIGEST_LEN];
    int64_t size = 0;
    if (registry_ref_parse(commit->target, &target, &err) < 0) {
        build_error_set(error, BUILD_ERR_INVALID_CONFIG, "%s: %s", commit->target,
                        err ? err : "invalid reference");
        goto out;
    }
    const image_manifest_t *base = commit->base->manifest;
    m = image_manifest_new(image_manifest_media_type(base));
    if (!m) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
        goto out;
    }
    size_t hows[3] = {0}; /* base layers already there, mounted, streamed */
    for (size_t i = 0; i < image_manifest_layers_len(base); i++) {
        image_descriptor_t d;
        image_manifest_layer(base, i, &d);
        registry_copy_how_t how = REGISTRY_COPY_EXISTED;
        if (registry_blob_copy(c, &commit->base->ref, &target, d.digest, d.size, &how, &e) !=
            REGISTRY_OK) {
            push_failed(error, "copying a layer of the base image", &e);
            goto out;
        }
        hows[how == REGISTRY_COPY_EXISTED ? 0 : how == REGISTRY_COPY_MOUNTED ? 1 : 2]++;
        if (image_manifest_add_layer(m, d.media_type, d.digest, d.size) < 0) {
            build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
            goto out;
        }
        size += d.size;
    }
    bool had_layer =
        registry_blob_exists(c, &target, commit->layer->digest, NULL, &e) == REGISTRY_OK;
    registry_error_clear(&e);
    log_info(had_layer ? "the registry has the layer already" : "pushing the layer", "digest",
             commit->layer->digest, NULL);
    if (!had_layer && registry_blob_upload_file(c, &target, commit->layer_file,
                                                commit->layer->digest, &e) != REGISTRY_OK) {
        push_failed(error, "uploading the layer", &e);
        goto out;
    }
    size += commit->layer->size;
    if (image_config_encode(commit->config, &cdata, &clen, cdigest) != IMAGE_OK ||
        image_manifest_set_config(m, NULL, cdigest, (int64_t)clen) < 0 ||
        image_manifest_add_layer(m, NULL, commit->layer->digest, commit->layer->size) < 0) {
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (build_push_bytes(c, &target, cdata, clen, cdigest, &e) != REGISTRY_OK) {
        push_failed(error, "uploading the config", &e);
        goto out;
    }
    registry_err_t rc = put_manifest(c, &target, m, digest, &e);
    if (rc == REGISTRY_ERR_MANIFEST_INVALID || rc == REGISTRY_ERR_UNSUPPORTED ||
        rc == REGISTRY_ERR_INVALID) {
        const char *other = strcmp(image_manifest_media_type(m), REGISTRY_MEDIA_OCI_MANIFEST) == 0
                                ? REGISTRY_MEDIA_DOCKER_MANIFEST
                                : REGISTRY_MEDIA_OCI_MANIFEST;
        char line[512];
        log_info("the registry refused the manifest: trying the other format", "error",
                 registry_error_str(&e, line, sizeof(line)), "type", other, NULL);
        free(err);
        err = NULL;
        if (image_manifest_convert(m, other, &err) == IMAGE_OK) {
            registry_error_clear(&e);
            rc = put_manifest(c, &target, m, digest, &e);
        }
    }
    if (rc != REGISTRY_OK) {
        push_failed(error, "pushing the manifest", &e);
        goto out;
    }
    json_object *created = NULL;
    json_object_object_get_ex(image_config_json(commit->config), "created", &created);
    result->image_name = util_asprintf("%s/%s", target.registry, target.repository);
    result->image_id = util_strdup(digest);
    result->image_size = size;
    result->image_created = util_strdup(json_object_get_string(created));
    result->repo_tags = calloc(2, sizeof(char *));
    if (result->repo_tags)
        result->repo_tags[0] = util_strdup(commit->target);
    result->command_pull = util_asprintf("docker pull %s", commit->target);
    if (!result->image_name || !result->image_id || !result->repo_tags || !result->repo_tags[0] ||
        !result->command_pull)
        build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
    else {
        char base_layers[96];
        snprintf(base_layers, sizeof(base_layers), "%zu already there, %zu mounted, %zu copied",
                 hows[0], hows[1], hows[2]);
        log_info("pushed", "image", commit->target, "digest", digest, "baseLayers", base_layers,
                 "layer", had_layer ? "already there" : "uploaded", NULL);
    }
out:
    if (error->err != BUILD_OK)
        build_result_clear(result);
    free(err);
    free(cdata);
    image_manifest_free(m);
    registry_error_clear(&e);
    registry_ref_clear(&target);
    return error->err;
}
