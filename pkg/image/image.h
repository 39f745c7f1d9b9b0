/*
 * image: what an image is made of, and how a build's filesystem changes become a layer.
 *
 *   config    the image configuration (OCI image config / Docker container config JSON):
 *             decode, encode, helpers for Cmd, Entrypoint, Env, Labels, User, WorkingDir,
 *             diff_ids and history. The JSON document is the model, so fields we have no
 *             helper for (and fields no spec knows) survive a decode/encode round trip.
 *   manifest  the image manifest (OCI or Docker v2 schema 2), the same way.
 *   layer     a streaming tar (ustar, PAX headers only where ustar cannot say it, as Go's
 *             archive/tar writes them) + gzip writer that computes the blob digest and the
 *             diff_id in one pass. Deterministic: entries sorted, no user/group name lookups,
 *             mtimes clamped to SOURCE_DATE_EPOCH when set, gzip header without name/mtime.
 *             Whiteouts follow the OCI layer rules (.wh.<name>, .wh..wh..opq).
 *   snapshot  a tree's metadata recorded once and diffed against its later state
 *             (added/modified/deleted), the input of the layer a build commits.
 *   extract   a layer unpacked into a directory, whiteouts applied, never writing outside it.
 *
 * Ownership
 *   Every *_new / *_parse / *_take result is freed with its *_free (accepting NULL).
 *   Strings passed in are copied; strings returned by getters are borrowed from the object
 *   and live until it changes or is freed. Messages returned through `char **err` are
 *   malloc'd (the caller frees them) and may be NULL when memory ran out.
 *
 * Thread-safety
 *   None of these objects may be used by two threads at once; distinct objects may.
 *
 * Errors
 *   Functions return IMAGE_OK or an image_err_t naming the kind of failure; *err (when the
 *   pointer is not NULL) says what and where ("usr/lib/x: Permission denied").
 */
#ifndef S2I_IMAGE_H
#define S2I_IMAGE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "registry/registry.h"

#define IMAGE_MEDIA_OCI_CONFIG           "application/vnd.oci.image.config.v1+json"
#define IMAGE_MEDIA_DOCKER_CONFIG        "application/vnd.docker.container.image.v1+json"
#define IMAGE_MEDIA_OCI_LAYER_TAR        "application/vnd.oci.image.layer.v1.tar"
#define IMAGE_MEDIA_OCI_LAYER_GZIP       "application/vnd.oci.image.layer.v1.tar+gzip"
#define IMAGE_MEDIA_OCI_LAYER_ZSTD       "application/vnd.oci.image.layer.v1.tar+zstd"
#define IMAGE_MEDIA_DOCKER_LAYER_GZIP    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define IMAGE_MEDIA_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define IMAGE_MEDIA_OCI_LAYER_NONDIST    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

/* Nesting accepted in configs and manifests (labels may hold JSON, but not this deep). */
#define IMAGE_JSON_MAX_DEPTH 64
/* Configs larger than this are refused (real ones are a few KiB; history can grow). */
#define IMAGE_CONFIG_MAX (8u << 20)

typedef enum image_err {
    IMAGE_OK = 0,
    IMAGE_ERR_INVALID,     /* a document or argument that does not make sense */
    IMAGE_ERR_IO,          /* a file system call failed */
    IMAGE_ERR_UNSAFE,      /* a layer entry would escape the destination (path traversal) */
    IMAGE_ERR_FORMAT,      /* a tar or gzip stream we cannot read */
    IMAGE_ERR_UNSUPPORTED, /* a file type a layer cannot hold (device, socket, fifo) */
    IMAGE_ERR_CHANGED,     /* a file changed while it was being read */
    IMAGE_ERR_SINK,        /* the write callback refused the data */
    IMAGE_ERR_NOMEM,
} image_err_t;

const char *image_err_name(image_err_t err);

/* SOURCE_DATE_EPOCH: 1 with *out set when it is set to a valid value (decimal seconds,
 * >= 0), 0 when unset or empty, -1 when malformed (the reproducible-builds spec asks that
 * the build then fail). */
int image_source_date_epoch(time_t *out);

/* ---- config ------------------------------------------------------------------- */

typedef struct image_config image_config_t;

/* A minimal valid config: architecture, os, empty config, rootfs of no layers, no
 * history. NULL when out of memory. */
image_config_t *image_config_new(const char *os, const char *architecture);
/* Decodes a config (OCI or Docker: same field names). Checks what every runtime relies
 * on: a JSON object, "architecture" and "os" strings, "rootfs" {"type":"layers",
 * "diff_ids":[sha256 digests]}, "config" an object when present, "history" an array when
 * present. Everything else is kept as it is. */
