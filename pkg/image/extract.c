/*
 * image/extract: applying a layer to a directory.
 *
 * libarchive reads the stream (every tar dialect an image may carry: ustar, PAX, GNU long
 * names, sparse files; any compression) but the files are created here, not by
 * archive_write_disk, because applying a layer is not unpacking an archive: whiteouts
 * delete, and paths must be resolved as the container will see them. Every file system
 * call is relative to a descriptor of the destination (the *at() calls), and a path is
 * only handed to the kernel after its directories have been resolved component by
 * component: a symlink met on the way is followed inside the destination (an absolute
 * target starts again at the destination, ".." stops at it), as a chroot would, so
 * nothing a layer says can make us write outside it. Entry names and hardlink targets
 * that climb above the destination with ".." are refused outright, as docker does.
 *
 * A path this layer created is remembered, so that an opaque marker hides only what
 * lower layers put in a directory, whether it comes before or after the new content in
 * the tar.
 */
#include "image/image_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SYMLINKS 40
#define READ_BLOCK   ((size_t)64 << 10)
#define WHITEOUT     ".wh."
#define OPAQUE       ".wh..wh..opq"

typedef struct dir_fixup {
    char *path;
    mode_t mode;
    int64_t uid;
    int64_t gid;
    time_t mtime;
} dir_fixup_t;

typedef struct extractor {
    int root;
    const char *dest;
    bool same_owner;
    bool privileged;
    strmap_t *created; /* canonical paths this layer made */
    dir_fixup_t *dirs;
    size_t dirs_len;
    size_t dirs_cap;
    size_t skipped;
    char **err;
} extractor_t;

/* Cleans an entry name lexically: "./a//b/../c/" -> "a/c". UNSAFE when ".." would climb
 * above the top. *out is "" for the top itself. */
static image_err_t clean_name(const char *name, char **out, char **err)
{
    size_t n = strlen(name);
    char *copy = malloc(n + 1), *result = malloc(n + 1);
    if (!copy || !result) {
        free(copy);
        free(result);
        image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        return IMAGE_ERR_NOMEM;
    }
    memcpy(copy, name, n + 1);
    size_t len = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (len == 0) {
                free(copy);
                free(result);
                image_fail(err, IMAGE_ERR_UNSAFE,
                           "layer entry \"%s\" climbs out of the destination", name);
                return IMAGE_ERR_UNSAFE;
            }
            while (len > 0 && result[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            continue;
        }
        if (len)
            result[len++] = '/';
        size_t cn = strlen(c);
        memcpy(result + len, c, cn);
        len += cn;
    }
    result[len] = '\0';
    free(copy);
    *out = result;
    return IMAGE_OK;
}

static char *join(const char *dir, const char *name)
{
    return *dir ? util_asprintf("%s/%s", dir, name) : util_strdup(name);
}

static image_err_t remember(extractor_t *x, const char *path)
{
    if (strmap_set(x->created, path, x) < 0)
        return image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
    return IMAGE_OK;
}

/* Resolves directory path rel inside the destination, following symlinks as a chroot
 * would and (when create) making missing directories. *out is the canonical path: every
 * component a real directory. */
