/*
 * registry/manifest: fetching and pushing manifests.
 *
 * Content negotiation accepts the two manifest and the two index media types (OCI and
 * Docker v2 schema 2); schema 1 is not asked for. Everything fetched is hashed and
 * compared with what we asked for (a digest reference) and with what the registry says
 * it served (Docker-Content-Digest): a proxy or a registry bug must not slip us other
 * bytes. An index is resolved to one platform's manifest, by digest.
 */
#include "registry/registry_internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCEPT_MANIFESTS                                                                           \
    "Accept: " REGISTRY_MEDIA_OCI_MANIFEST ", " REGISTRY_MEDIA_OCI_INDEX                           \
    ", " REGISTRY_MEDIA_DOCKER_MANIFEST ", " REGISTRY_MEDIA_DOCKER_LIST
/* An index of indexes of ... is followed this deep. */
#define MAX_INDEX_DEPTH 3

bool registry_media_type_is_index(const char *media_type)
{
    return util_streq(media_type, REGISTRY_MEDIA_OCI_INDEX) ||
           util_streq(media_type, REGISTRY_MEDIA_DOCKER_LIST);
}

bool registry_media_type_is_manifest(const char *media_type)
{
    return util_streq(media_type, REGISTRY_MEDIA_OCI_MANIFEST) ||
           util_streq(media_type, REGISTRY_MEDIA_DOCKER_MANIFEST);
}

void registry_descriptor_clear(registry_descriptor_t *d)
{
    if (!d)
        return;
    free(d->media_type);
    free(d->digest);
    d->media_type = NULL;
    d->digest = NULL;
    d->size = -1;
}

void registry_manifest_clear(registry_manifest_t *m)
{
    if (!m)
        return;
    free(m->media_type);
    free(m->data);
    memset(m, 0, sizeof(*m));
}

/* "application/json; charset=utf-8" -> "application/json" */
static char *bare_media_type(const char *content_type)
{
    if (!content_type)
        return NULL;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
        n--;
    char *s = strndup(content_type, n);
    registry_lowercase(s);
    return s;
}

static char *manifest_path(const registry_ref_t *ref, const char *reference)
{
    return util_asprintf("/v2/%s/manifests/%s", ref->repository, reference);
}

static registry_err_t check_ref(const registry_ref_t *ref, bool need_reference,
                                registry_error_t *error)
{
    if (error)
        registry_error_clear(error);
    if (!ref || !ref->registry || !ref->repository ||
        (need_reference && !registry_ref_reference(ref)))
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL,
                                  "incomplete image reference");
    return REGISTRY_OK;
}

registry_err_t registry_manifest_head(registry_client_t *c, const registry_ref_t *ref,
                                      registry_descriptor_t *out, registry_error_t *error)
{
    registry_err_t rc = check_ref(ref, true, error);
    if (rc != REGISTRY_OK)
        return rc;
    char *path = manifest_path(ref, registry_ref_reference(ref));
    char *scope = registry_scope(ref->repository, "pull");
    char *name = registry_ref_string(ref);
    if (!path || !scope || !name) {
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        goto out;
    }
    request_t req = {.registry = ref->registry,
                     .method = "HEAD",
                     .path = path,
                     .scope = scope,
                     .headers = {ACCEPT_MANIFESTS}};
    response_t resp;
    response_init(&resp);
    rc = registry_do(c, &req, &resp, error);
    if (rc == REGISTRY_OK && resp.code != 200)
        rc = registry_error_from_resp(error, &resp, "HEAD manifest", name);
    if (rc == REGISTRY_OK) {
        registry_descriptor_t d = REGISTRY_DESCRIPTOR_INIT;
        d.media_type = bare_media_type(resp.content_type);
        if (registry_digest_valid(resp.docker_content_digest))
            d.digest = util_strdup(resp.docker_content_digest);
        else if (ref->digest)
            d.digest = util_strdup(ref->digest);
        d.size = resp.content_length;
        if (ref->digest && d.digest && strcmp(d.digest, ref->digest) != 0) {
            rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, resp.code, NULL,
                                    "HEAD manifest %s: registry says %s", name, d.digest);
            registry_descriptor_clear(&d);
        } else {
            registry_descriptor_clear(out);
            *out = d;
        }
    }
    response_clear(&resp);
