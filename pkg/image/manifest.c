/*
 * image/manifest: the image manifest, kept as its JSON document (see config.c for why).
 *
 * Two flavours exist with the same shape: OCI and Docker v2 schema 2. They differ only in
 * media types, so converting one into the other is a rename of the manifest, config and
 * layer types; the digests do not change because the blobs do not.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

struct image_manifest {
    json_object *root;
    char *media_type;
};

static const struct {
    const char *docker;
    const char *oci;
} type_pairs[] = {
    {REGISTRY_MEDIA_DOCKER_MANIFEST, REGISTRY_MEDIA_OCI_MANIFEST},
    {IMAGE_MEDIA_DOCKER_CONFIG, IMAGE_MEDIA_OCI_CONFIG},
    {IMAGE_MEDIA_DOCKER_LAYER_GZIP, IMAGE_MEDIA_OCI_LAYER_GZIP},
    {IMAGE_MEDIA_DOCKER_LAYER_FOREIGN, IMAGE_MEDIA_OCI_LAYER_NONDIST},
    {"application/vnd.docker.image.rootfs.diff.tar", IMAGE_MEDIA_OCI_LAYER_TAR},
};

static bool is_docker(const char *manifest_type)
{
    return util_streq(manifest_type, REGISTRY_MEDIA_DOCKER_MANIFEST);
}

image_manifest_t *image_manifest_new(const char *media_type)
{
    if (!registry_media_type_is_manifest(media_type))
        return NULL;
    image_manifest_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->root = json_object_new_object();
    m->media_type = util_strdup(media_type);
    json_object *layers = json_object_new_array();
    if (!m->root || !m->media_type || !layers) {
        json_object_put(layers);
        image_manifest_free(m);
        return NULL;
    }
    json_object_object_add(m->root, "schemaVersion", json_object_new_int(2));
    json_object_object_add(m->root, "mediaType", json_object_new_string(media_type));
    json_object_object_add(m->root, "layers", layers);
    if (!image_json_get(m->root, "mediaType", json_type_string) ||
        !image_json_get(m->root, "schemaVersion", json_type_int)) {
        image_manifest_free(m);
        return NULL;
    }
    return m;
}

void image_manifest_free(image_manifest_t *m)
{
    if (!m)
        return;
    json_object_put(m->root);
    free(m->media_type);
    free(m);
}

json_object *image_manifest_json(image_manifest_t *m)
{
    return m->root;
}

const char *image_manifest_media_type(const image_manifest_t *m)
{
    return m->media_type;
}

/* A descriptor must name a type, a sha256 digest and a size. */
static const char *descriptor_problem(json_object *d)
{
    if (!json_object_is_type(d, json_type_object))
        return "is not an object";
    if (!image_json_get(d, "mediaType", json_type_string))
        return "has no mediaType";
    json_object *digest = image_json_get(d, "digest", json_type_string);
    if (!digest || !registry_digest_valid(json_object_get_string(digest)))
        return "has no valid sha256 digest";
    json_object *size = image_json_get(d, "size", json_type_int);
    if (!size || json_object_get_int64(size) < 0)
        return "has no valid size";
    return NULL;
}

