/*
 * image/tree: layers of whole trees and of snapshot diffs.
 *
 * Both build the full list of tar entry names first and sort it, so the same tree (or
 * the same changes) always gives the same tar, whatever order readdir returned names in
 * and wherever whiteouts fall among the files.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef enum item_kind { ITEM_PATH, ITEM_WHITEOUT, ITEM_OPAQUE } item_kind_t;

typedef struct item {
    char *name;       /* the tar entry name, the sort key */
    const char *path; /* the path it is about (borrowed) */
    item_kind_t kind;
} item_t;

static int cmp_items(const void *a, const void *b)
{
    return strcmp(((const item_t *)a)->name, ((const item_t *)b)->name);
}

static void items_free(item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].name);
    free(items);
}

/* "<dir>/.wh.<name>" or "<dir>/.wh..wh..opq": the name the writer will give the marker,
 * computed here only to sort by it. */
static char *marker_name(const char *path, item_kind_t kind)
{
    if (kind == ITEM_OPAQUE)
        return util_asprintf("%s/.wh..wh..opq", path);
    const char *slash = strrchr(path, '/');
    if (slash)
        return util_asprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
    return util_asprintf(".wh.%s", path);
}

static image_err_t write_items(const char *root, item_t *items, size_t n,
                               const image_layer_options_t *opts, image_write_fn write, void *data,
                               image_layer_info_t *info, char **err)
{
    qsort(items, n, sizeof(*items), cmp_items);
    image_layer_writer_t *w = NULL;
    image_err_t rc = image_layer_writer_new(opts, write, data, &w, err);
    char *disk = NULL;
    size_t skipped = 0;
    for (size_t i = 0; rc == IMAGE_OK && i < n; i++) {
        switch (items[i].kind) {
        case ITEM_WHITEOUT:
            rc = image_layer_add_whiteout(w, items[i].path, err);
            break;
        case ITEM_OPAQUE:
            rc = image_layer_add_opaque(w, items[i].path, err);
            break;
        case ITEM_PATH:
            free(disk);
            disk = util_asprintf("%s/%s", root, items[i].path);
            if (!disk) {
                rc = image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
                break;
            }
            rc = image_layer_add_path(w, disk, items[i].path, err);
            if (rc == IMAGE_ERR_UNSUPPORTED) {
                /* a device, socket or fifo: an unprivileged build cannot ship it */
                log_v(1, "layer: special file skipped", "path", items[i].path, NULL);
                skipped++;
                rc = IMAGE_OK;
            }
            break;
        }
    }
    free(disk);
    if (rc == IMAGE_OK)
        rc = image_layer_writer_finish(w, info, err);
    image_layer_writer_free(w);
    if (rc == IMAGE_OK && skipped)
        log_info("layer: special files skipped", "root", root, NULL);
    return rc;
}

image_err_t image_layer_from_dir(const char *root, const image_layer_options_t *opts,
                                 image_write_fn write, void *data, image_layer_info_t *info,
                                 char **err)
{
    image_snapshot_t *s = NULL;
    image_err_t rc = image_snapshot_walk(root, NULL, false, &s, err);
    if (rc != IMAGE_OK)
        return rc;
    size_t n = image_snapshot_len(s);
    item_t *items = calloc(n ? n : 1, sizeof(*items));
    if (!items) {
        image_snapshot_free(s);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && rc == IMAGE_OK; i++) {
        const snap_entry_t *e = image_snapshot_entry(s, i);
        if (e->unreadable)
            rc = image_fail(err, IMAGE_ERR_IO, "%s/%s: cannot be read completely", root, e->path);
        items[i].path = e->path;
        items[i].kind = ITEM_PATH;
        if (!(items[i].name = util_strdup(e->path)))
            rc = image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    if (rc == IMAGE_OK)
        rc = write_items(root, items, n, opts, write, data, info, err);
    items_free(items, n);
    image_snapshot_free(s);
    return rc;
}

image_err_t image_layer_from_changes(const char *root, const image_changes_t *changes,
                                     const image_layer_options_t *opts, image_write_fn write,
                                     void *data, image_layer_info_t *info, char **err)
{
    size_t cap = changes->len * 2 + 1, n = 0;
    item_t *items = calloc(cap, sizeof(*items));
    if (!items)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    image_err_t rc = IMAGE_OK;
    for (size_t i = 0; i < changes->len && rc == IMAGE_OK; i++) {
        const image_change_t *c = &changes->items[i];
        item_kind_t kind = c->kind == IMAGE_CHANGE_DELETED ? ITEM_WHITEOUT : ITEM_PATH;
        items[n] =
            (item_t){.path = c->path,
                     .kind = kind,
                     .name = kind == ITEM_PATH ? util_strdup(c->path) : marker_name(c->path, kind)};
        if (!items[n++].name)
            rc = image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        if (rc == IMAGE_OK && c->opaque && c->kind != IMAGE_CHANGE_DELETED) {
            items[n] = (item_t){
                .path = c->path, .kind = ITEM_OPAQUE, .name = marker_name(c->path, ITEM_OPAQUE)};
            if (!items[n++].name)
                rc = image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        }
    }
    if (rc == IMAGE_OK)
        rc = write_items(root, items, n, opts, write, data, info, err);
    items_free(items, n);
    return rc;
}
