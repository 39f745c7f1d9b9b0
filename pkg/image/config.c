/*
 * image/config: the image configuration, kept as its JSON document.
 *
 * The document is the model: a helper changes one field and leaves the others alone, so
 * what a builder image's config says that we do not understand (container_config,
 * docker_version, ArgsEscaped, OnBuild, annotations of tomorrow's spec) goes back out
 * unchanged when the new image is committed on top of it.
 */
#include "image/image_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct image_config {
    json_object *root;
};

int image_source_date_epoch(time_t *out)
{
    const char *v = getenv("SOURCE_DATE_EPOCH");
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long secs = strtoll(v, &end, 10);
    if (errno || *end || secs < 0 || end == v || (v[0] < '0' || v[0] > '9'))
        return -1;
    *out = (time_t)secs;
    return 1;
}

int image_created_time(time_t *out)
{
    int rc = image_source_date_epoch(out);
    if (rc < 0)
        return -1;
    if (rc == 0)
        *out = time(NULL);
    return 0;
}

image_config_t *image_config_new(const char *os, const char *architecture)
{
    image_config_t *c = calloc(1, sizeof(*c));
    json_object *root = json_object_new_object();
    json_object *rootfs = json_object_new_object();
    if (!c || !root || !rootfs) {
        free(c);
        json_object_put(root);
        json_object_put(rootfs);
        return NULL;
    }
    c->root = root;
    json_object_object_add(root, "architecture",
                           json_object_new_string(architecture ? architecture : "amd64"));
    json_object_object_add(root, "os", json_object_new_string(os ? os : "linux"));
    json_object_object_add(root, "config", json_object_new_object());
    json_object_object_add(rootfs, "type", json_object_new_string("layers"));
    json_object_object_add(rootfs, "diff_ids", json_object_new_array());
    json_object_object_add(root, "rootfs", rootfs);
    json_object_object_add(root, "history", json_object_new_array());
    if (!image_config_os(c) || !image_config_architecture(c) ||
        !image_json_get(root, "config", json_type_object) ||
        !image_json_get(rootfs, "diff_ids", json_type_array) ||
        !image_json_get(root, "history", json_type_array)) {
        image_config_free(c);
        return NULL;
    }
    return c;
}

void image_config_free(image_config_t *c)
{
    if (!c)
        return;
    json_object_put(c->root);
    free(c);
}

json_object *image_config_json(image_config_t *c)
{
    return c->root;
}

