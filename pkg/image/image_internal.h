/*
 * image internals shared by the files of the module (not part of the contract).
 */
#ifndef S2I_IMAGE_INTERNAL_H
#define S2I_IMAGE_INTERNAL_H

#include <sys/types.h>

#include "image/image.h"
#include "util/util.h"

/* Sets *err (when err is not NULL) to the formatted message and returns code. */
image_err_t image_fail(char **err, image_err_t code, const char *fmt, ...) UTIL_PRINTF(3, 4);

/* Decodes one JSON value filling all of data (trailing whitespace allowed), at most
 * IMAGE_JSON_MAX_DEPTH deep, into *out (NULL for a JSON null). 0, or -1 with *err set.
 * what names the document in messages. */
int image_json_parse(const char *data, size_t len, const char *what, json_object **out, char **err);
/* Compact encoding without '/' escapes, and its digest (may be NULL). */
image_err_t image_json_encode(json_object *root, char **data, size_t *len,
                              char digest[REGISTRY_DIGEST_LEN], char **err);

/* config.Field / a field of obj, only when it has the type. */
json_object *image_json_get(json_object *obj, const char *key, json_type type);

/* Reads exactly len bytes (fewer only at end of file); -1 on error. */
ssize_t image_read_full(int fd, void *buf, size_t len);

/* One recorded path of a snapshot. */
typedef struct snap_entry {
    char *path;    /* relative to the root */
    uint32_t mode; /* type and permission bits */
    uint32_t uid;
    uint32_t gid;
    int64_t size;
    int64_t mtime_sec;
    int64_t ctime_sec;
    int32_t mtime_nsec;
    int32_t ctime_nsec;
    uint64_t ino;
    uint64_t nlink;
    char *link;      /* symlink target */
    char *hash;      /* content digest of a "racy" file (see image_snapshot_take), else NULL */
    bool unreadable; /* a directory we could not list completely */
} snap_entry_t;

/* image_snapshot_take without hashing racy files (for whole-tree layers). */
image_err_t image_snapshot_walk(const char *root, const image_snapshot_options_t *opts,
                                bool hash_racy, image_snapshot_t **out, char **err);
const snap_entry_t *image_snapshot_entry(const image_snapshot_t *s, size_t i);

#endif
