/*
 * build/scripts: where the S2I scripts come from. Each script is looked up on its own,
 * in S2I's order: config.scriptsUrl, the source's .s2i/bin, config.imageScriptsUrl, the
 * builder image's label io.openshift.s2i.scripts-url, image:///usr/libexec/s2i. A script
 * found outside the image (a file:// or http(s):// scriptsUrl, .s2i/bin) is copied to
 * <destination>/scripts, so the built image still has its run script.
 */
#include "build/build_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOWNLOAD_TIMEOUT 120L

int build_scripts_url_parse(const char *url, build_scripts_url_t *out, char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    if (!url || !*url) {
        *err = util_strdup("empty scripts URL");
        return -1;
    }
    const char *rest = NULL;
    if (util_has_prefix(url, "image://")) {
        out->kind = BUILD_SCRIPTS_IMAGE;
        rest = url + 8;
    } else if (util_has_prefix(url, "file://")) {
        out->kind = BUILD_SCRIPTS_FILE;
        rest = url + 7;
    } else if (util_has_prefix(url, "http://") || util_has_prefix(url, "https://")) {
        out->kind = BUILD_SCRIPTS_HTTP;
        rest = url;
    } else if (url[0] == '/') {
        out->kind = BUILD_SCRIPTS_FILE;
        rest = url;
    } else {
        *err = util_asprintf("scripts URL %s: expected image://, file://, http(s):// or an "
                             "absolute path",
                             url);
        return -1;
    }
    if (out->kind != BUILD_SCRIPTS_HTTP && rest[0] != '/') {
        *err = util_asprintf("scripts URL %s: the path must be absolute", url);
        return -1;
    }
    size_t n = strlen(rest);
    while (n > 1 && rest[n - 1] == '/')
        n--;
    out->location = util_asprintf("%.*s", (int)n, rest);
    if (!out->location) {
        *err = util_strdup("out of memory");
        return -1;
    }
    return 0;
}

void build_scripts_url_clear(build_scripts_url_t *u)
{
    if (!u)
        return;
    free(u->location);
    u->location = NULL;
}

void build_scripts_clear(build_scripts_t *s)
{
    if (!s)
        return;
    free(s->assemble);
    free(s->run);
    free(s->save_artifacts);
    free(s->assemble_runtime);
    memset(s, 0, sizeof(*s));
}

static size_t write_file_cb(char *data, size_t size, size_t n, void *userdata)
{
    return fwrite(data, size, n, userdata) * size;
}

/* GET url into path; 1 when downloaded, 0 when the server has no such file (404), -1 on
 * any other failure (logged). */
static int download(const build_config_t *cfg, const char *url, const char *path)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    CURL *curl = curl_easy_init();
    if (!curl) {
        fclose(f);
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_file_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, DOWNLOAD_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    const api_proxy_config_t *proxy = cfg->s2i->script_download_proxy_config;
    if (proxy) {
        const char *p = util_has_prefix(url, "https:") ? proxy->https_proxy : proxy->http_proxy;
        if (p && *p)
            curl_easy_setopt(curl, CURLOPT_PROXY, p);
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    bool closed = fclose(f) == 0;
    char *safe = util_url_without_credentials(url);
    int result = -1;
    if (rc == CURLE_OK && status == 200 && closed) {
        result = 1;
    } else if (rc == CURLE_OK && status == 404) {
        result = 0;
    } else {
        char code[16];
        snprintf(code, sizeof(code), "%ld", status);
        log_warn("script download failed", "url", safe ? safe : "", "status", code, "error",
                 curl_easy_strerror(rc), NULL);
    }
    free(safe);
    if (result != 1)
        unlink(path);
    return result;
}

typedef struct finder {
    const build_config_t *cfg;
    const char *destination;
    const char *work_dir;
    build_error_t *error;
} finder_t;

/* Copies a script found outside the image to <destination>/scripts/<name>; returns that
 * path (malloc'd) or NULL with the error set. */
static char *inject(finder_t *f, const char *from, const char *name)
{
    char *dir = build_path_join(f->destination, "scripts");
    char *to = dir ? build_path_join(dir, name) : NULL;
    size_t len = 0;
    char *data = from ? util_read_file(from, &len) : NULL;
    if (!to || !data || build_mkdirs(dir, 0755) < 0 || build_write_file(to, data, len, 0755) < 0) {
        build_error_set(f->error, BUILD_ERR_SCRIPTS_NOT_FOUND, "cannot install the %s script: %s",
                        name, strerror(errno));
        free(to);
        to = NULL;
    }
    free(data);
    free(dir);
    return to;
}

/* The script `name` at one location; NULL when not there (or on error, with it set). */
static char *look(finder_t *f, const build_scripts_url_t *u, const char *name, bool injected)
{
    if (u->kind == BUILD_SCRIPTS_HTTP) {
        char *url = util_asprintf("%s/%s", u->location, name);
        char *dir = build_path_join(f->work_dir, "scripts");
        char *path = dir ? build_path_join(dir, name) : NULL;
        char *found = NULL;
        if (url && path && build_mkdirs(dir, 0755) == 0) {
            int rc = download(f->cfg, url, path);
            if (rc == 1)
                found = inject(f, path, name);
            else if (rc < 0)
                build_error_set(f->error, BUILD_ERR_SCRIPTS_NOT_FOUND,
                                "cannot download the %s script from the scripts URL", name);
        }
        free(url);
        free(dir);
        free(path);
        return found;
    }
    char *path = build_path_join(u->location, name);
    struct stat st;
    if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return NULL;
    }
    if (!injected)
        return path;
    char *to = inject(f, path, name);
    free(path);
    return to;
}

