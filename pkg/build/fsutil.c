/*
 * build/fsutil: the file system chores of the steps: copying the source into the image,
 * removing trees, the mount points a snapshot must leave out.
 */
#include "build/build_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *build_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    if (!*b)
        return util_asprintf("%.*s", (int)la, a);
    if (la == 1 && a[0] == '/')
        return util_asprintf("/%s", b);
    return util_asprintf("%.*s/%s", (int)la, a, b);
}

bool build_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

bool build_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int build_mkdirs(const char *path, mode_t mode)
{
    char *p = util_strdup(path);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            errno = e;
            return -1;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return build_is_dir(path) ? 0 : (errno = ENOTDIR, -1);
}

int build_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            errno = e;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, mode) < 0 || close(fd) < 0)
        return -1;
    return 0;
}

size_t build_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

int build_strv_push(char ***v, size_t *len, const char *s)
{
    char *copy = util_strdup(s);
    if (!copy)
        return -1;
    char **grown = realloc(*v, (*len + 2) * sizeof(char *));
    if (!grown) {
        free(copy);
        return -1;
    }
    grown[(*len)++] = copy;
    grown[*len] = NULL;
    *v = grown;
    return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

char **build_mount_points(const char *mountinfo_path)
{
    FILE *f = fopen(mountinfo_path ? mountinfo_path : "/proc/self/mountinfo", "re");
    if (!f)
        return NULL;
    char **out = calloc(1, sizeof(char *));
    size_t len = 0;
    char *line = NULL;
    size_t cap = 0;
    while (out && getline(&line, &cap, f) > 0) {
        /* id parent major:minor root mountpoint ... */
        char *save = NULL, *field = strtok_r(line, " ", &save);
        for (int i = 0; field && i < 4; i++)
            field = strtok_r(NULL, " ", &save);
        if (!field)
            continue;
        unescape_octal(field);
        if (strcmp(field, "/") == 0)
            continue;
        bool seen = false;
        for (size_t i = 0; i < len && !seen; i++)
            seen = strcmp(out[i], field) == 0;
        if (!seen && build_strv_push(&out, &len, field) < 0) {
            build_strv_free(out);
            out = NULL;
        }
    }
    free(line);
    fclose(f);
    return out;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

int build_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* ---- copy ------------------------------------------------------------------------------ */

typedef struct copier {
    regex_t exclude;
    bool has_exclude;
    char *err;
} copier_t;

static int fail(copier_t *c, const char *what, const char *path)
{
    if (!c->err)
        c->err = util_asprintf("%s %s: %s", what, path, strerror(errno));
    return -1;
}

static int copy_file(copier_t *c, const char *src, const char *dst, const struct stat *st)
{
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        return fail(c, "open", src);
    unlink(dst);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
        close(in);
        return fail(c, "create", dst);
    }
    char buf[64 * 1024];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fail(c, "read", src);
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = fail(c, "write", dst);
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    close(in);
    if (rc == 0 && fchmod(out, st->st_mode & 07777) < 0)
        rc = fail(c, "chmod", dst);
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    if (rc == 0 && futimens(out, times) < 0)
        rc = fail(c, "set times of", dst);
    if (close(out) < 0 && rc == 0)
        rc = fail(c, "close", dst);
    return rc;
}

static int copy_dir(copier_t *c, const char *src, const char *dst, const char *rel);

static int copy_entry(copier_t *c, const char *src, const char *dst, const char *rel)
{
    if (c->has_exclude && *rel && regexec(&c->exclude, rel, 0, NULL, 0) == 0)
        return 0;
    struct stat st;
    if (lstat(src, &st) < 0)
        return fail(c, "stat", src);
    if (S_ISDIR(st.st_mode)) {
        struct stat dst_st;
        if (lstat(dst, &dst_st) == 0 && !S_ISDIR(dst_st.st_mode))
            unlink(dst);
        if (mkdir(dst, 0700) < 0 && errno != EEXIST)
            return fail(c, "mkdir", dst);
        if (copy_dir(c, src, dst, rel) < 0)
            return -1;
        /* The top directory may be someone else's (an emptyDir): its metadata is best
         * effort. */
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        if ((chmod(dst, st.st_mode & 07777) < 0 || utimensat(AT_FDCWD, dst, times, 0) < 0) && *rel)
            return fail(c, "set the mode and times of", dst);
        return 0;
    }
    if (S_ISREG(st.st_mode))
        return copy_file(c, src, dst, &st);
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0)
            return fail(c, "readlink", src);
        target[n] = '\0';
        unlink(dst);
        if (symlink(target, dst) < 0)
            return fail(c, "symlink", dst);
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    log_warn("skipping a special file", "path", src, NULL);
    return 0;
}

static int copy_dir(copier_t *c, const char *src, const char *dst, const char *rel)
{
    DIR *d = opendir(src);
    if (!d)
        return fail(c, "open directory", src);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *s = build_path_join(src, de->d_name);
        char *t = build_path_join(dst, de->d_name);
        char *r = *rel ? util_asprintf("%s/%s", rel, de->d_name) : util_strdup(de->d_name);
        if (!s || !t || !r) {
            errno = ENOMEM;
            rc = fail(c, "copy", src);
        } else {
            rc = copy_entry(c, s, t, r);
        }
        free(s);
        free(t);
        free(r);
    }
    closedir(d);
    return rc;
}

int build_copy_tree(const char *src, const char *dst, const char *exclude, char **err)
{
    copier_t c = {0};
    *err = NULL;
    if (exclude && *exclude) {
        int rc = regcomp(&c.exclude, exclude, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &c.exclude, msg, sizeof(msg));
            *err = util_asprintf("excludeRegExp %s: %s", exclude, msg);
            return -1;
        }
        c.has_exclude = true;
    }
    char *parent = util_strdup(dst);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash && slash != parent)
        *slash = '\0';
    int rc = !parent ? (errno = ENOMEM, fail(&c, "copy", dst))
             : slash && slash != parent && build_mkdirs(parent, 0755) < 0
                 ? fail(&c, "mkdir", parent)
                 : copy_entry(&c, src, dst, "");
    free(parent);
    if (c.has_exclude)
        regfree(&c.exclude);
    if (rc < 0)
        *err = c.err ? c.err : util_strdup("out of memory");
    else
        free(c.err);
    return rc;
}
