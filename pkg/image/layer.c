/*
 * image/layer: writing layers.
 *
 * The tar is written by libarchive in its "pax restricted" format: plain ustar headers,
 * with a PAX extended header only for what ustar cannot hold (long or non-ASCII names,
 * large ids or sizes), which is what Go's archive/tar (docker, buildkit) produces too.
 * libarchive is used rather than a hand-written tar because those extension cases are
 * where hand-written tar writers go wrong, and the extraction side needs its reader
 * anyway. The gzip stream is zlib's own (deflateInit2 with a gzip wrapper): its header
 * has no file name and mtime 0, so the same tar always compresses to the same bytes, and
 * we see the uncompressed bytes to hash the diff_id in the same pass.
 *
 *   libarchive -> tar bytes -> sha256 (diff_id) -> deflate -> sha256 (digest) -> sink
 *
 * Nothing is held beyond a 64 KiB output buffer and one read buffer.
 */
#include "image/image_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define OUT_BUF_SIZE  (64u << 10)
#define READ_BUF_SIZE (128u << 10)
#define TAR_BLOCK     (64u << 10)
#define WHITEOUT      ".wh."
#define OPAQUE        ".wh..wh..opq"

struct image_layer_writer {
    image_layer_options_t opts;
    char *uname;
    char *gname;
    image_write_fn write;
    void *data;
    struct archive *archive;
    z_stream z;
    bool z_ready;
    unsigned char *out;
    char *read_buf;
    registry_sha256_t tar_sha;
    registry_sha256_t blob_sha;
    int64_t tar_size;
    int64_t size;
    size_t entries;
    bool sink_failed;
    bool finished;
    strmap_t *links; /* "dev:ino" -> first path written (char *) */
};

int image_layer_options_default(image_layer_options_t *o, char **err)
{
    memset(o, 0, sizeof(*o));
    o->mtime_clamp = -1;
    o->uid = -1;
    o->gid = -1;
    o->gzip = true;
    o->compression_level = -1;
    time_t epoch = 0;
    int rc = image_source_date_epoch(&epoch);
    if (rc < 0) {
        image_fail(err, IMAGE_ERR_INVALID,
                   "SOURCE_DATE_EPOCH must be a non-negative number of seconds");
        return -1;
    }
    if (rc > 0)
        o->mtime_clamp = (int64_t)epoch;
    return 0;
}

/* Sends compressed (or plain) bytes on to the sink. */
static int emit(image_layer_writer_t *w, const void *buf, size_t len)
{
    if (len == 0)
        return 0;
    registry_sha256_update(&w->blob_sha, buf, len);
    w->size += (int64_t)len;
    if (w->write(w->data, buf, len) != 0) {
        w->sink_failed = true;
        return -1;
    }
    return 0;
}

static int deflate_some(image_layer_writer_t *w, const void *buf, size_t len, int flush)
{
    w->z.next_in = (Bytef *)buf;
    w->z.avail_in = (uInt)len;
    do {
        w->z.next_out = w->out;
        w->z.avail_out = OUT_BUF_SIZE;
        int zrc = deflate(&w->z, flush);
        if (zrc == Z_STREAM_ERROR)
            return -1;
        if (emit(w, w->out, OUT_BUF_SIZE - w->z.avail_out) < 0)
            return -1;
        if (flush == Z_FINISH && zrc == Z_STREAM_END)
            break;
    } while (w->z.avail_out == 0 || w->z.avail_in > 0 || flush == Z_FINISH);
    return 0;
}

/* libarchive's output: the tar stream. */
static la_ssize_t tar_out(struct archive *a, void *ctx, const void *buf, size_t len)
{
    (void)a;
    image_layer_writer_t *w = ctx;
    registry_sha256_update(&w->tar_sha, buf, len);
    w->tar_size += (int64_t)len;
    int rc;
    if (w->opts.gzip) {
        /* deflate takes uInt lengths */
        const char *p = buf;
        size_t left = len;
        rc = 0;
        while (rc == 0 && left > 0) {
            size_t n = left > (1u << 30) ? (1u << 30) : left;
            rc = deflate_some(w, p, n, Z_NO_FLUSH);
            p += n;
            left -= n;
        }
    } else {
        rc = emit(w, buf, len);
    }
    if (rc < 0) {
        archive_set_error(a, EIO, "%s", w->sink_failed ? "layer sink failed" : "deflate failed");
        return -1;
    }
    return (la_ssize_t)len;
}