build_err_t build_scripts_find(const build_config_t *cfg, const image_config_t *image,
                               const char *source_dir, const char *destination,
                               const char *work_dir, bool runtime, build_scripts_t *out,
                               build_error_t *error)
{
    memset(out, 0, sizeof(*out));
    finder_t f = {cfg, destination, work_dir, error};
    build_scripts_url_t locations[5];
    bool injected[5];
    size_t n = 0;
    const char *urls[5] = {
        runtime ? NULL : cfg->s2i->scripts_url,
        NULL, /* the source's .s2i/bin */
        runtime ? NULL : cfg->s2i->image_scripts_url,
        image ? image_config_label(image, BUILD_LABEL_SCRIPTS_URL) : NULL,
        BUILD_DEFAULT_SCRIPTS_URL,
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(urls); i++) {
        char *err = NULL;
        if (i == 1) {
            if (runtime || !source_dir)
                continue;
            char *bin = build_path_join(source_dir, ".s2i/bin");
            if (!bin)
                return build_error_set(error, BUILD_ERR_INTERNAL, "out of memory");
            locations[n] = (build_scripts_url_t){BUILD_SCRIPTS_FILE, bin};
            injected[n++] = true;
            continue;
        }
        if (!urls[i] || !*urls[i])
            continue;
        if (build_scripts_url_parse(urls[i], &locations[n], &err) < 0) {
            build_error_set(error, i == 3 ? BUILD_ERR_SCRIPTS_NOT_FOUND : BUILD_ERR_INVALID_CONFIG,
                            "%s", err ? err : "out of memory");
            free(err);
            for (size_t j = 0; j < n; j++)
                build_scripts_url_clear(&locations[j]);
            return error->err;
        }
        injected[n] = locations[n].kind != BUILD_SCRIPTS_IMAGE;
        n++;
    }
    const char *names[] = {runtime ? "assemble-runtime" : "assemble", "run",
                           runtime ? NULL : "save-artifacts"};
    char **slots[] = {runtime ? &out->assemble_runtime : &out->assemble, &out->run,
                      &out->save_artifacts};
    for (size_t s = 0; s < UTIL_ARRAY_LEN(names) && error->err == BUILD_OK; s++) {
        if (!names[s])
            continue;
        for (size_t i = 0; i < n && !*slots[s] && error->err == BUILD_OK; i++)
            *slots[s] = look(&f, &locations[i], names[s], injected[i]);
    }
    for (size_t j = 0; j < n; j++)
        build_scripts_url_clear(&locations[j]);
    if (error->err != BUILD_OK) {
        build_scripts_clear(out);
        return error->err;
    }
    if (!runtime && !out->assemble)
        build_error_set(error, BUILD_ERR_SCRIPTS_NOT_FOUND,
                        "no assemble script in the scripts URL, the source's .s2i/bin or the "
                        "image (label " BUILD_LABEL_SCRIPTS_URL ", default /usr/libexec/s2i)");
    else if (!out->run)
        build_error_set(error, BUILD_ERR_SCRIPTS_NOT_FOUND,
                        "no run script in the scripts URL, the source's .s2i/bin or the image "
                        "(label " BUILD_LABEL_SCRIPTS_URL ", default /usr/libexec/s2i)");
    if (error->err != BUILD_OK)
        build_scripts_clear(out);
    return error->err;
}