static image_err_t resolve_dir(extractor_t *x, const char *rel, bool create, char **out,
                               bool *missing)
{
    buf_t done = BUF_INIT, todo = BUF_INIT;
    buf_puts(&done, "");
    buf_puts(&todo, rel);
    size_t pos = 0;
    int links = 0;
    image_err_t rc = IMAGE_OK;
    while (rc == IMAGE_OK && !todo.oom && !done.oom) {
        while (pos < todo.len && todo.data[pos] == '/')
            pos++;
        if (pos >= todo.len)
            break;
        size_t end = pos;
        while (end < todo.len && todo.data[end] != '/')
            end++;
        char *c = strndup(todo.data + pos, end - pos);
        pos = end;
        if (!c) {
            rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
            break;
        }
        if (strcmp(c, ".") == 0) {
            free(c);
            continue;
        }
        if (strcmp(c, "..") == 0) {
            /* stops at the top, as ".." of "/" does */
            char *slash = strrchr(done.data, '/');
            done.len = slash ? (size_t)(slash - done.data) : 0;
            done.data[done.len] = '\0';
            free(c);
            continue;
        }
        char *candidate = join(done.data, c);
        free(c);
        if (!candidate) {
            rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (fstatat(x->root, candidate, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT || !create) {
                if (errno == ENOENT && missing)
                    *missing = true;
                rc = image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %m", x->dest, candidate);
            } else if (mkdirat(x->root, candidate, 0755) < 0) {
                rc = image_fail(x->err, IMAGE_ERR_IO, "mkdir %s/%s: %m", x->dest, candidate);
            } else {
                rc = remember(x, candidate);
                buf_reset(&done);
                buf_puts(&done, candidate);
            }
        } else if (S_ISDIR(st.st_mode)) {
            buf_reset(&done);
            buf_puts(&done, candidate);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX + 1];
            ssize_t n = readlinkat(x->root, candidate, target, PATH_MAX);
            if (++links > MAX_SYMLINKS || n < 0) {
                rc = image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %s", x->dest, candidate,
                                n < 0 ? strerror(errno) : "too many levels of symbolic links");
            } else {
                target[n] = '\0';
                /* the rest of the path now follows the link's target */
                buf_t next = BUF_INIT;
                buf_append(&next, target, (size_t)n);
                buf_putc(&next, '/');
                buf_append(&next, todo.data + pos, todo.len - pos);
                buf_free(&todo);
                todo = next;
                pos = 0;
                if (target[0] == '/') {
                    buf_reset(&done);
                    buf_puts(&done, "");
                }
            }
        } else {
            rc = image_fail(x->err, IMAGE_ERR_IO, "%s/%s: not a directory", x->dest, candidate);
        }
        free(candidate);
    }
    buf_free(&todo);
    if (rc == IMAGE_OK && done.oom)
        rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
    if (rc != IMAGE_OK) {
        buf_free(&done);
        return rc;
    }
    *out = buf_steal(&done);
    return *out ? IMAGE_OK : image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
}

/* Removes name in dfd, recursively; a missing name is fine. */
static int remove_at(int dfd, const char *name)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* a read-only directory of a lower layer is still ours to empty */
    if ((st.st_mode & 0700) != 0700)
        fchmod(fd, (st.st_mode & 07777) | 0700);
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    int rc = 0;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        rc = -1;
    } else {
        struct dirent *de;
        /* removing while reading is fine for the entries readdir has yet to return */
        while ((de = readdir(d)) && rc == 0) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            rc = remove_at(fd, de->d_name);
        }
        closedir(d);
    }
    close(fd);
    if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

/* An opaque directory: remove what lower layers put under dir (canonical), keeping what
 * this layer created (and descending into directories it re-declared). */
static image_err_t remove_lower(extractor_t *x, const char *dir)
{
    int fd =
        *dir ? openat(x->root, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(x->root);
    if (fd < 0)
        return errno == ENOENT ? IMAGE_OK
                               : image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %m", x->dest, dir);
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        close(fd);
        return image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %m", x->dest, dir);
    }
    image_err_t rc = IMAGE_OK;
    struct dirent *de;
    while (rc == IMAGE_OK && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = join(dir, de->d_name);
        if (!child) {
            rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (strmap_get(x->created, child)) {
            if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                rc = remove_lower(x, child);
        } else if (remove_at(fd, de->d_name) < 0) {
            rc = image_fail(x->err, IMAGE_ERR_IO, "removing %s/%s: %m", x->dest, child);
        }
        free(child);
    }
    closedir(d);
    close(fd);
    return rc;
}

static image_err_t whiteout(extractor_t *x, const char *parent, const char *base)
{
    char *dir = NULL;
    bool missing = false;
    image_err_t rc = resolve_dir(x, parent, false, &dir, &missing);
    if (rc != IMAGE_OK) {
        if (!missing)
            return rc;
        /* nothing below a missing directory to hide */
        if (x->err) {
            free(*x->err);
            *x->err = NULL;
        }
        return IMAGE_OK;
    }
    if (strcmp(base, OPAQUE) == 0) {
        rc = remove_lower(x, dir);
    } else if (!util_has_prefix(base, WHITEOUT WHITEOUT)) {
        char *target = join(dir, base + strlen(WHITEOUT));
        if (!target)
            rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
        else if (!strmap_get(x->created, target) && remove_at(x->root, target) < 0)
            rc = image_fail(x->err, IMAGE_ERR_IO, "whiteout %s/%s: %m", x->dest, target);
        free(target);
    }
    /* other ".wh..wh." names are aufs bookkeeping: ignored */
    free(dir);
    return rc;
}

static void apply_times(int dfd, const char *path, time_t mtime)
{
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    utimensat(dfd, path, ts, AT_SYMLINK_NOFOLLOW);
}

static image_err_t add_dir_fixup(extractor_t *x, const char *path, struct archive_entry *e)
{
    if (x->dirs_len == x->dirs_cap) {
        size_t cap = x->dirs_cap ? x->dirs_cap * 2 : 64;
        dir_fixup_t *n = realloc(x->dirs, cap * sizeof(*n));
        if (!n)
            return image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
        x->dirs = n;
        x->dirs_cap = cap;
    }
    char *copy = util_strdup(path);
    if (!copy)
        return image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
    x->dirs[x->dirs_len++] = (dir_fixup_t){.path = copy,
                                           .mode = archive_entry_perm(e),
                                           .uid = archive_entry_uid(e),
                                           .gid = archive_entry_gid(e),
                                           .mtime = archive_entry_mtime(e)};
    return IMAGE_OK;
}

static image_err_t write_file(extractor_t *x, struct archive *a, struct archive_entry *e,
                              const char *path)
{
    int fd = openat(x->root, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %m", x->dest, path);
    image_err_t rc = IMAGE_OK;
    const void *block;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(a, &block, &size, &offset)) == ARCHIVE_OK) {
        const char *p = block;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, offset);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %m", x->dest, path);
                break;
            }
            p += n;
            size -= (size_t)n;
            offset += n;
        }
        if (rc != IMAGE_OK)
            break;
    }
    if (rc == IMAGE_OK && r != ARCHIVE_EOF)
        rc = image_fail(x->err, IMAGE_ERR_FORMAT, "%s: %s", path, archive_error_string(a));
    /* sparse files may end in a hole */
    if (rc == IMAGE_OK && ftruncate(fd, archive_entry_size(e)) < 0)
        rc = image_fail(x->err, IMAGE_ERR_IO, "%s/%s: %m", x->dest, path);
    if (rc == IMAGE_OK) {
        /* chown first: it clears setuid/setgid, which the chmod then restores */
        if (x->same_owner)
            (void)!fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e));
        fchmod(fd, archive_entry_perm(e) & 07777);
        struct timespec ts[2] = {{.tv_sec = archive_entry_mtime(e)},
                                 {.tv_sec = archive_entry_mtime(e)}};
        futimens(fd, ts);
    }
    close(fd);
    return rc;
}

