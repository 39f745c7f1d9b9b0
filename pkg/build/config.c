/*
 * build/config: the build configuration the operator projects into the pod
 * (/etc/s2i/config.json, kind S2iBuildConfig; controller/jobspec.h has the contract).
 * spec.config is decoded by pkg/api, as the operator reads it, so a key the console
 * spells "SourceURL" means the same here and there.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const SECRET_KINDS[BUILD_SECRET_COUNT] = {
    [BUILD_SECRET_PUSH] = "push",       [BUILD_SECRET_PULL] = "pull",
    [BUILD_SECRET_RUNTIME] = "runtime", [BUILD_SECRET_INCREMENTAL] = "incremental",
    [BUILD_SECRET_GIT] = "git",
};

void build_paths_default(build_paths_t *p)
{
    const char *config = getenv("S2I_CONFIG_PATH");
    p->config = config && *config ? config : BUILD_CONFIG_PATH;
    p->tools = BUILD_TOOLS_DIR;
    p->source = BUILD_SOURCE_DIR;
    p->work = BUILD_WORK_DIR;
    p->termination_log = BUILD_TERMINATION_LOG;
    p->bundle = NULL;
    p->self = NULL;
}

void build_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

void build_config_free(build_config_t *c)
{
    if (!c)
        return;
    api_s2i_config_free(c->s2i);
    free(c->output_image);
    free(c->source_url);
    free(c->revision_id);
    free(c->run_namespace);
    free(c->run_name);
    free(c->run_uid);
    free(c->run_builder);
    for (size_t i = 0; i < BUILD_SECRET_COUNT; i++)
        free(c->secrets[i]);
    build_strv_free(c->insecure_registries);
    free(c);
}

/* A string member: NULL when absent or null, -1 (with *err) when of another type. */
static int get_string(json_object *obj, const char *key, const char *where, char **out, char **err)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string)) {
        *err = util_asprintf("%s%s: expected string", where, key);
        return -1;
    }
    *out = util_strdup(json_object_get_string(v));
    if (!*out) {
        *err = util_strdup("out of memory");
        return -1;
    }
    return 0;
}

/* An absolute path that does not climb (the operator writes BUILD_SECRETS_DIR/<kind>). */
static bool secret_dir_ok(const char *dir)
{
    return dir[0] == '/' && !strstr(dir, "/../") && !util_has_suffix(dir, "/..");
}

static int parse_run(build_config_t *c, json_object *root, char **err)
{
    json_object *run = NULL;
    if (!json_object_object_get_ex(root, "run", &run) || !run)
        return 0;
    if (!json_object_is_type(run, json_type_object)) {
        *err = util_strdup("run: expected object");
        return -1;
    }
    if (get_string(run, "namespace", "run.", &c->run_namespace, err) < 0 ||
        get_string(run, "name", "run.", &c->run_name, err) < 0 ||
        get_string(run, "uid", "run.", &c->run_uid, err) < 0 ||
        get_string(run, "builder", "run.", &c->run_builder, err) < 0)
        return -1;
    return 0;
}

static int parse_secrets(build_config_t *c, json_object *root, char **err)
{
    json_object *secrets = NULL;
    if (!json_object_object_get_ex(root, "secrets", &secrets) || !secrets)
        return 0;
    if (!json_object_is_type(secrets, json_type_object)) {
        *err = util_strdup("secrets: expected object");
        return -1;
    }
    for (size_t i = 0; i < BUILD_SECRET_COUNT; i++) {
        if (get_string(secrets, SECRET_KINDS[i], "secrets.", &c->secrets[i], err) < 0)
            return -1;
        if (c->secrets[i] && !secret_dir_ok(c->secrets[i])) {
            *err = util_asprintf("secrets.%s: %s is not an absolute path", SECRET_KINDS[i],
                                 c->secrets[i]);
            return -1;
        }
    }
    return 0;
}

static int parse_insecure(build_config_t *c, json_object *root, char **err)
{
    json_object *list = NULL;
    c->insecure_registries = calloc(1, sizeof(char *));
    if (!c->insecure_registries) {
        *err = util_strdup("out of memory");
        return -1;
    }
    if (!json_object_object_get_ex(root, "insecureRegistries", &list) || !list)
        return 0;
    if (!json_object_is_type(list, json_type_array)) {
        *err = util_strdup("insecureRegistries: expected array");
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_string)) {
            *err = util_asprintf("insecureRegistries[%zu]: expected string", i);
            return -1;
        }
        if (build_strv_push(&c->insecure_registries, &c->insecure_len, json_object_get_string(v)) <
            0) {
            *err = util_strdup("out of memory");
            return -1;
        }
    }
    return 0;
}