void image_layer_writer_free(image_layer_writer_t *w)
{
    if (!w)
        return;
    if (w->archive)
        archive_write_free(w->archive);
    if (w->z_ready)
        deflateEnd(&w->z);
    registry_sha256_free(&w->tar_sha);
    registry_sha256_free(&w->blob_sha);
    strmap_free(w->links);
    free(w->out);
    free(w->read_buf);
    free(w->uname);
    free(w->gname);
    free(w);
}

image_err_t image_layer_writer_new(const image_layer_options_t *opts, image_write_fn write,
                                   void *data, image_layer_writer_t **out, char **err)
{
    if (!write)
        return image_fail(err, IMAGE_ERR_INVALID, "layer writer without a sink");
    image_layer_writer_t *w = calloc(1, sizeof(*w));
    if (!w)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    if (opts) {
        w->opts = *opts;
    } else if (image_layer_options_default(&w->opts, err) < 0) {
        free(w);
        return IMAGE_ERR_INVALID;
    }
    w->write = write;
    w->data = data;
    w->uname = util_strdup(w->opts.uname);
    w->gname = util_strdup(w->opts.gname);
    w->out = malloc(OUT_BUF_SIZE);
    w->read_buf = malloc(READ_BUF_SIZE);
    w->links = strmap_new(free);
    w->archive = archive_write_new();
    if (!w->out || !w->read_buf || !w->links || !w->archive || (w->opts.uname && !w->uname) ||
        (w->opts.gname && !w->gname) || registry_sha256_init(&w->tar_sha) < 0 ||
        registry_sha256_init(&w->blob_sha) < 0) {
        image_layer_writer_free(w);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    if (w->opts.gzip) {
        int level = w->opts.compression_level >= 1 && w->opts.compression_level <= 9
                        ? w->opts.compression_level
                        : Z_DEFAULT_COMPRESSION;
        /* 15 + 16: a gzip wrapper with zlib's default header (no name, mtime 0) */
        if (deflateInit2(&w->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            image_layer_writer_free(w);
            return image_fail(err, IMAGE_ERR_NOMEM, "deflateInit2 failed");
        }
        w->z_ready = true;
    }
    if (archive_write_set_format_pax_restricted(w->archive) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w->archive, TAR_BLOCK) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w->archive, 1) != ARCHIVE_OK ||
        archive_write_open2(w->archive, w, NULL, tar_out, NULL, NULL) != ARCHIVE_OK) {
        image_fail(err, IMAGE_ERR_NOMEM, "libarchive: %s", archive_error_string(w->archive));
        image_layer_writer_free(w);
        return IMAGE_ERR_NOMEM;
    }
    *out = w;
    return IMAGE_OK;
}

static image_err_t archive_failure(image_layer_writer_t *w, char **err, const char *path)
{
    if (w->sink_failed)
        return image_fail(err, IMAGE_ERR_SINK, "%s: the layer could not be written out", path);
    return image_fail(err, IMAGE_ERR_FORMAT, "%s: %s", path,
                      archive_error_string(w->archive) ? archive_error_string(w->archive)
                                                       : "tar writer failed");
}

/* Owner, mtime and name of an entry, as the options say. */
static void entry_common(image_layer_writer_t *w, struct archive_entry *e, const char *path,
                         int64_t uid, int64_t gid, int64_t mtime)
{
    archive_entry_copy_pathname(e, path);
    archive_entry_set_uid(e, w->opts.uid >= 0 ? w->opts.uid : uid);
    archive_entry_set_gid(e, w->opts.gid >= 0 ? w->opts.gid : gid);
    if (w->uname)
        archive_entry_copy_uname(e, w->uname);
    if (w->gname)
        archive_entry_copy_gname(e, w->gname);
    if (w->opts.mtime_clamp >= 0 && mtime > w->opts.mtime_clamp)
        mtime = w->opts.mtime_clamp;
    archive_entry_set_mtime(e, (time_t)mtime, 0);
}