image_err_t image_config_parse(const char *data, size_t len, image_config_t **out, char **err);
void image_config_free(image_config_t *c);
/* The document itself, for fields without a helper. Owned by c. */
json_object *image_config_json(image_config_t *c);
/* Compact JSON (keys in document order) into *data (malloc'd, NUL-terminated), its length
 * and sha256; digest may be NULL. The digest of a config is the digest of these bytes:
 * push exactly them. */
image_err_t image_config_encode(const image_config_t *c, char **data, size_t *len,
                                char digest[REGISTRY_DIGEST_LEN]);

/* Setters change config.<Field>; 0, or -1 when out of memory. argv NULL (or argc 0 with
 * remove) clears the field: Cmd/Entrypoint set to NULL are removed (null in JSON means
 * "inherit" to some runtimes, absence is clearer). */
int image_config_set_cmd(image_config_t *c, const char *const *argv, size_t argc);
int image_config_set_entrypoint(image_config_t *c, const char *const *argv, size_t argc);
/* Sets NAME=value in config.Env, replacing an existing NAME= entry in place; value NULL
 * removes it. */
int image_config_set_env(image_config_t *c, const char *name, const char *value);
/* value NULL removes the label. */
int image_config_set_label(image_config_t *c, const char *key, const char *value);
int image_config_set_user(image_config_t *c, const char *user);
int image_config_set_workdir(image_config_t *c, const char *dir);
/* "created" (RFC 3339). */
int image_config_set_created(image_config_t *c, time_t t);
/* Appends a layer: its diff_id to rootfs.diff_ids and a history entry {created,
 * created_by, comment} (created_by/comment omitted when NULL). created is `when`. */
int image_config_add_layer(image_config_t *c, const char *diff_id, time_t when,
                           const char *created_by, const char *comment);
/* A history entry without a layer (empty_layer: true), e.g. for a config change. */
int image_config_add_empty_history(image_config_t *c, time_t when, const char *created_by);

/* Getters return borrowed strings, NULL when absent. */
const char *image_config_os(const image_config_t *c);
const char *image_config_architecture(const image_config_t *c);
const char *image_config_env(const image_config_t *c, const char *name);
const char *image_config_label(const image_config_t *c, const char *key);
const char *image_config_user(const image_config_t *c);
const char *image_config_workdir(const image_config_t *c);
/* Fills argv (up to max pointers) with Cmd / Entrypoint and returns their count (which
 * may exceed max). */
size_t image_config_cmd(const image_config_t *c, const char **argv, size_t max);
size_t image_config_entrypoint(const image_config_t *c, const char **argv, size_t max);
size_t image_config_diff_ids_len(const image_config_t *c);
const char *image_config_diff_id(const image_config_t *c, size_t i);
size_t image_config_history_len(const image_config_t *c);

/* The time a new image, layer or history entry is created: SOURCE_DATE_EPOCH when set,
 * else now. -1 when SOURCE_DATE_EPOCH is malformed. */
int image_created_time(time_t *out);

/* ---- manifest ------------------------------------------------------------------- */

typedef struct image_manifest image_manifest_t;

/* Borrowed view of a descriptor inside a manifest. */
typedef struct image_descriptor {
    const char *media_type;
    const char *digest;
    int64_t size;
} image_descriptor_t;

/* An empty manifest of media_type (REGISTRY_MEDIA_OCI_MANIFEST or
 * REGISTRY_MEDIA_DOCKER_MANIFEST). NULL for another type or out of memory. */
image_manifest_t *image_manifest_new(const char *media_type);
/* Decodes an image manifest: schemaVersion 2, a config descriptor and a layers array of
 * descriptors (mediaType string, sha256 digest, size >= 0). media_type is the type the
 * registry gave (may be NULL: the document's mediaType, else OCI). Indexes are refused.
 * Unknown fields (annotations, subject, urls, ...) are kept. */
image_err_t image_manifest_parse(const char *data, size_t len, const char *media_type,
                                 image_manifest_t **out, char **err);
void image_manifest_free(image_manifest_t *m);
json_object *image_manifest_json(image_manifest_t *m);
const char *image_manifest_media_type(const image_manifest_t *m);
/* media_type NULL: the config type of the manifest's flavour (OCI or Docker). */
int image_manifest_set_config(image_manifest_t *m, const char *media_type, const char *digest,
                              int64_t size);
/* media_type NULL: a gzip layer of the manifest's flavour. */
int image_manifest_add_layer(image_manifest_t *m, const char *media_type, const char *digest,
                             int64_t size);