static int parse_document(build_config_t *c, json_object *root, char **err)
{
    if (!json_object_is_type(root, json_type_object)) {
        *err = util_strdup("the build configuration is not a JSON object");
        return -1;
    }
    json_object *v = NULL;
    if (!json_object_object_get_ex(root, "kind", &v) ||
        !util_streq(json_object_get_string(v), "S2iBuildConfig")) {
        *err = util_strdup("kind: expected S2iBuildConfig");
        return -1;
    }
    if (!json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) != 1) {
        *err = util_strdup("version: expected 1");
        return -1;
    }
    json_object *config = NULL;
    if (!json_object_object_get_ex(root, "config", &config) ||
        !json_object_is_type(config, json_type_object)) {
        *err = util_strdup("config: expected object");
        return -1;
    }
    char *derr = NULL;
    if (api_s2i_config_decode(config, &c->s2i, &derr) < 0) {
        *err = util_asprintf("config.%s", derr ? derr : "out of memory");
        free(derr);
        return -1;
    }
    if (get_string(root, "outputImage", "", &c->output_image, err) < 0 ||
        get_string(root, "sourceUrl", "", &c->source_url, err) < 0 ||
        get_string(root, "revisionId", "", &c->revision_id, err) < 0)
        return -1;
    if (!c->output_image || !*c->output_image) {
        *err = util_strdup("outputImage: required");
        return -1;
    }
    registry_ref_t ref = REGISTRY_REF_INIT;
    char *rerr = NULL;
    if (registry_ref_parse(c->output_image, &ref, &rerr) < 0) {
        *err = util_asprintf("outputImage: %s", rerr ? rerr : "invalid reference");
        free(rerr);
        return -1;
    }
    registry_ref_clear(&ref);
    if (!c->source_url)
        c->source_url = util_strdup(c->s2i->source_url ? c->s2i->source_url : "");
    if (!c->revision_id)
        c->revision_id = util_strdup(c->s2i->revision_id ? c->s2i->revision_id : "");
    if (!c->source_url || !c->revision_id) {
        *err = util_strdup("out of memory");
        return -1;
    }
    if (parse_run(c, root, err) < 0 || parse_secrets(c, root, err) < 0 ||
        parse_insecure(c, root, err) < 0)
        return -1;
    return 0;
}

int build_config_parse(const char *json, size_t len, build_config_t **out, char **err)
{
    *out = NULL;
    *err = NULL;
    json_tokener *tok = json_tokener_new_ex(IMAGE_JSON_MAX_DEPTH);
    if (!tok) {
        *err = util_strdup("out of memory");
        return -1;
    }
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        *err =
            util_asprintf("the build configuration is not JSON: %s", json_tokener_error_desc(jerr));
        json_object_put(root);
        return -1;
    }
    build_config_t *c = calloc(1, sizeof(*c));
    if (!c) {
        json_object_put(root);
        *err = util_strdup("out of memory");
        return -1;
    }
    int rc = parse_document(c, root, err);
    json_object_put(root);
    if (rc < 0) {
        build_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int build_config_load(const char *path, build_config_t **out, char **err)
{
    size_t len = 0;
    char *data = util_read_file(path, &len);
    if (!data) {
        *out = NULL;
        *err = util_asprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = build_config_parse(data, len, out, err);
    free(data);
    return rc;
}

const char *build_config_secret(const build_config_t *c, build_secret_t kind)
{
    if (!c || (size_t)kind >= BUILD_SECRET_COUNT)
        return NULL;
    return c->secrets[kind];
}

char **build_config_environment(const build_config_t *c)
{
    char **env = calloc(1, sizeof(char *));
    size_t len = 0;
    if (!env)
        return NULL;
    for (size_t i = 0; i < c->s2i->environment_len; i++) {
        const api_environment_spec_t *e = &c->s2i->environment[i];
        if (!e->name || !*e->name)
            continue;
        size_t n = strlen(e->name);
        /* A later entry of the same name replaces the earlier one, in its place. */
        size_t j = 0;
        for (; j < len; j++)
            if (strncmp(env[j], e->name, n) == 0 && env[j][n] == '=')
                break;
        char *kv = util_asprintf("%s=%s", e->name, e->value ? e->value : "");
        if (!kv) {
            build_strv_free(env);
            return NULL;
        }
        if (j < len) {
            free(env[j]);
            env[j] = kv;
            continue;
        }
        char **grown = realloc(env, (len + 2) * sizeof(char *));
        if (!grown) {
            free(kv);
            build_strv_free(env);
            return NULL;
        }
        env = grown;
        env[len++] = kv;
        env[len] = NULL;
    }
    return env;
}