out:
    free(path);
    free(scope);
    free(name);
    return rc;
}

/* The mediaType field of a JSON document, or NULL. */
static char *document_media_type(const char *data, size_t len)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_object *root = json_tokener_parse_ex(tok, data, (int)len);
    char *mt = NULL;
    json_object *v = NULL;
    if (json_tokener_get_error(tok) == json_tokener_success &&
        json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "mediaType", &v) &&
        json_object_is_type(v, json_type_string))
        mt = util_strdup(json_object_get_string(v));
    else if (json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(root, json_type_object) &&
             json_object_object_get_ex(root, "manifests", &v))
        mt = util_strdup(REGISTRY_MEDIA_OCI_INDEX); /* OCI allows an index without it */
    else if (json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(root, json_type_object) &&
             json_object_object_get_ex(root, "layers", &v))
        mt = util_strdup(REGISTRY_MEDIA_OCI_MANIFEST);
    json_object_put(root);
    json_tokener_free(tok);
    return mt;
}

registry_err_t registry_manifest_get(registry_client_t *c, const registry_ref_t *ref,
                                     registry_manifest_t *out, registry_error_t *error)
{
    registry_err_t rc = check_ref(ref, true, error);
    if (rc != REGISTRY_OK)
        return rc;
    char *path = manifest_path(ref, registry_ref_reference(ref));
    char *scope = registry_scope(ref->repository, "pull");
    char *name = registry_ref_string(ref);
    response_t resp;
    response_init(&resp);
    if (!path || !scope || !name) {
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        goto out;
    }
    request_t req = {.registry = ref->registry,
                     .method = "GET",
                     .path = path,
                     .scope = scope,
                     .headers = {ACCEPT_MANIFESTS},
                     .max_body = REGISTRY_MANIFEST_MAX};
    rc = registry_do(c, &req, &resp, error);
    if (rc != REGISTRY_OK)
        goto out;
    if (resp.too_large) {
        rc = registry_error_set(error, REGISTRY_ERR_MANIFEST_INVALID, resp.code, NULL,
                                "GET manifest %s: larger than %u bytes", name,
                                REGISTRY_MANIFEST_MAX);
        goto out;
    }
    if (resp.code != 200) {
        rc = registry_error_from_resp(error, &resp, "GET manifest", name);
        goto out;
    }
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    if (registry_digest_of(resp.body.data ? resp.body.data : "", resp.body.len, m.digest) < 0) {
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        goto out;
    }
    if (ref->digest && strcmp(ref->digest, m.digest) != 0) {
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, resp.code, NULL,
                                "GET manifest %s: the registry served content with digest %s", name,
                                m.digest);
        goto out;
    }
    if (registry_digest_valid(resp.docker_content_digest) &&
        strcmp(resp.docker_content_digest, m.digest) != 0) {
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, resp.code, NULL,
                                "GET manifest %s: Docker-Content-Digest %s but the content "
                                "hashes to %s",
                                name, resp.docker_content_digest, m.digest);
        goto out;
    }
    m.len = resp.body.len;
    m.data = resp.body.data ? buf_steal(&resp.body) : util_strdup("");
    m.media_type = bare_media_type(resp.content_type);
    if (!m.media_type || (!registry_media_type_is_index(m.media_type) &&
                          !registry_media_type_is_manifest(m.media_type))) {
        /* a registry that answers application/json: believe the document */
        char *doc = m.data ? document_media_type(m.data, m.len) : NULL;
        if (doc) {
            free(m.media_type);
            m.media_type = doc;
        }
    }
    if (!m.data) {
        registry_manifest_clear(&m);
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        goto out;
    }
    registry_manifest_clear(out);
    *out = m;
out:
    response_clear(&resp);
    free(path);
    free(scope);
    free(name);
    return rc;
}