/* Relative, no empty, "." or ".." component: what extraction would accept as is. */
static bool path_ok(const char *path)
{
    if (!path || !*path)
        return false;
    for (const char *p = path;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

static image_err_t write_header(image_layer_writer_t *w, struct archive_entry *e, const char *path,
                                char **err)
{
    if (w->finished)
        return image_fail(err, IMAGE_ERR_INVALID, "%s: layer already finished", path);
    int rc = archive_write_header(w->archive, e);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        return archive_failure(w, err, path);
    w->entries++;
    return IMAGE_OK;
}

image_err_t image_layer_add_path(image_layer_writer_t *w, const char *disk_path, const char *path,
                                 char **err)
{
    if (!path_ok(path))
        return image_fail(err, IMAGE_ERR_INVALID, "layer entry \"%s\": not a relative path",
                          path ? path : "");
    struct stat st;
    if (lstat(disk_path, &st) < 0)
        return image_fail(err, IMAGE_ERR_IO, "%s: %m", disk_path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
        return image_fail(err, IMAGE_ERR_UNSUPPORTED, "%s: not a file, directory or symlink",
                          disk_path);
    struct archive_entry *e = archive_entry_new2(w->archive);
    if (!e)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    image_err_t rc = IMAGE_OK;
    int fd = -1;
    entry_common(w, e, path, st.st_uid, st.st_gid, st.st_mtime);
    archive_entry_set_perm(e, st.st_mode & 07777);
    if (S_ISDIR(st.st_mode)) {
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_size(e, 0);
        rc = write_header(w, e, path, err);
        goto out;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlink(disk_path, target, PATH_MAX);
        if (n < 0) {
            rc = image_fail(err, IMAGE_ERR_IO, "%s: %m", disk_path);
            goto out;
        }
        target[n] = '\0';
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_copy_symlink(e, target);
        archive_entry_set_size(e, 0);
        rc = write_header(w, e, path, err);
        goto out;
    }
    archive_entry_set_filetype(e, AE_IFREG);
    char key[64] = "";
    if (st.st_nlink > 1) {
        snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        const char *first = strmap_get(w->links, key);
        if (first) {
            archive_entry_copy_hardlink(e, first);
            archive_entry_set_size(e, 0);
            rc = write_header(w, e, path, err);
            goto out;
        }
    }
    fd = open(disk_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    struct stat fst;
    if (fd < 0 || fstat(fd, &fst) < 0) {
        rc = image_fail(err, IMAGE_ERR_IO, "%s: %m", disk_path);
        goto out;
    }
    if (fst.st_ino != st.st_ino || fst.st_dev != st.st_dev || fst.st_size != st.st_size) {
        rc = image_fail(err, IMAGE_ERR_CHANGED, "%s: changed while the layer was written",
                        disk_path);
        goto out;
    }
    archive_entry_set_size(e, st.st_size);
    rc = write_header(w, e, path, err);
    if (rc != IMAGE_OK)
        goto out;
    int64_t left = st.st_size;
    while (left > 0) {
        size_t want = left < READ_BUF_SIZE ? (size_t)left : READ_BUF_SIZE;
        ssize_t n = image_read_full(fd, w->read_buf, want);
        if (n < 0) {
            rc = image_fail(err, IMAGE_ERR_IO, "%s: %m", disk_path);
            goto out;
        }
        if ((size_t)n < want) {
            rc = image_fail(err, IMAGE_ERR_CHANGED, "%s: shrank while the layer was written",
                            disk_path);
            goto out;
        }
        if (archive_write_data(w->archive, w->read_buf, (size_t)n) != n) {
            rc = archive_failure(w, err, path);
            goto out;
        }
        left -= n;
    }
    char extra;
    if (read(fd, &extra, 1) > 0) {
        rc = image_fail(err, IMAGE_ERR_CHANGED, "%s: grew while the layer was written", disk_path);
        goto out;
    }
    if (key[0]) {
        char *copy = util_strdup(path);
        if (!copy || strmap_set(w->links, key, copy) < 0) {
            free(copy);
            rc = image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        }
    }
out:
    if (fd >= 0)
        close(fd);
    archive_entry_free(e);
    return rc;
}

image_err_t image_layer_add_data(image_layer_writer_t *w, const char *path, unsigned mode,
                                 const void *data, size_t len, char **err)
{
    if (!path_ok(path))
        return image_fail(err, IMAGE_ERR_INVALID, "layer entry \"%s\": not a relative path",
                          path ? path : "");
    struct archive_entry *e = archive_entry_new2(w->archive);
    if (!e)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    entry_common(w, e, path, 0, 0, w->opts.mtime_clamp >= 0 ? w->opts.mtime_clamp : 0);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode & 07777);
    archive_entry_set_size(e, (la_int64_t)len);
    image_err_t rc = write_header(w, e, path, err);
    if (rc == IMAGE_OK && len > 0 && archive_write_data(w->archive, data, len) != (la_ssize_t)len)
        rc = archive_failure(w, err, path);
    archive_entry_free(e);
    return rc;
}

image_err_t image_layer_add_dir(image_layer_writer_t *w, const char *path, unsigned mode,
                                char **err)
{
    if (!path_ok(path))
        return image_fail(err, IMAGE_ERR_INVALID, "layer entry \"%s\": not a relative path",
                          path ? path : "");
    struct archive_entry *e = archive_entry_new2(w->archive);
    if (!e)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    entry_common(w, e, path, 0, 0, w->opts.mtime_clamp >= 0 ? w->opts.mtime_clamp : 0);
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, mode & 07777);
    archive_entry_set_size(e, 0);
    image_err_t rc = write_header(w, e, path, err);
    archive_entry_free(e);
    return rc;
}

/* "<dir>/.wh.<name>" for "<dir>/<name>" */
static char *whiteout_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash)
        return util_asprintf("%.*s/" WHITEOUT "%s", (int)(slash - path), path, slash + 1);
    return util_asprintf(WHITEOUT "%s", path);
}

