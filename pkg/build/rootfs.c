/*
 * build/rootfs: `s2i-builder image push-rootfs`, how `make` builds our images (the prepare
 * image, test fixtures) with no daemon and no base image: each directory becomes one
 * deterministic layer (owners forced per layer, so a rootfs prepared by an unprivileged
 * user can still say root), the config is written from the options, and the image goes
 * to a registry.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int count(const char *const *v)
{
    int n = 0;
    while (v && v[n])
        n++;
    return n;
}

static int set_config(image_config_t *cfg, const build_rootfs_options_t *o, char **err)
{
    int rc = 0;
    if (o->cmd)
        rc |= image_config_set_cmd(cfg, o->cmd, (size_t)count(o->cmd));
    if (o->entrypoint)
        rc |= image_config_set_entrypoint(cfg, o->entrypoint, (size_t)count(o->entrypoint));
    const char *const *lists[2] = {o->env, o->labels};
    for (size_t l = 0; l < 2 && rc == 0; l++) {
        for (const char *const *kv = lists[l]; kv && *kv; kv++) {
            const char *eq = strchr(*kv, '=');
            if (!eq) {
                *err = util_asprintf("%s: expected KEY=VALUE", *kv);
                return -1;
            }
            char *key = util_asprintf("%.*s", (int)(eq - *kv), *kv);
            rc |= !key     ? -1
                  : l == 0 ? image_config_set_env(cfg, key, eq + 1)
                           : image_config_set_label(cfg, key, eq + 1);
            free(key);
        }
    }
    if (o->user)
        rc |= image_config_set_user(cfg, o->user);
    if (o->workdir)
        rc |= image_config_set_workdir(cfg, o->workdir);
    if (rc != 0)
        *err = util_strdup("out of memory");
    return rc != 0 ? -1 : 0;
}

static registry_client_t *client(const build_rootfs_options_t *o, char **err)
{
    registry_client_t *c = registry_client_new(NULL);
    if (!c) {
        *err = util_strdup("cannot create a registry client");
        return NULL;
    }
    for (const char *const *r = o->insecure; r && *r; r++) {
        if (registry_client_set_insecure(c, *r, true) < 0) {
            *err = util_strdup("out of memory");
            registry_client_free(c);
            return NULL;
        }
    }
    if (o->authfile) {
        registry_auth_config_t *auth = NULL;
        char *aerr = NULL;
        if (registry_auth_config_load(o->authfile, &auth, &aerr) < 0) {
            *err = util_asprintf("%s: %s", o->authfile, aerr ? aerr : "cannot be read");
            free(aerr);
            registry_client_free(c);
            return NULL;
        }
        registry_client_set_auth_config(c, auth);
    }
    return c;
}

static int push_layer(registry_client_t *c, const registry_ref_t *ref,
                      const build_rootfs_options_t *o, size_t i, image_layer_info_t *info,
                      char **err)
{
    image_layer_options_t opts;
    if (image_layer_options_default(&opts, err) < 0)
        return -1;
    opts.uid = o->layers[i].uid;
    opts.gid = o->layers[i].gid;
    char *file = util_asprintf("%s/layer-%zu.tar.gz", o->work, i);
    build_file_sink_t sink = {file ? open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                                   : -1};
    int rc = -1;
    if (sink.fd < 0) {
        *err = util_asprintf("%s: %s", file ? file : o->work, strerror(errno));
        free(file);
        return -1;
    }
    image_err_t ir =
        image_layer_from_dir(o->layers[i].dir, &opts, build_file_sink_write, &sink, info, err);
    if (close(sink.fd) < 0 && ir == IMAGE_OK) {
        *err = util_asprintf("%s: %s", file, strerror(errno));
        ir = IMAGE_ERR_IO;
    }
    if (ir == IMAGE_OK) {
        registry_error_t e = REGISTRY_ERROR_INIT;
        if (registry_blob_upload_file(c, ref, file, info->digest, &e) == REGISTRY_OK) {
            rc = 0;
        } else {
            char line[512];
            *err = util_asprintf("uploading the layer of %s: %s", o->layers[i].dir,
                                 registry_error_str(&e, line, sizeof(line)));
        }
        registry_error_clear(&e);
    }
    unlink(file);
    free(file);
    return rc;
}

int build_push_rootfs(build_rootfs_options_t *o, char **err)
{
    *err = NULL;
    registry_ref_t ref = REGISTRY_REF_INIT;
    registry_client_t *c = NULL;
    image_config_t *cfg = NULL;
    image_manifest_t *m = NULL;
    char *data = NULL;
    size_t len = 0;
    char digest[REGISTRY_DIGEST_LEN];
    registry_error_t e = REGISTRY_ERROR_INIT;
    int rc = -1;
    time_t created;
    if (registry_ref_parse(o->to, &ref, err) < 0)
        goto out;
    if (image_created_time(&created) < 0) {
        *err = util_strdup("SOURCE_DATE_EPOCH is malformed");
        goto out;
    }
    c = client(o, err);
    cfg = image_config_new("linux", "amd64");
    m = image_manifest_new(o->manifest_type ? o->manifest_type : REGISTRY_MEDIA_OCI_MANIFEST);
    if (!c || !cfg || !m) {
        if (!*err)
            *err = util_strdup("out of memory or an unknown manifest type");
        goto out;
    }
    o->size = 0;
    for (size_t i = 0; i < o->layers_len; i++) {
        image_layer_info_t info;
        char what[64];
        snprintf(what, sizeof(what), "s2i-builder image push-rootfs (layer %zu)", i + 1);
        if (push_layer(c, &ref, o, i, &info, err) < 0)
            goto out;
        if (image_config_add_layer(cfg, info.diff_id, created, what, NULL) < 0 ||
            image_manifest_add_layer(m, NULL, info.digest, info.size) < 0) {
            *err = util_strdup("out of memory");
            goto out;
        }
        o->size += info.size;
    }
    if (set_config(cfg, o, err) < 0 || image_config_set_created(cfg, created) < 0 ||
        image_config_encode(cfg, &data, &len, digest) != IMAGE_OK ||
        image_manifest_set_config(m, NULL, digest, (int64_t)len) < 0) {
        if (!*err)
            *err = util_strdup("out of memory");
        goto out;
    }
    char line[512];
    if (build_push_bytes(c, &ref, data, len, digest, &e) != REGISTRY_OK) {
        *err =
            util_asprintf("uploading the config: %s", registry_error_str(&e, line, sizeof(line)));
        goto out;
    }
    free(data);
    data = NULL;
    if (image_manifest_encode(m, &data, &len, NULL) != IMAGE_OK) {
        *err = util_strdup("out of memory");
        goto out;
    }
    if (registry_manifest_put(c, &ref, image_manifest_media_type(m), data, len, o->digest, &e) !=
        REGISTRY_OK) {
        *err =
            util_asprintf("pushing the manifest: %s", registry_error_str(&e, line, sizeof(line)));
        goto out;
    }
    rc = 0;
out:
    free(data);
    registry_error_clear(&e);
    image_manifest_free(m);
    image_config_free(cfg);
    registry_client_free(c);
    registry_ref_clear(&ref);
    return rc;
}
