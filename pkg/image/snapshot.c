/*
 * image/snapshot: recording a tree's state and diffing two recordings.
 *
 * The walk is depth-first with *at() calls on directory descriptors (one open per level of
 * depth), lstat semantics everywhere, and never follows a symlink. Entries are sorted by
 * path once at the end, so a diff is a linear merge of two sorted arrays: tens of
 * thousands of files cost a few milliseconds beyond the stat calls themselves.
 *
 * Why metadata and not content: see image_snapshot_take in image.h.
 */
#include "image/image_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files changed this recently before the snapshot get their content hashed. */
#define RACY_WINDOW_SECONDS 2
#define HASH_BUF_SIZE       (64u << 10)

struct image_snapshot {
    char *root;
    snap_entry_t *entries;
    size_t len;
    size_t cap;
    char **notes;
    size_t notes_len;
    size_t notes_cap;
    int64_t taken; /* wall clock, seconds */
};

typedef struct walk {
    image_snapshot_t *s;
    strmap_t *exclude; /* set of normalised paths */
    bool one_file_system;
    bool hash_racy;
    dev_t root_dev;
    char *hash_buf;
    bool oom;
} walk_t;

static int note(image_snapshot_t *s, const char *fmt, ...) UTIL_PRINTF(2, 3);
static int note(image_snapshot_t *s, const char *fmt, ...)
{
    if (s->notes_len == s->notes_cap) {
        size_t cap = s->notes_cap ? s->notes_cap * 2 : 16;
        char **n = realloc(s->notes, cap * sizeof(*n));
        if (!n)
            return -1;
        s->notes = n;
        s->notes_cap = cap;
    }
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom) {
        buf_free(&b);
        return -1;
    }
    s->notes[s->notes_len++] = buf_steal(&b);
    return 0;
}

static void entry_free(snap_entry_t *e)
{
    free(e->path);
    free(e->link);
    free(e->hash);
}

void image_snapshot_free(image_snapshot_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->len; i++)
        entry_free(&s->entries[i]);
    for (size_t i = 0; i < s->notes_len; i++)
        free(s->notes[i]);
    free(s->entries);
    free(s->notes);
    free(s->root);
    free(s);
}

size_t image_snapshot_len(const image_snapshot_t *s)
{
    return s->len;
}

size_t image_snapshot_notes_len(const image_snapshot_t *s)
{
    return s->notes_len;
}

const char *image_snapshot_note(const image_snapshot_t *s, size_t i)
{
    return i < s->notes_len ? s->notes[i] : NULL;
}

const snap_entry_t *image_snapshot_entry(const image_snapshot_t *s, size_t i)
{
    return i < s->len ? &s->entries[i] : NULL;
}

/* "/var/run/secrets/" -> "var/run/secrets"; "" for the root itself. */
static char *normalise(const char *p)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = p + strcspn(p, "/");
        size_t n = (size_t)(end - p);
        if (n == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (n > 0) {
            if (b.len)
                buf_putc(&b, '/');
            buf_append(&b, p, n);
        }
        p = end;
    }
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static snap_entry_t *add_entry(walk_t *w, char *path, const struct stat *st)
{
    image_snapshot_t *s = w->s;
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        snap_entry_t *n = realloc(s->entries, cap * sizeof(*n));
        if (!n) {
            free(path);
            w->oom = true;
            return NULL;
        }
        s->entries = n;
        s->cap = cap;
    }
    snap_entry_t *e = &s->entries[s->len++];
    memset(e, 0, sizeof(*e));
    e->path = path;
    e->mode = st->st_mode;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->size = st->st_size;
    e->mtime_sec = st->st_mtim.tv_sec;
    e->mtime_nsec = (int32_t)st->st_mtim.tv_nsec;
    e->ctime_sec = st->st_ctim.tv_sec;
    e->ctime_nsec = (int32_t)st->st_ctim.tv_nsec;
    e->ino = st->st_ino;
    e->nlink = st->st_nlink;
    return e;
}

/* sha256 of a file's content, or NULL (unreadable: the caller notes it). */
static char *hash_file_at(int dfd, const char *name, char *buf)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return NULL;
    registry_sha256_t h;
    if (registry_sha256_init(&h) < 0) {
        close(fd);
        return NULL;
    }
    ssize_t n;
    while ((n = image_read_full(fd, buf, HASH_BUF_SIZE)) > 0)
        registry_sha256_update(&h, buf, (size_t)n);
    close(fd);
    char digest[REGISTRY_DIGEST_LEN];
    registry_sha256_final(&h, digest);
    registry_sha256_free(&h);
    return n < 0 ? NULL : util_strdup(digest);
}