static image_err_t add_marker(image_layer_writer_t *w, const char *name, char **err)
{
    if (!name)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    struct archive_entry *e = archive_entry_new2(w->archive);
    if (!e)
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    entry_common(w, e, name, 0, 0, w->opts.mtime_clamp >= 0 ? w->opts.mtime_clamp : 0);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 0);
    image_err_t rc = write_header(w, e, name, err);
    archive_entry_free(e);
    return rc;
}

image_err_t image_layer_add_whiteout(image_layer_writer_t *w, const char *path, char **err)
{
    if (!path_ok(path))
        return image_fail(err, IMAGE_ERR_INVALID, "whiteout \"%s\": not a relative path",
                          path ? path : "");
    char *name = whiteout_name(path);
    image_err_t rc = add_marker(w, name, err);
    free(name);
    return rc;
}

image_err_t image_layer_add_opaque(image_layer_writer_t *w, const char *dir, char **err)
{
    if (!path_ok(dir))
        return image_fail(err, IMAGE_ERR_INVALID, "opaque marker \"%s\": not a relative path",
                          dir ? dir : "");
    char *name = util_asprintf("%s/" OPAQUE, dir);
    image_err_t rc = add_marker(w, name, err);
    free(name);
    return rc;
}

image_err_t image_layer_writer_finish(image_layer_writer_t *w, image_layer_info_t *info, char **err)
{
    if (w->finished)
        return image_fail(err, IMAGE_ERR_INVALID, "layer already finished");
    w->finished = true;
    if (archive_write_close(w->archive) != ARCHIVE_OK)
        return archive_failure(w, err, "end of layer");
    if (w->opts.gzip && deflate_some(w, NULL, 0, Z_FINISH) < 0)
        return w->sink_failed
                   ? image_fail(err, IMAGE_ERR_SINK, "the layer could not be written out")
                   : image_fail(err, IMAGE_ERR_FORMAT, "deflate failed");
    if (info) {
        registry_sha256_final(&w->tar_sha, info->diff_id);
        registry_sha256_final(&w->blob_sha, info->digest);
        info->size = w->size;
        info->tar_size = w->tar_size;
        info->entries = w->entries;
    }
    return IMAGE_OK;
}