/* 0 with *out filled, -1 when absent. */
int image_manifest_config(const image_manifest_t *m, image_descriptor_t *out);
size_t image_manifest_layers_len(const image_manifest_t *m);
int image_manifest_layer(const image_manifest_t *m, size_t i, image_descriptor_t *out);
/* Rewrites the manifest, config and layer media types into the other flavour (Docker
 * <-> OCI). IMAGE_ERR_UNSUPPORTED when a layer type has no equivalent (zstd in Docker). */
image_err_t image_manifest_convert(image_manifest_t *m, const char *media_type, char **err);
/* As image_config_encode. */
image_err_t image_manifest_encode(const image_manifest_t *m, char **data, size_t *len,
                                  char digest[REGISTRY_DIGEST_LEN]);

/* ---- layers -------------------------------------------------------------------- */

/* Receives layer bytes in order; return 0 to go on, non-zero to fail (IMAGE_ERR_SINK). */
typedef int (*image_write_fn)(void *data, const void *buf, size_t len);

typedef struct image_layer_options {
    int64_t mtime_clamp; /* entries newer than this get this mtime; < 0: none */
    int64_t uid;         /* < 0: as on disk */
    int64_t gid;         /* < 0: as on disk */
    const char *uname;   /* NULL: none (no lookup, as moby and buildkit write layers) */
    const char *gname;
    bool gzip;             /* false: a plain tar (digest == diff_id) */
    int compression_level; /* zlib 1..9; 0 or -1: zlib's default (6) */
} image_layer_options_t;

/* gzip, default level, owners as on disk, mtime_clamp = SOURCE_DATE_EPOCH or -1.
 * -1 (and *err) when SOURCE_DATE_EPOCH is malformed. */
int image_layer_options_default(image_layer_options_t *o, char **err);

typedef struct image_layer_info {
    char digest[REGISTRY_DIGEST_LEN];  /* of the bytes written: the blob */
    char diff_id[REGISTRY_DIGEST_LEN]; /* of the uncompressed tar */
    int64_t size;                      /* bytes written */
    int64_t tar_size;
    size_t entries; /* tar entries, whiteouts included */
} image_layer_info_t;

typedef struct image_layer_writer image_layer_writer_t;

/* A writer sending the layer to write(data, ...) as it is produced. opts NULL: defaults
 * (see image_layer_options_default). The writer writes entries in the order given; the
 * image_layer_from_* functions below sort them. */
image_err_t image_layer_writer_new(const image_layer_options_t *opts, image_write_fn write,
                                   void *data, image_layer_writer_t **out, char **err);
/* Adds what is at disk_path (never followed if a symlink) as entry `path` (relative,
 * '/'-separated, no trailing '/'). A directory is one entry, not its content. A regular file
 * whose inode was already added under another path becomes a hardlink to that path.
 * Devices, sockets and fifos: IMAGE_ERR_UNSUPPORTED (nothing written). A file whose size
 * changes while it is read: IMAGE_ERR_CHANGED. */
image_err_t image_layer_add_path(image_layer_writer_t *w, const char *disk_path, const char *path,
                                 char **err);
/* A regular file from memory (mode 0644 style permission bits; owner root unless the
 * options override). */
image_err_t image_layer_add_data(image_layer_writer_t *w, const char *path, unsigned mode,
                                 const void *data, size_t len, char **err);
/* A directory entry that is not on disk (mode permission bits, owner root). */
image_err_t image_layer_add_dir(image_layer_writer_t *w, const char *path, unsigned mode,
                                char **err);
/* "<dir>/.wh.<name>" for path "<dir>/<name>": the path is deleted. */
image_err_t image_layer_add_whiteout(image_layer_writer_t *w, const char *path, char **err);
/* "<dir>/.wh..wh..opq": what lower layers had in dir is hidden. */
image_err_t image_layer_add_opaque(image_layer_writer_t *w, const char *dir, char **err);
/* Ends the tar and the gzip stream and fills info. */
image_err_t image_layer_writer_finish(image_layer_writer_t *w, image_layer_info_t *info,
                                      char **err);
void image_layer_writer_free(image_layer_writer_t *w);

/* The whole tree under root (root itself not included), entries sorted by path.
 * Devices, sockets and fifos are skipped (logged). */
image_err_t image_layer_from_dir(const char *root, const image_layer_options_t *opts,
                                 image_write_fn write, void *data, image_layer_info_t *info,
                                 char **err);

/* ---- snapshots ------------------------------------------------------------------- */

typedef struct image_snapshot image_snapshot_t;