static const char *type_name(mode_t m)
{
    if (S_ISCHR(m))
        return "character device";
    if (S_ISBLK(m))
        return "block device";
    if (S_ISFIFO(m))
        return "fifo";
    if (S_ISSOCK(m))
        return "socket";
    return "special file";
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dfd (borrowed) into a sorted array of names. NULL with errno on failure. */
static char **list_dir(int dfd, size_t *n_out)
{
    int fd = dup(dfd);
    if (fd < 0)
        return NULL;
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return NULL;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*grown));
            if (!grown)
                goto fail;
            names = grown;
        }
        if (!(names[n] = util_strdup(de->d_name)))
            goto fail;
        n++;
        errno = 0;
    }
    if (errno)
        goto fail;
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    *n_out = n;
    if (!names)
        names = calloc(1, sizeof(*names));
    return names;
fail : {
    int saved = errno ? errno : ENOMEM;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    errno = saved;
    return NULL;
}
}

/* Records what is in directory dfd, whose path is rel ("" for the root) and whose own
 * entry is at index self (-1 for the root). */
static void walk_dir(walk_t *w, int dfd, const char *rel, ssize_t self)
{
    size_t n = 0;
    char **names = list_dir(dfd, &n);
    if (!names) {
        if (errno == ENOMEM) {
            w->oom = true;
            return;
        }
        if (self >= 0)
            w->s->entries[self].unreadable = true;
        if (note(w->s, "%s: %s: not recorded", *rel ? rel : ".", strerror(errno)) < 0)
            w->oom = true;
        return;
    }
    for (size_t i = 0; i < n && !w->oom; i++) {
        char *path = *rel ? util_asprintf("%s/%s", rel, names[i]) : util_strdup(names[i]);
        if (!path) {
            w->oom = true;
            break;
        }
        if (strmap_get(w->exclude, path)) {
            free(path);
            continue;
        }
        struct stat st;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT) { /* gone since the listing: nothing to record */
                if (self >= 0)
                    w->s->entries[self].unreadable = true;
                if (note(w->s, "%s: %s: not recorded", path, strerror(errno)) < 0)
                    w->oom = true;
            }
            free(path);
            continue;
        }
        if (w->one_file_system && st.st_dev != w->root_dev) {
            if (note(w->s, "%s: on another file system (a mount): not recorded", path) < 0)
                w->oom = true;
            free(path);
            continue;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
            if (note(w->s, "%s: %s skipped", path, type_name(st.st_mode)) < 0)
                w->oom = true;
            free(path);
            continue;
        }
        snap_entry_t *e = add_entry(w, path, &st);
        if (!e)
            break;
        size_t index = w->s->len - 1;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX + 1];
            ssize_t len = readlinkat(dfd, names[i], target, PATH_MAX);
            if (len >= 0) {
                target[len] = '\0';
                if (!(e->link = util_strdup(target)))
                    w->oom = true;
            } else if (note(w->s, "%s: readlink: %s", path, strerror(errno)) < 0) {
                w->oom = true;
            }
        } else if (S_ISREG(st.st_mode)) {
            int64_t racy_after = w->s->taken - RACY_WINDOW_SECONDS;
            if (w->hash_racy &&
                (st.st_mtim.tv_sec >= racy_after || st.st_ctim.tv_sec >= racy_after)) {
                e->hash = hash_file_at(dfd, names[i], w->hash_buf);
                if (!e->hash && note(w->s,
                                     "%s: recently changed but unreadable: compared by "
                                     "metadata only",
                                     path) < 0)
                    w->oom = true;
            }
        } else {
            int child = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0) {
                e->unreadable = true;
                if (note(w->s, "%s: %s: content not recorded", path, strerror(errno)) < 0)
                    w->oom = true;
            } else {
                /* e may move when entries grow: pass its index and copy the path */
                char *child_rel = util_strdup(path);
                if (!child_rel)
                    w->oom = true;
                else
                    walk_dir(w, child, child_rel, (ssize_t)index);
                free(child_rel);
                close(child);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const snap_entry_t *)a)->path, ((const snap_entry_t *)b)->path);
}