static image_err_t apply_entry(extractor_t *x, struct archive *a, struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e);
    if (!name)
        name = archive_entry_pathname_utf8(e);
    if (!name)
        return image_fail(x->err, IMAGE_ERR_FORMAT, "layer entry without a name");
    char *rel = NULL, *parent_dir = NULL, *path = NULL;
    image_err_t rc = clean_name(name, &rel, x->err);
    if (rc != IMAGE_OK)
        return rc;
    if (!*rel) {
        free(rel);
        return IMAGE_OK; /* "./": the destination itself */
    }
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (slash)
        *slash = '\0';
    const char *parent = slash ? rel : "";
    if (util_has_prefix(base, WHITEOUT)) {
        rc = whiteout(x, parent, base);
        free(rel);
        return rc;
    }
    rc = resolve_dir(x, parent, true, &parent_dir, NULL);
    if (rc != IMAGE_OK)
        goto out;
    path = join(parent_dir, base);
    if (!path) {
        rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
        goto out;
    }
    mode_t type = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);
    struct stat st;
    bool exists = fstatat(x->root, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
    /* an entry replaces what is there, unless both are directories */
    if (exists && !(type == AE_IFDIR && S_ISDIR(st.st_mode)) && remove_at(x->root, path) < 0) {
        rc = image_fail(x->err, IMAGE_ERR_IO, "replacing %s/%s: %m", x->dest, path);
        goto out;
    }
    if (hardlink) {
        char *target_rel = NULL, *target_dir = NULL, *target = NULL;
        rc = clean_name(hardlink, &target_rel, x->err);
        if (rc == IMAGE_OK && !*target_rel)
            rc = image_fail(x->err, IMAGE_ERR_UNSAFE, "%s: hardlink to the destination itself",
                            path);
        if (rc == IMAGE_OK) {
            char *tslash = strrchr(target_rel, '/');
            const char *tbase = tslash ? tslash + 1 : target_rel;
            if (tslash)
                *tslash = '\0';
            rc = resolve_dir(x, tslash ? target_rel : "", false, &target_dir, NULL);
            if (rc == IMAGE_OK && !(target = join(target_dir, tbase)))
                rc = image_fail(x->err, IMAGE_ERR_NOMEM, "out of memory");
        }
        if (rc == IMAGE_OK && target && linkat(x->root, target, x->root, path, 0) < 0)
            rc = image_fail(x->err, IMAGE_ERR_IO, "link %s/%s to %s: %m", x->dest, path, hardlink);
        free(target_rel);
        free(target_dir);
        free(target);
    } else if (type == AE_IFDIR) {
        if (!exists || !S_ISDIR(st.st_mode)) {
            /* writable until the fixups at the end give it its mode */
            if (mkdirat(x->root, path, 0700) < 0)
                rc = image_fail(x->err, IMAGE_ERR_IO, "mkdir %s/%s: %m", x->dest, path);
        }
        if (rc == IMAGE_OK)
            rc = add_dir_fixup(x, path, e);
    } else if (type == AE_IFREG) {
        rc = write_file(x, a, e, path);
    } else if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (!target)
            target = archive_entry_symlink_utf8(e);
        if (!target || symlinkat(target, x->root, path) < 0) {
            rc = image_fail(x->err, IMAGE_ERR_IO, "symlink %s/%s: %s", x->dest, path,
                            target ? strerror(errno) : "no target");
        } else {
            if (x->same_owner)
                (void)!fchownat(x->root, path, (uid_t)archive_entry_uid(e),
                                (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW);
            apply_times(x->root, path, archive_entry_mtime(e));
        }
    } else if (type == AE_IFIFO || ((type == AE_IFCHR || type == AE_IFBLK) && x->privileged)) {
        if (mknodat(x->root, path, type | (archive_entry_perm(e) & 07777), archive_entry_rdev(e)) <
            0) {
            rc = image_fail(x->err, IMAGE_ERR_IO, "mknod %s/%s: %m", x->dest, path);
        } else {
            if (x->same_owner)
                (void)!fchownat(x->root, path, (uid_t)archive_entry_uid(e),
                                (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW);
            fchmodat(x->root, path, archive_entry_perm(e) & 07777, 0);
            apply_times(x->root, path, archive_entry_mtime(e));
        }
    } else {
        /* devices without privilege, sockets */
        x->skipped++;
        log_v(2, "layer: entry skipped", "path", path, NULL);
        goto out;
    }
    if (rc == IMAGE_OK)
        rc = remember(x, path);
out:
    free(rel);
    free(parent_dir);
    free(path);
    return rc;
}

static int cmp_fixups_deepest_first(const void *a, const void *b)
{
    return strcmp(((const dir_fixup_t *)b)->path, ((const dir_fixup_t *)a)->path);
}

image_err_t image_layer_extract_fd(int fd, const char *dest, const image_extract_options_t *opts,
                                   char **err)
{
    extractor_t x = {.dest = dest, .err = err, .privileged = geteuid() == 0};
    x.same_owner = opts ? opts->same_owner : x.privileged;
    x.root = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.root < 0)
        return image_fail(err, IMAGE_ERR_IO, "%s: %m", dest);
    x.created = strmap_new(NULL);
    struct archive *a = archive_read_new();
    image_err_t rc = IMAGE_OK;
    if (!x.created || !a) {
        rc = image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
        goto out;
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_fd(a, fd, READ_BLOCK) != ARCHIVE_OK) {
        rc = image_fail(err, IMAGE_ERR_FORMAT, "layer: %s", archive_error_string(a));
        goto out;
    }
    struct archive_entry *e;
    int r;
    while (rc == IMAGE_OK && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = image_fail(err, IMAGE_ERR_FORMAT, "layer: %s", archive_error_string(a));
            break;
        }
        rc = apply_entry(&x, a, e);
    }
    if (rc == IMAGE_OK && x.dirs_len) {
        qsort(x.dirs, x.dirs_len, sizeof(*x.dirs), cmp_fixups_deepest_first);
        for (size_t i = 0; i < x.dirs_len; i++) {
            const dir_fixup_t *f = &x.dirs[i];
            if (x.same_owner)
                (void)!fchownat(x.root, f->path, (uid_t)f->uid, (gid_t)f->gid, AT_SYMLINK_NOFOLLOW);
            fchmodat(x.root, f->path, f->mode & 07777, 0);
            apply_times(x.root, f->path, f->mtime);
        }
    }
    if (rc == IMAGE_OK && x.skipped)
        log_info("layer: devices and sockets skipped (not privileged)", "dest", dest, NULL);
out:
    if (a)
        archive_read_free(a);
    for (size_t i = 0; i < x.dirs_len; i++)
        free(x.dirs[i].path);
    free(x.dirs);
    strmap_free(x.created);
    close(x.root);
    return rc;
}

image_err_t image_layer_extract_file(const char *path, const char *dest,
                                     const image_extract_options_t *opts, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return image_fail(err, IMAGE_ERR_IO, "%s: %m", path);
    image_err_t rc = image_layer_extract_fd(fd, dest, opts, err);
    close(fd);
    return rc;
}