typedef struct image_snapshot_options {
    /* Paths inside the tree ("/proc", "var/run/secrets") that are neither recorded nor
     * descended into; whatever happens there is never reported. */
    const char *const *exclude;
    size_t exclude_len;
    /* Do not descend into other file systems (mount points: /proc, emptyDirs, secrets)
     * nor record files on them (bind-mounted /etc/hosts); each is noted. */
    bool one_file_system;
} image_snapshot_options_t;

/* Records the tree under root: for every path its type, mode, owner, size, mtime, ctime,
 * inode, link count and symlink target. Symlinks are never followed. Devices, sockets
 * and fifos are not recorded (a layer cannot carry them from an unprivileged build);
 * directories that cannot be read are recorded as such; both are noted.
 *
 * Change detection, decided here once: a file is unchanged when type, mode, owner, size,
 * mtime, ctime and inode all are. ctime cannot be set by a process (any write, chmod,
 * chown, rename or link updates it), so content rewritten with its old size and mtime
 * restored (cp -p, tar x, touch -r) is still caught, without reading any file. The one
 * gap is a file changed within the file system's timestamp granularity of its previous
 * change; like git's "racily clean" index entries, files changed less than 2 s before the
 * snapshot have their content hashed, and the diff hashes them again when their metadata
 * did not move. */
image_err_t image_snapshot_take(const char *root, const image_snapshot_options_t *opts,
                                image_snapshot_t **out, char **err);
void image_snapshot_free(image_snapshot_t *s);
size_t image_snapshot_len(const image_snapshot_t *s);
size_t image_snapshot_notes_len(const image_snapshot_t *s);
const char *image_snapshot_note(const image_snapshot_t *s, size_t i);

typedef enum image_change_kind {
    IMAGE_CHANGE_ADDED,
    IMAGE_CHANGE_MODIFIED,
    IMAGE_CHANGE_DELETED,
} image_change_kind_t;

typedef struct image_change {
    char *path; /* relative to the root, no leading '/' */
    image_change_kind_t kind;
    bool opaque; /* a directory deleted and created again: its old content is hidden */
} image_change_t;

typedef struct image_changes {
    image_change_t *items; /* sorted by path */
    size_t len;
    char **notes; /* what could not be compared (unreadable directories) */
    size_t notes_len;
} image_changes_t;

#define IMAGE_CHANGES_INIT                                                                         \
    {                                                                                              \
        NULL, 0, NULL, 0                                                                           \
    }

void image_changes_clear(image_changes_t *c);

/* What changed from before to after (two snapshots of the same root). A deleted directory
 * is one deletion (not one per file in it); a directory replaced by another (new inode)
 * is opaque and everything now in it is added; under a directory unreadable in either
 * snapshot nothing is reported (noted instead). */
image_err_t image_snapshot_diff(const image_snapshot_t *before, const image_snapshot_t *after,
                                image_changes_t *out, char **err);

/* The layer of a diff: added and modified paths as they are now under root (the root of
 * the snapshots), deletions as whiteouts, opaque directories with their marker; sorted.
 * A path that is now a device, socket or fifo is skipped (logged). */
image_err_t image_layer_from_changes(const char *root, const image_changes_t *changes,
                                     const image_layer_options_t *opts, image_write_fn write,
                                     void *data, image_layer_info_t *info, char **err);

/* ---- extraction ---------------------------------------------------------------------- */

typedef struct image_extract_options {
    /* Set owners from the tar (lchown). Default: only when running as root. */
    bool same_owner;
} image_extract_options_t;

/* Unpacks a layer (tar, tar+gzip, or any compression libarchive reads) from fd into dest
 * (an existing directory), as runtimes apply layers:
 *   - whiteouts delete what lower layers put there (.wh.<name>) or all of a directory's
 *     lower content (.wh..wh..opq), whatever the order of entries in the tar;
 *   - an entry replaces what is at its path unless both are directories;
 *   - entry names are cleaned; a name or hardlink target that climbs out of dest ("../")
 *     is refused with IMAGE_ERR_UNSAFE;
 *   - symlinks already in dest are resolved inside dest, as if dest were "/" (an absolute
 *     target or one climbing past the top stays in dest), so writing through them never
 *     leaves it;
 *   - devices are skipped unless running as root; modes, mtimes and (same_owner) owners
 *     are applied, directories last.
 * opts may be NULL. On error dest holds what was extracted so far. */
image_err_t image_layer_extract_fd(int fd, const char *dest, const image_extract_options_t *opts,
                                   char **err);
image_err_t image_layer_extract_file(const char *path, const char *dest,
                                     const image_extract_options_t *opts, char **err);

#endif