image_err_t image_snapshot_walk(const char *root, const image_snapshot_options_t *opts,
                                bool hash_racy, image_snapshot_t **out, char **err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        image_err_t rc = image_fail(err, IMAGE_ERR_IO, "%s: %m", root);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    image_snapshot_t *s = calloc(1, sizeof(*s));
    walk_t w = {.s = s,
                .exclude = strmap_new(NULL),
                .hash_racy = hash_racy,
                .root_dev = st.st_dev,
                .hash_buf = malloc(HASH_BUF_SIZE)};
    if (opts)
        w.one_file_system = opts->one_file_system;
    if (!s || !w.exclude || !w.hash_buf || !(s->root = util_strdup(root))) {
        w.oom = true;
        goto out;
    }
    s->taken = (int64_t)util_now();
    for (size_t i = 0; opts && i < opts->exclude_len; i++) {
        char *p = normalise(opts->exclude[i]);
        if (!p || (*p && strmap_set(w.exclude, p, s) < 0))
            w.oom = true;
        free(p);
    }
    if (!w.oom)
        walk_dir(&w, fd, "", -1);
    if (!w.oom && s->len > 1)
        qsort(s->entries, s->len, sizeof(*s->entries), cmp_entries);
out:
    close(fd);
    strmap_free(w.exclude);
    free(w.hash_buf);
    if (w.oom) {
        image_snapshot_free(s);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    if (s->notes_len)
        log_v(1, "snapshot has notes", "root", root, "first", s->notes[0], NULL);
    *out = s;
    return IMAGE_OK;
}

image_err_t image_snapshot_take(const char *root, const image_snapshot_options_t *opts,
                                image_snapshot_t **out, char **err)
{
    return image_snapshot_walk(root, opts, true, out, err);
}

/* ---- diff ---------------------------------------------------------------------------- */

void image_changes_clear(image_changes_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->len; i++)
        free(c->items[i].path);
    for (size_t i = 0; i < c->notes_len; i++)
        free(c->notes[i]);
    free(c->items);
    free(c->notes);
    memset(c, 0, sizeof(*c));
}

typedef struct diff {
    image_changes_t *out;
    size_t cap;
    size_t notes_cap;
    strmap_t *unreadable; /* directories not compared */
    strmap_t *covered;    /* deleted or replaced directories: their old content goes with them */
    strmap_t *opaque;     /* directories replaced by new ones: all now inside is added */
    bool oom;
} diff_t;

/* Is a proper ancestor of path in set? */
static bool ancestor_in(const strmap_t *set, const char *path)
{
    if (strmap_len(set) == 0)
        return false;
    size_t n = strlen(path);
    char *tmp = malloc(n + 1);
    if (!tmp)
        return false;
    memcpy(tmp, path, n + 1);
    bool found = false;
    for (size_t i = n; i > 0 && !found; i--) {
        if (tmp[i - 1] != '/')
            continue;
        tmp[i - 1] = '\0';
        found = strmap_get(set, tmp) != NULL;
    }
    free(tmp);
    return found;
}

static void emit_change(diff_t *d, const char *path, image_change_kind_t kind, bool opaque)
{
    image_changes_t *c = d->out;
    if (c->len == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        image_change_t *n = realloc(c->items, cap * sizeof(*n));
        if (!n) {
            d->oom = true;
            return;
        }
        c->items = n;
        d->cap = cap;
    }
    char *copy = util_strdup(path);
    if (!copy) {
        d->oom = true;
        return;
    }
    c->items[c->len++] = (image_change_t){.path = copy, .kind = kind, .opaque = opaque};
}

static void diff_note(diff_t *d, const char *msg, const char *path)
{
    image_changes_t *c = d->out;
    if (c->notes_len == d->notes_cap) {
        size_t cap = d->notes_cap ? d->notes_cap * 2 : 8;
        char **n = realloc(c->notes, cap * sizeof(*n));
        if (!n) {
            d->oom = true;
            return;
        }
        c->notes = n;
        d->notes_cap = cap;
    }
    char *s = util_asprintf("%s: %s", path, msg);
    if (!s) {
        d->oom = true;
        return;
    }
    c->notes[c->notes_len++] = s;
}