registry_err_t registry_manifest_get_image(registry_client_t *c, const registry_ref_t *ref,
                                           registry_manifest_t *out, registry_error_t *error)
{
    registry_manifest_t m = REGISTRY_MANIFEST_INIT;
    registry_err_t rc = registry_manifest_get(c, ref, &m, error);
    const char *os = NULL, *arch = NULL, *variant = NULL;
    registry_client_platform(c, &os, &arch, &variant);
    for (int depth = 0; rc == REGISTRY_OK && registry_media_type_is_index(m.media_type); depth++) {
        char *name = registry_ref_string(ref);
        if (depth >= MAX_INDEX_DEPTH) {
            rc = registry_error_set(error, REGISTRY_ERR_MANIFEST_INVALID, 0, NULL,
                                    "%s: image indexes nested deeper than %d", name,
                                    MAX_INDEX_DEPTH);
            free(name);
            break;
        }
        registry_descriptor_t d = REGISTRY_DESCRIPTOR_INIT;
        char *err = NULL;
        rc = registry_index_select(m.data, m.len, os, arch, variant, &d, &err);
        if (rc != REGISTRY_OK) {
            registry_error_set(error, rc, 0, NULL, "%s: %s", name, err ? err : "bad index");
            free(err);
            free(name);
            break;
        }
        free(name);
        registry_ref_t child = {
            .registry = ref->registry, .repository = ref->repository, .digest = d.digest};
        registry_manifest_clear(&m);
        rc = registry_manifest_get(c, &child, &m, error);
        registry_descriptor_clear(&d);
    }
    if (rc == REGISTRY_OK && !registry_media_type_is_manifest(m.media_type)) {
        char *name = registry_ref_string(ref);
        rc = registry_error_set(error, REGISTRY_ERR_UNSUPPORTED, 0, NULL,
                                "%s: unsupported manifest media type %s", name,
                                m.media_type ? m.media_type : "(none)");
        free(name);
    }
    if (rc == REGISTRY_OK) {
        registry_manifest_clear(out);
        *out = m;
    } else {
        registry_manifest_clear(&m);
    }
    return rc;
}

registry_err_t registry_manifest_put(registry_client_t *c, const registry_ref_t *ref,
                                     const char *media_type, const char *data, size_t len,
                                     char digest_out[REGISTRY_DIGEST_LEN], registry_error_t *error)
{
    registry_err_t rc = check_ref(ref, true, error);
    if (rc != REGISTRY_OK)
        return rc;
    if (!media_type || !data)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL,
                                  "manifest push without media type or content");
    char digest[REGISTRY_DIGEST_LEN];
    if (registry_digest_of(data, len, digest) < 0)
        return registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
    char *path = manifest_path(ref, ref->tag ? ref->tag : ref->digest);
    char *scope = registry_scope(ref->repository, "pull,push");
    char *name = registry_ref_string(ref);
    char *content_type = util_asprintf("Content-Type: %s", media_type);
    response_t resp;
    response_init(&resp);
    if (!path || !scope || !name || !content_type) {
        rc = registry_error_set(error, REGISTRY_ERR_CLIENT, 0, NULL, "out of memory");
        goto out;
    }
    if (ref->digest && strcmp(ref->digest, digest) != 0) {
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, 0, NULL,
                                "PUT manifest %s: the content hashes to %s", name, digest);
        goto out;
    }
    request_t req = {.registry = ref->registry,
                     .method = "PUT",
                     .path = path,
                     .scope = scope,
                     .headers = {content_type},
                     .body = data,
                     .body_len = (int64_t)len};
    rc = registry_do(c, &req, &resp, error);
    if (rc != REGISTRY_OK)
        goto out;
    if (resp.code != 201 && resp.code != 200) {
        rc = registry_error_from_resp(error, &resp, "PUT manifest", name);
        goto out;
    }
    if (registry_digest_valid(resp.docker_content_digest) &&
        strcmp(resp.docker_content_digest, digest) != 0) {
        rc = registry_error_set(error, REGISTRY_ERR_DIGEST_MISMATCH, resp.code, NULL,
                                "PUT manifest %s: registry stored %s, we sent %s", name,
                                resp.docker_content_digest, digest);
        goto out;
    }
    if (digest_out)
        memcpy(digest_out, digest, REGISTRY_DIGEST_LEN);
    log_v(1, "pushed manifest", "image", name, "digest", digest, NULL);