image_err_t image_manifest_parse(const char *data, size_t len, const char *media_type,
                                 image_manifest_t **out, char **err)
{
    if (len > REGISTRY_MANIFEST_MAX)
        return image_fail(err, IMAGE_ERR_INVALID, "manifest: larger than %u bytes",
                          REGISTRY_MANIFEST_MAX);
    json_object *root = NULL;
    if (image_json_parse(data, len, "manifest", &root, err) < 0)
        return IMAGE_ERR_INVALID;
    json_object *v = NULL, *layers = NULL;
    const char *type = NULL, *problem = NULL, *which = NULL;
    size_t bad_layer = 0;
    if (!json_object_is_type(root, json_type_object)) {
        problem = "is not a JSON object";
    } else {
        v = image_json_get(root, "mediaType", json_type_string);
        type = v            ? json_object_get_string(v)
               : media_type ? media_type
                            : REGISTRY_MEDIA_OCI_MANIFEST;
        v = image_json_get(root, "schemaVersion", json_type_int);
        layers = image_json_get(root, "layers", json_type_array);
        if (registry_media_type_is_index(type) ||
            image_json_get(root, "manifests", json_type_array))
            problem = "is an image index, not an image manifest";
        else if (!registry_media_type_is_manifest(type))
            problem = "has an unsupported media type";
        else if (!v || json_object_get_int(v) != 2)
            problem = "schemaVersion is not 2";
        else if (!json_object_object_get_ex(root, "config", &v) || !v)
            problem = "has no config descriptor";
        else if ((problem = descriptor_problem(v)))
            which = "config";
        else if (!layers)
            problem = "has no layers array";
        for (size_t i = 0; !problem && i < json_object_array_length(layers); i++) {
            if ((problem = descriptor_problem(json_object_array_get_idx(layers, i)))) {
                which = "layer";
                bad_layer = i;
            }
        }
    }
    if (problem) {
        image_err_t rc;
        if (which && strcmp(which, "layer") == 0)
            rc = image_fail(err, IMAGE_ERR_INVALID, "manifest: layer %zu %s", bad_layer, problem);
        else
            rc = image_fail(err, IMAGE_ERR_INVALID, "manifest%s%s %s", which ? ": " : "",
                            which ? which : "", problem);
        json_object_put(root);
        return rc;
    }
    image_manifest_t *m = calloc(1, sizeof(*m));
    if (!m || !(m->media_type = util_strdup(type))) {
        free(m);
        json_object_put(root);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    m->root = root;
    *out = m;
    return IMAGE_OK;
}

static json_object *new_descriptor(const char *media_type, const char *digest, int64_t size)
{
    json_object *d = json_object_new_object();
    json_object *t = json_object_new_string(media_type);
    json_object *s = json_object_new_int64(size);
    json_object *g = json_object_new_string(digest);
    if (!d || !t || !s || !g) {
        json_object_put(d);
        json_object_put(t);
        json_object_put(s);
        json_object_put(g);
        return NULL;
    }
    /* the order docker and the OCI examples use */
    json_object_object_add(d, "mediaType", t);
    json_object_object_add(d, "digest", g);
    json_object_object_add(d, "size", s);
    return d;
}

int image_manifest_set_config(image_manifest_t *m, const char *media_type, const char *digest,
                              int64_t size)
{
    if (!registry_digest_valid(digest) || size < 0)
        return -1;
    if (!media_type)
        media_type = is_docker(m->media_type) ? IMAGE_MEDIA_DOCKER_CONFIG : IMAGE_MEDIA_OCI_CONFIG;
    json_object *d = new_descriptor(media_type, digest, size);
    if (!d || json_object_object_add(m->root, "config", d) < 0) {
        json_object_put(d);
        return -1;
    }
    return 0;
}

int image_manifest_add_layer(image_manifest_t *m, const char *media_type, const char *digest,
                             int64_t size)
{
    if (!registry_digest_valid(digest) || size < 0)
        return -1;
    json_object *layers = image_json_get(m->root, "layers", json_type_array);
    if (!layers) {
        layers = json_object_new_array();
        if (!layers || json_object_object_add(m->root, "layers", layers) < 0) {
            json_object_put(layers);
            return -1;
        }
    }
    if (!media_type)
        media_type =
            is_docker(m->media_type) ? IMAGE_MEDIA_DOCKER_LAYER_GZIP : IMAGE_MEDIA_OCI_LAYER_GZIP;
    json_object *d = new_descriptor(media_type, digest, size);
    if (!d || json_object_array_add(layers, d) < 0) {
        json_object_put(d);
        return -1;
    }
    return 0;
}

static int view(json_object *d, image_descriptor_t *out)
{
    json_object *t = image_json_get(d, "mediaType", json_type_string);
    json_object *g = image_json_get(d, "digest", json_type_string);
    json_object *s = image_json_get(d, "size", json_type_int);
    if (!g)
        return -1;
    out->media_type = t ? json_object_get_string(t) : NULL;
    out->digest = json_object_get_string(g);
    out->size = s ? json_object_get_int64(s) : -1;
    return 0;
}

int image_manifest_config(const image_manifest_t *m, image_descriptor_t *out)
{
    return view(image_json_get(m->root, "config", json_type_object), out);
}

size_t image_manifest_layers_len(const image_manifest_t *m)
{
    json_object *layers = image_json_get(m->root, "layers", json_type_array);
    return layers ? json_object_array_length(layers) : 0;
}

int image_manifest_layer(const image_manifest_t *m, size_t i, image_descriptor_t *out)
{
    json_object *layers = image_json_get(m->root, "layers", json_type_array);
    if (!layers || i >= json_object_array_length(layers))
        return -1;
    return view(json_object_array_get_idx(layers, i), out);
}

/* The other flavour's name for a type: NULL when there is none, the type itself when it
 * is already right. */
static const char *convert_type(const char *type, bool to_docker)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(type_pairs); i++) {
        if (util_streq(type, to_docker ? type_pairs[i].docker : type_pairs[i].oci))
            return type;
        if (util_streq(type, to_docker ? type_pairs[i].oci : type_pairs[i].docker))
            return to_docker ? type_pairs[i].docker : type_pairs[i].oci;
    }
    return NULL;
}