image_err_t image_config_parse(const char *data, size_t len, image_config_t **out, char **err)
{
    if (len > IMAGE_CONFIG_MAX)
        return image_fail(err, IMAGE_ERR_INVALID, "image config: larger than %u bytes",
                          IMAGE_CONFIG_MAX);
    json_object *root = NULL;
    if (image_json_parse(data, len, "image config", &root, err) < 0)
        return IMAGE_ERR_INVALID;
    const char *problem = NULL;
    json_object *v = NULL, *rootfs = NULL, *diff_ids = NULL;
    if (!json_object_is_type(root, json_type_object))
        problem = "not a JSON object";
    else if (!image_json_get(root, "architecture", json_type_string))
        problem = "\"architecture\" is missing or not a string";
    else if (!image_json_get(root, "os", json_type_string))
        problem = "\"os\" is missing or not a string";
    else if (!(rootfs = image_json_get(root, "rootfs", json_type_object)))
        problem = "\"rootfs\" is missing or not an object";
    else if (!(v = image_json_get(rootfs, "type", json_type_string)) ||
             strcmp(json_object_get_string(v), "layers") != 0)
        problem = "rootfs.type is not \"layers\"";
    else if (!(diff_ids = image_json_get(rootfs, "diff_ids", json_type_array)))
        problem = "rootfs.diff_ids is missing or not an array";
    else if (json_object_object_get_ex(root, "config", &v) && v &&
             !json_object_is_type(v, json_type_object))
        problem = "\"config\" is not an object";
    else if (json_object_object_get_ex(root, "history", &v) && v &&
             !json_object_is_type(v, json_type_array))
        problem = "\"history\" is not an array";
    for (size_t i = 0; !problem && diff_ids && i < json_object_array_length(diff_ids); i++) {
        json_object *d = json_object_array_get_idx(diff_ids, i);
        if (!json_object_is_type(d, json_type_string) ||
            !registry_digest_valid(json_object_get_string(d)))
            problem = "rootfs.diff_ids holds something other than sha256 digests";
    }
    if (problem) {
        json_object_put(root);
        return image_fail(err, IMAGE_ERR_INVALID, "image config: %s", problem);
    }
    image_config_t *c = calloc(1, sizeof(*c));
    if (!c) {
        json_object_put(root);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    c->root = root;
    *out = c;
    return IMAGE_OK;
}

image_err_t image_config_encode(const image_config_t *c, char **data, size_t *len,
                                char digest[REGISTRY_DIGEST_LEN])
{
    return image_json_encode(c->root, data, len, digest, NULL);
}

/* config.<...>, created (or replaced when it is null or not an object). */
static json_object *container_config(image_config_t *c)
{
    json_object *cfg = image_json_get(c->root, "config", json_type_object);
    if (cfg)
        return cfg;
    cfg = json_object_new_object();
    if (cfg && json_object_object_add(c->root, "config", cfg) < 0) {
        json_object_put(cfg);
        return NULL;
    }
    return cfg;
}

static int set_field(json_object *obj, const char *key, json_object *value)
{
    if (!obj || !value) {
        json_object_put(value);
        return -1;
    }
    if (json_object_object_add(obj, key, value) < 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static int set_argv(image_config_t *c, const char *field, const char *const *argv, size_t argc)
{
    json_object *cfg = container_config(c);
    if (!cfg)
        return -1;
    if (!argv) {
        json_object_object_del(cfg, field);
        return 0;
    }
    json_object *arr = json_object_new_array_ext((int)argc);
    for (size_t i = 0; arr && i < argc; i++) {
        json_object *s = json_object_new_string(argv[i] ? argv[i] : "");
        if (!s || json_object_array_add(arr, s) < 0) {
            json_object_put(s);
            json_object_put(arr);
            return -1;
        }
    }
    return set_field(cfg, field, arr);
}

int image_config_set_cmd(image_config_t *c, const char *const *argv, size_t argc)
{
    return set_argv(c, "Cmd", argv, argc);
}

int image_config_set_entrypoint(image_config_t *c, const char *const *argv, size_t argc)
{
    return set_argv(c, "Entrypoint", argv, argc);
}

int image_config_set_env(image_config_t *c, const char *name, const char *value)
{
    json_object *cfg = container_config(c);
    if (!cfg || !name || !*name || strchr(name, '='))
        return -1;
    json_object *env = image_json_get(cfg, "Env", json_type_array);
    if (!env) {
        if (!value)
            return 0;
        env = json_object_new_array();
        if (set_field(cfg, "Env", env) < 0)
            return -1;
    }
    size_t name_len = strlen(name);
    char *entry = value ? util_asprintf("%s=%s", name, value) : NULL;
    if (value && !entry)
        return -1;
    int rc = 0;
    bool done = false;
    for (size_t i = 0; i < json_object_array_length(env);) {
        json_object *e = json_object_array_get_idx(env, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
        if (strncmp(s, name, name_len) != 0 || s[name_len] != '=') {
            i++;
            continue;
        }
        if (!value || done) {
            json_object_array_del_idx(env, i, 1);
            continue;
        }
        json_object *n = json_object_new_string(entry);
        if (!n || json_object_array_put_idx(env, i, n) < 0) {
            json_object_put(n);
            rc = -1;
        }
        done = true;
        i++;
    }
    if (value && !done && rc == 0) {
        json_object *n = json_object_new_string(entry);
        if (!n || json_object_array_add(env, n) < 0) {
            json_object_put(n);
            rc = -1;
        }
    }
    free(entry);
    return rc;
}

int image_config_set_label(image_config_t *c, const char *key, const char *value)
{
    json_object *cfg = container_config(c);
    if (!cfg || !key)
        return -1;
    json_object *labels = image_json_get(cfg, "Labels", json_type_object);
    if (!value) {
        if (labels)
            json_object_object_del(labels, key);
        return 0;
    }
    if (!labels) {
        labels = json_object_new_object();
        if (set_field(cfg, "Labels", labels) < 0)
            return -1;
    }
    return set_field(labels, key, json_object_new_string(value));
}

static int set_string(image_config_t *c, const char *field, const char *value)
{
    json_object *cfg = container_config(c);
    if (!cfg)
        return -1;
    if (!value) {
        json_object_object_del(cfg, field);
        return 0;
    }
    return set_field(cfg, field, json_object_new_string(value));
}

int image_config_set_user(image_config_t *c, const char *user)
{
    return set_string(c, "User", user);
}

int image_config_set_workdir(image_config_t *c, const char *dir)
{
    return set_string(c, "WorkingDir", dir);
}

static json_object *rfc3339(time_t t)
{
    char s[32];
    util_format_rfc3339(t, s);
    return json_object_new_string(s);
}

int image_config_set_created(image_config_t *c, time_t t)
{
    return set_field(c->root, "created", rfc3339(t));
}

static json_object *history(image_config_t *c)
{
    json_object *h = image_json_get(c->root, "history", json_type_array);
    if (h)
        return h;
    h = json_object_new_array();
    return set_field(c->root, "history", h) < 0 ? NULL : h;
}

static int add_history(image_config_t *c, time_t when, const char *created_by, const char *comment,
                       bool empty_layer)
{
    json_object *h = history(c);
    json_object *entry = json_object_new_object();
    if (!h || !entry) {
        json_object_put(entry);
        return -1;
    }
    int rc = set_field(entry, "created", rfc3339(when));
    if (rc == 0 && created_by)
        rc = set_field(entry, "created_by", json_object_new_string(created_by));
    if (rc == 0 && comment)
        rc = set_field(entry, "comment", json_object_new_string(comment));
    if (rc == 0 && empty_layer)
        rc = set_field(entry, "empty_layer", json_object_new_boolean(1));
    if (rc < 0 || json_object_array_add(h, entry) < 0) {
        json_object_put(entry);
        return -1;
    }
    return 0;
}

int image_config_add_layer(image_config_t *c, const char *diff_id, time_t when,
                           const char *created_by, const char *comment)
{
    if (!registry_digest_valid(diff_id))
        return -1;
    json_object *rootfs = image_json_get(c->root, "rootfs", json_type_object);
    json_object *ids = image_json_get(rootfs, "diff_ids", json_type_array);
    if (!ids)
        return -1;
    json_object *s = json_object_new_string(diff_id);
    if (!s || json_object_array_add(ids, s) < 0) {
        json_object_put(s);
        return -1;
    }
    if (add_history(c, when, created_by, comment, false) < 0) {
        json_object_array_del_idx(ids, json_object_array_length(ids) - 1, 1);
        return -1;
    }
    return 0;
}

int image_config_add_empty_history(image_config_t *c, time_t when, const char *created_by)
{
    return add_history(c, when, created_by, NULL, true);
}

static const char *root_string(const image_config_t *c, const char *key)
{
    json_object *v = image_json_get(c->root, key, json_type_string);
    return v ? json_object_get_string(v) : NULL;
}

static const char *config_string(const image_config_t *c, const char *key)
{
    json_object *v =
        image_json_get(image_json_get(c->root, "config", json_type_object), key, json_type_string);
    return v ? json_object_get_string(v) : NULL;
}

const char *image_config_os(const image_config_t *c)
{
    return root_string(c, "os");
}

const char *image_config_architecture(const image_config_t *c)
{
    return root_string(c, "architecture");
}

const char *image_config_user(const image_config_t *c)
{
    return config_string(c, "User");
}

const char *image_config_workdir(const image_config_t *c)
{
    return config_string(c, "WorkingDir");
}

const char *image_config_env(const image_config_t *c, const char *name)
{
    json_object *env =
        image_json_get(image_json_get(c->root, "config", json_type_object), "Env", json_type_array);
    size_t n = strlen(name);
    for (size_t i = 0; env && i < json_object_array_length(env); i++) {
        json_object *e = json_object_array_get_idx(env, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
        if (strncmp(s, name, n) == 0 && s[n] == '=')
            return s + n + 1;
    }
    return NULL;
}

const char *image_config_label(const image_config_t *c, const char *key)
{
    json_object *labels = image_json_get(image_json_get(c->root, "config", json_type_object),
                                         "Labels", json_type_object);
    json_object *v = image_json_get(labels, key, json_type_string);
    return v ? json_object_get_string(v) : NULL;
}

static size_t get_argv(const image_config_t *c, const char *field, const char **argv, size_t max)
{
    json_object *arr =
        image_json_get(image_json_get(c->root, "config", json_type_object), field, json_type_array);
    size_t n = arr ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n && i < max; i++) {
        json_object *s = json_object_array_get_idx(arr, i);
        argv[i] = json_object_is_type(s, json_type_string) ? json_object_get_string(s) : "";
    }
    return n;
}

size_t image_config_cmd(const image_config_t *c, const char **argv, size_t max)
{
    return get_argv(c, "Cmd", argv, max);
}

size_t image_config_entrypoint(const image_config_t *c, const char **argv, size_t max)
{
    return get_argv(c, "Entrypoint", argv, max);
}

static json_object *diff_ids(const image_config_t *c)
{
    return image_json_get(image_json_get(c->root, "rootfs", json_type_object), "diff_ids",
                          json_type_array);
}

size_t image_config_diff_ids_len(const image_config_t *c)
{
    json_object *ids = diff_ids(c);
    return ids ? json_object_array_length(ids) : 0;
}

const char *image_config_diff_id(const image_config_t *c, size_t i)
{
    json_object *ids = diff_ids(c);
    if (!ids || i >= json_object_array_length(ids))
        return NULL;
    return json_object_get_string(json_object_array_get_idx(ids, i));
}

size_t image_config_history_len(const image_config_t *c)
{
    json_object *h = image_json_get(c->root, "history", json_type_array);
    return h ? json_object_array_length(h) : 0;
}