out:
    response_clear(&resp);
    free(path);
    free(scope);
    free(name);
    free(content_type);
    return rc;
}

/* ---- index selection -------------------------------------------------------------- */

static const char *field_string(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static registry_err_t select_fail(char **err, registry_err_t rc, const char *msg)
{
    if (err)
        *err = util_strdup(msg);
    return rc;
}

registry_err_t registry_index_select(const char *data, size_t len, const char *os,
                                     const char *architecture, const char *variant,
                                     registry_descriptor_t *out, char **err)
{
    if (err)
        *err = NULL;
    if (!data || !os || !architecture)
        return select_fail(err, REGISTRY_ERR_CLIENT, "no index or platform");
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return select_fail(err, REGISTRY_ERR_CLIENT, "out of memory");
    json_object *root = json_tokener_parse_ex(tok, data, (int)(len > INT32_MAX ? INT32_MAX : len));
    bool parsed = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    json_object *manifests = NULL;
    if (!parsed || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "manifests", &manifests) ||
        !json_object_is_type(manifests, json_type_array)) {
        json_object_put(root);
        return select_fail(err, REGISTRY_ERR_MANIFEST_INVALID,
                           "image index is not a JSON object with a \"manifests\" array");
    }
    json_object *best = NULL;
    bool best_exact = false;
    size_t n = json_object_array_length(manifests);
    for (size_t i = 0; i < n; i++) {
        json_object *entry = json_object_array_get_idx(manifests, i);
        json_object *platform = NULL;
        if (!json_object_is_type(entry, json_type_object) ||
            !json_object_object_get_ex(entry, "platform", &platform) ||
            !json_object_is_type(platform, json_type_object))
            continue;
        const char *e_os = field_string(platform, "os");
        const char *e_arch = field_string(platform, "architecture");
        const char *e_variant = field_string(platform, "variant");
        json_object *annotations = NULL;
        json_object_object_get_ex(entry, "annotations", &annotations);
        /* buildkit's attestation manifests (platform unknown/unknown) */
        if (util_streq(e_os, "unknown") || util_streq(e_arch, "unknown") ||
            util_streq(field_string(annotations, "vnd.docker.reference.type"),
                       "attestation-manifest"))
            continue;
        if (!util_streq(e_os, os) || !util_streq(e_arch, architecture))
            continue;
        bool exact;
        if (variant && *variant) {
            if (e_variant && *e_variant && strcmp(e_variant, variant) != 0)
                continue;
            exact = e_variant && strcmp(e_variant, variant) == 0;
        } else {
            exact = !e_variant || !*e_variant;
        }
        if (!best || (exact && !best_exact)) {
            best = entry;
            best_exact = exact;
        }
    }
    if (!best) {
        json_object_put(root);
        if (err)
            *err = util_asprintf("image index has no manifest for %s/%s%s%s", os, architecture,
                                 variant && *variant ? "/" : "", variant ? variant : "");
        return REGISTRY_ERR_UNSUPPORTED;
    }
    const char *digest = field_string(best, "digest");
    if (!registry_digest_valid(digest)) {
        json_object_put(root);
        return select_fail(err, REGISTRY_ERR_MANIFEST_INVALID,
                           "image index entry for the platform has no valid sha256 digest");
    }
    registry_descriptor_t d = REGISTRY_DESCRIPTOR_INIT;
    d.digest = util_strdup(digest);
    d.media_type = util_strdup(field_string(best, "mediaType"));
    json_object *size = NULL;
    if (json_object_object_get_ex(best, "size", &size) && json_object_is_type(size, json_type_int))
        d.size = json_object_get_int64(size);
    json_object_put(root);
    if (!d.digest) {
        registry_descriptor_clear(&d);
        return select_fail(err, REGISTRY_ERR_CLIENT, "out of memory");
    }
    registry_descriptor_clear(out);
    *out = d;
    return REGISTRY_OK;
}
