/*
 * build/auth: registry credentials from the Secrets mounted into the build pod, the
 * registry an output image without one goes to (upstream bug sr#38), and URLs made safe
 * to print.
 */
#include "build/build_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const DOCKER_CONFIG_FILES[] = {".dockerconfigjson", ".dockercfg", "config.json"};
static const char *const DOCKER_HUB_ALIASES[] = {"docker.io", "index.docker.io",
                                                 "registry-1.docker.io", "registry.hub.docker.com"};
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

int build_auth_load_dir(const char *dir, registry_auth_config_t **out, char **err)
{
    *out = NULL;
    *err = NULL;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(DOCKER_CONFIG_FILES); i++) {
        char *path = build_path_join(dir, DOCKER_CONFIG_FILES[i]);
        if (!path) {
            *err = util_strdup("out of memory");
            return -1;
        }
        if (access(path, F_OK) < 0) {
            free(path);
            continue;
        }
        char *lerr = NULL;
        int rc = registry_auth_config_load(path, out, &lerr);
        if (rc < 0) {
            *err = util_asprintf("%s: %s", path, lerr ? lerr : "cannot be read");
            free(lerr);
            free(path);
            return -1;
        }
        free(path);
        return 1;
    }
    return 0;
}

/* "https://Host:5000/v1/" -> "host:5000"; Docker Hub's names -> "docker.io". */
static char *registry_host_of(const char *key)
{
    const char *s = strstr(key, "://");
    s = s ? s + 3 : key;
    size_t n = strcspn(s, "/");
    char *host = util_asprintf("%.*s", (int)n, s);
    if (!host)
        return NULL;
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(DOCKER_HUB_ALIASES); i++) {
        if (strcmp(host, DOCKER_HUB_ALIASES[i]) == 0) {
            free(host);
            return util_strdup(REGISTRY_DOCKER_HUB);
        }
    }
    return host;
}

char **build_auth_registries(const char *json, size_t len)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    bool ok = root && json_tokener_get_error(tok) == json_tokener_success &&
              json_object_is_type(root, json_type_object);
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(root);
        return NULL;
    }
    json_object *auths = NULL;
    if (!json_object_object_get_ex(root, "auths", &auths))
        auths = root; /* legacy .dockercfg: the map itself */
    char **out = calloc(1, sizeof(char *));
    size_t n = 0;
    if (out && json_object_is_type(auths, json_type_object)) {
        json_object_object_foreach(auths, key, val)
        {
            (void)val;
            char *host = registry_host_of(key);
            if (!host || build_strv_push(&out, &n, host) < 0) {
                free(host);
                build_strv_free(out);
                out = NULL;
                break;
            }
            free(host);
        }
    }
    json_object_put(root);
    return out;
}

bool build_ref_has_registry(const char *image)
{
    const char *slash = strchr(image, '/');
    if (!slash)
        return false;
    size_t n = (size_t)(slash - image);
    if (n == 9 && strncmp(image, "localhost", 9) == 0)
        return true;
    return memchr(image, '.', n) || memchr(image, ':', n);
}

/* The one registry a push Secret has credentials for, or NULL. */
static char *secret_registry(const char *push_dir)
{
    for (size_t i = 0; push_dir && i < UTIL_ARRAY_LEN(DOCKER_CONFIG_FILES); i++) {
        char *path = build_path_join(push_dir, DOCKER_CONFIG_FILES[i]);
        size_t len = 0;
        char *data = path ? util_read_file(path, &len) : NULL;
        free(path);
        if (!data)
            continue;
        char **regs = build_auth_registries(data, len);
        free(data);
        char *one = regs && build_strv_len(regs) == 1 ? util_strdup(regs[0]) : NULL;
        build_strv_free(regs);
        return one;
    }
    return NULL;
}

char *build_resolve_output_image(const char *image, const char *server_address,
                                 const char *push_dir, char **err)
{
    *err = NULL;
    char *resolved = NULL;
    if (build_ref_has_registry(image)) {
        resolved = util_strdup(image);
    } else {
        char *registry = server_address && *server_address ? registry_host_of(server_address)
                                                           : secret_registry(push_dir);
        if (registry && strcmp(registry, REGISTRY_DOCKER_HUB) != 0)
            resolved = util_asprintf("%s/%s", registry, image);
        else
            resolved = util_strdup(image);
        free(registry);
    }
    if (!resolved) {
        *err = util_strdup("out of memory");
        return NULL;
    }
    registry_ref_t ref = REGISTRY_REF_INIT;
    char *rerr = NULL;
    if (registry_ref_parse(resolved, &ref, &rerr) < 0) {
        *err = util_asprintf("image %s: %s", resolved, rerr ? rerr : "invalid reference");
        free(rerr);
        free(resolved);
        return NULL;
    }
    registry_ref_clear(&ref);
    return resolved;
}

static int set_secret_credentials(registry_client_t *c, const char *dir, const char *registry,
                                  const registry_auth_config_t *primary, char **err)
{
    registry_credentials_t mine = REGISTRY_CREDENTIALS_INIT;
    /* The primary Secret's own entry for that registry wins. */
    if (primary && registry_auth_config_lookup(primary, registry, &mine) == 1) {
        registry_credentials_clear(&mine);
        return 0;
    }
    registry_auth_config_t *cfg = NULL;
    int rc = build_auth_load_dir(dir, &cfg, err);
    if (rc <= 0)
        return rc;
    registry_credentials_t cred = REGISTRY_CREDENTIALS_INIT;
    rc = registry_auth_config_lookup(cfg, registry, &cred);
    if (rc == 1)
        rc = registry_client_set_credentials(c, registry, cred.username, cred.password);
    if (rc < 0)
        *err = util_asprintf("%s: unusable credentials for %s", dir, registry);
    registry_credentials_clear(&cred);
    registry_auth_config_free(cfg);
    return rc < 0 ? -1 : 0;
}

registry_client_t *build_registry_client(const build_config_t *cfg, const char *tools_dir,
                                         build_secret_t kind, build_secret_t also,
                                         const char *also_registry, char **err)
{
    *err = NULL;
    registry_client_options_t opts;
    registry_client_options_default(&opts);
    char *ca = NULL;
    /* A builder image without CA certificates (busybox, distroless static) still verifies
     * TLS registries, with the bundle's copy of the prepare image's certificates. */
    if (access(SYSTEM_CA_BUNDLE, R_OK) < 0 && tools_dir) {
        ca = build_path_join(tools_dir, "certs/ca-certificates.crt");
        if (ca && access(ca, R_OK) == 0)
            opts.ca_file = ca;
    }
    registry_client_t *c = registry_client_new(&opts);
    free(ca);
    if (!c) {
        *err = util_strdup("cannot create a registry client");
        return NULL;
    }
    for (size_t i = 0; i < cfg->insecure_len; i++) {
        if (registry_client_set_insecure(c, cfg->insecure_registries[i], true) < 0) {
            *err = util_strdup("out of memory");
            registry_client_free(c);
            return NULL;
        }
    }
    registry_auth_config_t *primary = NULL;
    const char *dir = build_config_secret(cfg, kind);
    if (dir && build_auth_load_dir(dir, &primary, err) < 0) {
        registry_client_free(c);
        return NULL;
    }
    const char *also_dir = build_config_secret(cfg, also);
    if (also_dir && also_registry &&
        set_secret_credentials(c, also_dir, also_registry, primary, err) < 0) {
        registry_auth_config_free(primary);
        registry_client_free(c);
        return NULL;
    }
    if (primary)
        registry_client_set_auth_config(c, primary);
    return c;
}