static int rename_type(json_object *d, bool to_docker, char **err, const char *what)
{
    json_object *t = image_json_get(d, "mediaType", json_type_string);
    const char *now = t ? json_object_get_string(t) : NULL;
    const char *next = convert_type(now, to_docker);
    if (!next) {
        image_fail(err, IMAGE_ERR_UNSUPPORTED, "manifest: %s type %s has no %s equivalent", what,
                   now ? now : "(none)", to_docker ? "Docker" : "OCI");
        return -1;
    }
    if (next == now)
        return 0;
    json_object *s = json_object_new_string(next);
    if (!s || json_object_object_add(d, "mediaType", s) < 0) {
        json_object_put(s);
        image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

image_err_t image_manifest_convert(image_manifest_t *m, const char *media_type, char **err)
{
    if (!registry_media_type_is_manifest(media_type))
        return image_fail(err, IMAGE_ERR_INVALID, "manifest: cannot convert to %s",
                          media_type ? media_type : "(none)");
    if (strcmp(media_type, m->media_type) == 0)
        return IMAGE_OK;
    bool to_docker = is_docker(media_type);
    /* check everything first so a refused conversion changes nothing */
    json_object *config = image_json_get(m->root, "config", json_type_object);
    json_object *layers = image_json_get(m->root, "layers", json_type_array);
    size_t n = layers ? json_object_array_length(layers) : 0;
    json_object *t = image_json_get(config, "mediaType", json_type_string);
    if (config && !convert_type(t ? json_object_get_string(t) : NULL, to_docker))
        return image_fail(err, IMAGE_ERR_UNSUPPORTED,
                          "manifest: config type %s has no %s "
                          "equivalent",
                          t ? json_object_get_string(t) : "(none)", to_docker ? "Docker" : "OCI");
    for (size_t i = 0; i < n; i++) {
        t = image_json_get(json_object_array_get_idx(layers, i), "mediaType", json_type_string);
        if (!convert_type(t ? json_object_get_string(t) : NULL, to_docker))
            return image_fail(
                err, IMAGE_ERR_UNSUPPORTED, "manifest: layer %zu type %s has no %s equivalent", i,
                t ? json_object_get_string(t) : "(none)", to_docker ? "Docker" : "OCI");
    }
    /* everything was checked above: only memory can fail now */
    if (config && rename_type(config, to_docker, err, "config") < 0)
        return IMAGE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (rename_type(json_object_array_get_idx(layers, i), to_docker, err, "layer") < 0)
            return IMAGE_ERR_NOMEM;
    char *copy = util_strdup(media_type);
    json_object *s = json_object_new_string(media_type);
    if (!copy || !s || json_object_object_add(m->root, "mediaType", s) < 0) {
        free(copy);
        json_object_put(s);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    free(m->media_type);
    m->media_type = copy;
    return IMAGE_OK;
}

image_err_t image_manifest_encode(const image_manifest_t *m, char **data, size_t *len,
                                  char digest[REGISTRY_DIGEST_LEN])
{
    return image_json_encode(m->root, data, len, digest, NULL);
}