static bool same_metadata(const snap_entry_t *a, const snap_entry_t *b)
{
    if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid || a->ino != b->ino ||
        a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec)
        return false;
    if (S_ISDIR(a->mode))
        return true; /* a directory's mtime moves with its entries; its ctime too often */
    if (a->size != b->size || a->ctime_sec != b->ctime_sec || a->ctime_nsec != b->ctime_nsec)
        return false;
    return !S_ISLNK(a->mode) || util_streq(a->link, b->link);
}

/* A racy file's content, compared with what it was. */
static bool content_changed(const image_snapshot_t *after, const snap_entry_t *before)
{
    char *path = util_asprintf("%s/%s", after->root, before->path);
    char *buf = malloc(HASH_BUF_SIZE);
    char *now = path && buf ? hash_file_at(AT_FDCWD, path, buf) : NULL;
    bool changed = !now || strcmp(now, before->hash) != 0;
    free(now);
    free(buf);
    free(path);
    return changed;
}

static void mark(diff_t *d, strmap_t *set, const char *path)
{
    if (strmap_set(set, path, d) < 0)
        d->oom = true;
}

image_err_t image_snapshot_diff(const image_snapshot_t *before, const image_snapshot_t *after,
                                image_changes_t *out, char **err)
{
    memset(out, 0, sizeof(*out));
    diff_t d = {.out = out,
                .unreadable = strmap_new(NULL),
                .covered = strmap_new(NULL),
                .opaque = strmap_new(NULL)};
    if (!d.unreadable || !d.covered || !d.opaque)
        d.oom = true;
    /* directories we could not list (in either snapshot) are not compared inside */
    const image_snapshot_t *both[2] = {before, after};
    for (int k = 0; k < 2 && !d.oom; k++) {
        for (size_t i = 0; i < both[k]->len; i++) {
            const snap_entry_t *e = &both[k]->entries[i];
            if (e->unreadable && !strmap_get(d.unreadable, e->path)) {
                mark(&d, d.unreadable, e->path);
                diff_note(&d, "could not be read completely: changes inside are not recorded",
                          e->path);
            }
        }
    }
    size_t i = 0, j = 0;
    while (!d.oom && (i < before->len || j < after->len)) {
        const snap_entry_t *b = i < before->len ? &before->entries[i] : NULL;
        const snap_entry_t *a = j < after->len ? &after->entries[j] : NULL;
        int cmp = a && b ? strcmp(b->path, a->path) : (b ? -1 : 1);
        const char *path = cmp <= 0 ? b->path : a->path;
        if (cmp < 0)
            i++;
        else if (cmp > 0)
            j++;
        else {
            i++;
            j++;
        }
        if (ancestor_in(d.unreadable, path))
            continue;
        if (cmp < 0) {
            /* only before: deleted, unless a deleted or replaced ancestor takes it along */
            if (S_ISDIR(b->mode))
                mark(&d, d.covered, path);
            if (!ancestor_in(d.covered, path) && !ancestor_in(d.opaque, path))
                emit_change(&d, path, IMAGE_CHANGE_DELETED, false);
            continue;
        }
        if (cmp > 0) {
            emit_change(&d, path, IMAGE_CHANGE_ADDED, false);
            continue;
        }
        bool under_opaque = ancestor_in(d.opaque, path);
        bool both_dirs = S_ISDIR(b->mode) && S_ISDIR(a->mode);
        if (both_dirs && b->ino != a->ino && !under_opaque) {
            /* deleted and created again: hide all it had, add all it has */
            mark(&d, d.opaque, path);
            emit_change(&d, path, IMAGE_CHANGE_MODIFIED, true);
            continue;
        }
        if (S_ISDIR(b->mode) && !S_ISDIR(a->mode))
            mark(&d, d.covered, path);
        if (under_opaque) {
            emit_change(&d, path, IMAGE_CHANGE_ADDED, false);
            continue;
        }
        bool changed = !same_metadata(b, a);
        if (!changed && b->hash && S_ISREG(b->mode))
            changed = content_changed(after, b);
        if (changed)
            emit_change(&d, path, IMAGE_CHANGE_MODIFIED, false);
    }
    strmap_free(d.unreadable);
    strmap_free(d.covered);
    strmap_free(d.opaque);
    if (d.oom) {
        image_changes_clear(out);
        return image_fail(err, IMAGE_ERR_NOMEM, "out of memory");
    }
    return IMAGE_OK;
}
