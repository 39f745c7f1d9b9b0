/*
 * build/artifacts: the runtime artifacts of a phased build, from the builder's file system
 * (step build) into the runtime image (step runtime), through one tar in /s2i/work.
 *
 * The tar holds "<i>/<basename of artifact i's source>[/...]" and artifacts.json with each
 * artifact's destination; the runtime side decides where a relative destination goes,
 * since only it knows the runtime image's working directory. Owners on the runtime side
 * are the runtime image's user: the builder's user ids mean nothing there.
 */
#include "build/build_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARTIFACTS_INDEX "artifacts.json"

typedef struct entry {
    char *name; /* tar entry name, the sort key */
    char *disk; /* NULL: a directory entry made up (mode 0755) */
} entry_t;

typedef struct entries {
    entry_t *items;
    size_t len;
    size_t cap;
} entries_t;

static void entries_clear(entries_t *e)
{
    for (size_t i = 0; i < e->len; i++) {
        free(e->items[i].name);
        free(e->items[i].disk);
    }
    free(e->items);
    memset(e, 0, sizeof(*e));
}

static int entries_add(entries_t *e, const char *name, const char *disk)
{
    if (e->len == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        entry_t *grown = realloc(e->items, cap * sizeof(*grown));
        if (!grown)
            return -1;
        e->items = grown;
        e->cap = cap;
    }
    entry_t *it = &e->items[e->len];
    it->name = util_strdup(name);
    it->disk = disk ? util_strdup(disk) : NULL;
    if (!it->name || (disk && !it->disk)) {
        free(it->name);
        free(it->disk);
        return -1;
    }
    e->len++;
    return 0;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

/* disk as entry name, and everything under it when it is a directory. */
static int collect(entries_t *e, const char *disk, const char *name, char **err)
{
    struct stat st;
    if (lstat(disk, &st) < 0) {
        *err = util_asprintf("%s: %s", disk, strerror(errno));
        return -1;
    }
    if (entries_add(e, name, disk) < 0) {
        *err = util_strdup("out of memory");
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(disk);
    if (!d) {
        *err = util_asprintf("%s: %s", disk, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = build_path_join(disk, de->d_name);
        char *subname = util_asprintf("%s/%s", name, de->d_name);
        if (!sub || !subname) {
            *err = util_strdup("out of memory");
            rc = -1;
        } else {
            rc = collect(e, sub, subname, err);
        }
        free(sub);
        free(subname);
    }
    closedir(d);
    return rc;
}

static int write_entries(image_layer_writer_t *w, entries_t *e, char **err)
{
    if (e->len > 0)
        qsort(e->items, e->len, sizeof(*e->items), cmp_entries);
    for (size_t i = 0; i < e->len; i++) {
        if (i > 0 && strcmp(e->items[i].name, e->items[i - 1].name) == 0)
            continue; /* two artifacts in one destination: one entry for the directory */
        image_err_t rc = e->items[i].disk
                             ? image_layer_add_path(w, e->items[i].disk, e->items[i].name, err)
                             : image_layer_add_dir(w, e->items[i].name, 0755, err);
        if (rc != IMAGE_OK && rc != IMAGE_ERR_UNSUPPORTED)
            return -1;
        if (rc == IMAGE_ERR_UNSUPPORTED) {
            log_warn("skipping a special file", "path", e->items[i].disk, NULL);
            free(*err);
            *err = NULL;
        }
    }
    return 0;
}

int build_artifacts_export(const char *root, const api_volume_spec_t *artifacts, size_t n,
                           const char *tar_path, char **err)
{
    *err = NULL;
    entries_t e = {0};
    json_object *index = json_object_new_array();
    image_layer_writer_t *w = NULL;
    build_file_sink_t sink = {open(tar_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    int rc = -1;
    if (sink.fd < 0) {
        *err = util_asprintf("%s: %s", tar_path, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *source = artifacts[i].source;
        if (!source || !*source) {
            *err = util_asprintf("runtimeArtifacts[%zu].source: required", i);
            goto out;
        }
        char *disk = build_path_join(root, source);
        char *copy = util_strdup(source);
        char *name = copy ? util_asprintf("%zu/%s", i, basename(copy)) : NULL;
        char *dir = util_asprintf("%zu", i);
        int crc = disk && name && dir && entries_add(&e, dir, NULL) == 0
                      ? collect(&e, disk, name, err)
                      : (*err = util_strdup("out of memory"), -1);
        free(disk);
        free(copy);
        free(name);
        free(dir);
        if (crc < 0) {
            char *inner = *err;
            *err = util_asprintf("runtime artifact %s: %s", source, inner ? inner : "");
            free(inner);
            goto out;
        }
        json_object *item = json_object_new_object();
        json_object_object_add(item, "source", json_object_new_string(source));
        json_object_object_add(
            item, "destination",
            json_object_new_string(artifacts[i].destination ? artifacts[i].destination : ""));
        json_object_array_add(index, item);
    }
    image_layer_options_t opts;
    if (image_layer_options_default(&opts, err) < 0)
        goto out;
    opts.gzip = false;
    if (image_layer_writer_new(&opts, build_file_sink_write, &sink, &w, err) != IMAGE_OK)
        goto out;
    const char *text = json_object_to_json_string_ext(index, JSON_C_TO_STRING_PLAIN);
    image_layer_info_t info;
    if (image_layer_add_data(w, ARTIFACTS_INDEX, 0644, text, strlen(text), err) != IMAGE_OK ||
        write_entries(w, &e, err) < 0 || image_layer_writer_finish(w, &info, err) != IMAGE_OK)
        goto out;
    rc = 0;
out:
    image_layer_writer_free(w);
    if (sink.fd >= 0 && close(sink.fd) < 0 && rc == 0) {
        *err = util_asprintf("%s: %s", tar_path, strerror(errno));
        rc = -1;
    }
    json_object_put(index);
    entries_clear(&e);
    return rc;
}

/* The destinations of an unpacked export (NULL-terminated, absolute, cleaned of "." and
 * ".." components that would climb out of "/"). */
static char **destinations(const char *extract_dir, const char *workdir, char **err)
{
    char *path = build_path_join(extract_dir, ARTIFACTS_INDEX);
    char *data = path ? util_read_file(path, NULL) : NULL;
    free(path);
    json_object *index = data ? json_tokener_parse(data) : NULL;
    free(data);
    if (!index || !json_object_is_type(index, json_type_array)) {
        *err = util_strdup("the artifacts tar has no " ARTIFACTS_INDEX);
        json_object_put(index);
        return NULL;
    }
    char **out = calloc(1, sizeof(char *));
    size_t len = 0;
    const char *base = workdir && *workdir ? workdir : "/";
    for (size_t i = 0; out && i < json_object_array_length(index); i++) {
        json_object *d = NULL;
        json_object_object_get_ex(json_object_array_get_idx(index, i), "destination", &d);
        const char *dest = d ? json_object_get_string(d) : "";
        char *joined = dest[0] == '/' ? util_strdup(dest) : build_path_join(base, dest);
        /* Clean: components, "." dropped, ".." pops (never above "/"). */
        buf_t b = BUF_INIT;
        char *save = NULL;
        for (char *c = joined ? strtok_r(joined, "/", &save) : NULL; c;
             c = strtok_r(NULL, "/", &save)) {
            if (strcmp(c, ".") == 0)
                continue;
            if (strcmp(c, "..") == 0) {
                char *slash = b.data ? strrchr(b.data, '/') : NULL;
                if (slash)
                    b.len = (size_t)(slash - b.data), b.data[b.len] = '\0';
                continue;
            }
            buf_printf(&b, "/%s", c);
        }
        if (b.len == 0)
            buf_puts(&b, "/");
        free(joined);
        if (b.oom || build_strv_push(&out, &len, b.data) < 0) {
            build_strv_free(out);
            out = NULL;
        }
        buf_free(&b);
    }
    json_object_put(index);
    if (!out)
        *err = util_strdup("out of memory");
    return out;
}

static int unpack(const char *tar_path, const char *extract_dir, char **err)
{
    image_err_t rc = image_layer_extract_file(tar_path, extract_dir, NULL, err);
    return rc == IMAGE_OK ? 0 : -1;
}

int build_artifacts_layer(const char *tar_path, const char *extract_dir, const char *root,
                          const char *workdir, int64_t uid, int64_t gid,
                          const image_layer_options_t *opts, image_write_fn write, void *data,
                          image_layer_info_t *info, char **err)
{
    *err = NULL;
    if (unpack(tar_path, extract_dir, err) < 0)
        return -1;
    char **dests = destinations(extract_dir, workdir, err);
    if (!dests)
        return -1;
    entries_t e = {0};
    image_layer_writer_t *w = NULL;
    int rc = -1;
    for (size_t i = 0; dests[i]; i++) {
        const char *rel = dests[i] + 1; /* "" for "/" */
        /* The destination's directories the runtime image lacks. */
        for (const char *p = rel; *rel && p;) {
            const char *slash = strchr(p, '/');
            char *prefix =
                util_asprintf("%.*s", (int)(slash ? (size_t)(slash - rel) : strlen(rel)), rel);
            char *on_root = prefix ? build_path_join(root, prefix) : NULL;
            int arc = on_root && !build_is_dir(on_root) ? entries_add(&e, prefix, NULL) : 0;
            bool oom = !prefix || !on_root || arc < 0;
            free(prefix);
            free(on_root);
            if (oom) {
                *err = util_strdup("out of memory");
                goto out;
            }
            p = slash ? slash + 1 : NULL;
        }
        char *index_dir = util_asprintf("%s/%zu", extract_dir, i);
        DIR *d = index_dir ? opendir(index_dir) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char *disk = build_path_join(index_dir, de->d_name);
            char *name = *rel ? util_asprintf("%s/%s", rel, de->d_name) : util_strdup(de->d_name);
            int crc = disk && name ? collect(&e, disk, name, err) : -1;
            free(disk);
            free(name);
            if (crc < 0) {
                closedir(d);
                free(index_dir);
                if (!*err)
                    *err = util_strdup("out of memory");
                goto out;
            }
        }
        if (d)
            closedir(d);
        free(index_dir);
    }
    image_layer_options_t o = *opts;
    o.uid = uid;
    o.gid = gid;
    if (image_layer_writer_new(&o, write, data, &w, err) != IMAGE_OK ||
        write_entries(w, &e, err) < 0 || image_layer_writer_finish(w, info, err) != IMAGE_OK)
        goto out;
    rc = 0;
out:
    image_layer_writer_free(w);
    entries_clear(&e);
    build_strv_free(dests);
    return rc;
}

int build_artifacts_install(const char *tar_path, const char *extract_dir, const char *root,
                            const char *workdir, char **err)
{
    *err = NULL;
    if (unpack(tar_path, extract_dir, err) < 0)
        return -1;
    char **dests = destinations(extract_dir, workdir, err);
    if (!dests)
        return -1;
    int rc = 0;
    for (size_t i = 0; dests[i] && rc == 0; i++) {
        char *from = util_asprintf("%s/%zu", extract_dir, i);
        char *to = build_path_join(root, dests[i]);
        rc = from && to ? build_copy_tree(from, to, NULL, err) : -1;
        if (rc < 0 && !*err)
            *err = util_strdup("out of memory");
        free(from);
        free(to);
    }
    build_strv_free(dests);
    return rc;
}
