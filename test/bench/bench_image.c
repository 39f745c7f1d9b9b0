/*
 * Benchmark of pkg/image and pkg/registry: what the builder adds on top of `assemble`.
 * Prints numbers, asserts nothing. Run from the repository root (it starts a registry
 * with hack/registry.sh):
 *
 *   bench_image [files] [MiB]      (default 10000 files, 50 MiB)
 *
 * Builds a tree of that many files (sizes from 100 B to 1 MiB, half-compressible content,
 * directories 3 deep) in a scratch directory, then measures:
 *   - snapshot of the tree (stat walk; files written in the last 2 s are hashed, so the
 *     tree is aged first, as a builder image's files are);
 *   - an "assemble" changing 10% of the files and adding 1000, the second snapshot and the
 *     diff, and the layer of the changes (tar+gzip to a file);
 *   - the layer of the whole tree (the builder-image-sized case), at gzip levels 1 and 6;
 *   - its push to a loopback registry: monolithic, chunked (8 MiB), and a registry-to-
 *     registry streamed copy; MiB/s of compressed bytes.
 *
 * Built as build/bench/bench_image and run by `make bench`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/image.h"
#include "registry/registry.h"
#include "util/util.h"

#define MIB (1024.0 * 1024.0)
/* snprintf into an array, dying rather than truncating */
#define FORMAT(buf, ...)                                                                           \
    do {                                                                                           \
        if (snprintf(buf, sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf))                           \
            die("path too long", buf);                                                             \
    } while (0)

static char scratch[] = "/tmp/bench_image_XXXXXX";

static double now(void)
{
    return util_monotonic();
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_image: %s: %s\n", what, err ? err : "failed");
    exit(1);
}

static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        die(cmd, "popen");
    buf_t out = BUF_INIT;
    buf_puts(&out, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        buf_append(&out, chunk, n);
    if (pclose(p) != 0)
        die(cmd, out.data);
    while (out.len && out.data[out.len - 1] == '\n')
        out.data[--out.len] = '\0';
    return buf_steal(&out);
}

/* Half random, half repeated text: compresses about 2:1, like binaries and libraries. */
static void fill(char *buf, size_t n, unsigned *seed)
{
    static const char text[] = "lorem ipsum dolor sit amet, consectetur adipiscing elit ";
    for (size_t i = 0; i < n; i++) {
        if ((i / 512) % 2) {
            buf[i] = text[i % (sizeof(text) - 1)];
        } else {
            *seed = *seed * 1103515245u + 12345u;
            buf[i] = (char)(*seed >> 16);
        }
    }
}

/* Sizes: mostly small files, a few big ones, adding up to about total bytes. */
static size_t file_size(size_t i, size_t files, size_t total)
{
    size_t avg = total / files;
    if (i % 100 == 0)
        return avg * 40 > (1u << 20) ? (1u << 20) : avg * 40; /* 1% big */
    return 100 + (i * 7919) % (avg > 200 ? (avg * 61 / 100) * 2 : 200);
}

static void write_tree(const char *root, size_t files, size_t total, size_t first,
                       const char *prefix)
{
    char *buf = malloc(1u << 20);
    unsigned seed = (unsigned)first + 1;
    for (size_t i = first; i < first + files; i++) {
        char dir[4096], path[4096];
        FORMAT(dir, "%s/%s%02zu/%02zu", root, prefix, i % 37, (i / 37) % 11);
        char *mk = util_asprintf("mkdir -p '%s'", dir);
        struct stat st;
        if (stat(dir, &st) < 0 && system(mk) != 0)
            die("mkdir", dir);
        free(mk);
        FORMAT(path, "%s/f%06zu", dir, i);
        size_t n = file_size(i, files, total);
        fill(buf, n, &seed);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
            die("write", path);
        close(fd);
    }
    free(buf);
}

typedef struct fd_sink {
    int fd;
} fd_sink_t;

static int fd_write(void *data, const void *buf, size_t len)
{
    return write(((fd_sink_t *)data)->fd, buf, len) == (ssize_t)len ? 0 : -1;
}

static image_layer_info_t layer_to_file(const char *root, const image_changes_t *changes, int level,
                                        const char *path, double *seconds)
{
    image_layer_options_t o;
    image_layer_options_default(&o, NULL);
    o.compression_level = level;
    o.gzip = level != 0;
    fd_sink_t s = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    image_layer_info_t info;
    char *err = NULL;
    double t0 = now();
    image_err_t rc = changes
                         ? image_layer_from_changes(root, changes, &o, fd_write, &s, &info, &err)
                         : image_layer_from_dir(root, &o, fd_write, &s, &info, &err);
    *seconds = now() - t0;
    close(s.fd);
    if (rc != IMAGE_OK)
        die("layer", err);
    return info;
}

typedef struct file_source {
    int fd;
} file_source_t;

static ssize_t file_read(void *data, char *buf, size_t len)
{
    return read(((file_source_t *)data)->fd, buf, len);
}

static int file_rewind(void *data)
{
    return lseek(((file_source_t *)data)->fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

static registry_ref_t repo(const char *addr, const char *name)
{
    char *s = util_asprintf("%s/%s", addr, name);
    registry_ref_t r = REGISTRY_REF_INIT;
    if (registry_ref_parse(s, &r, NULL) < 0)
        die("reference", s);
    free(s);
    return r;
}

int main(int argc, char **argv)
{
    size_t files = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 50;
    if (!mkdtemp(scratch))
        die("mkdtemp", scratch);
    char tree[4096], layer[4096], change_layer[4096];
    FORMAT(tree, "%s/tree", scratch);
    FORMAT(layer, "%s/layer.tar.gz", scratch);
    FORMAT(change_layer, "%s/changes.tar.gz", scratch);
    mkdir(tree, 0755);
    double t0 = now();
    write_tree(tree, files, mib << 20, 0, "d");
    double written = now() - t0;
    /* age the tree: a builder image's files are old, not racily new */
    char *cmd = util_asprintf("find '%s' -exec touch -h -d @1600000000 {} +", tree);
    free(run(cmd));
    free(cmd);
    /* and their ctime too (touch set it to now): past the racy window, nothing is hashed */
    sleep(3);
    cmd = util_asprintf("du -sm --apparent-size '%s' | cut -f1", tree);
    char *du = run(cmd);
    free(cmd);
    printf("tree: %zu files, %s MiB apparent, written in %.2f s\n", files, du, written);
    free(du);

    image_snapshot_t *before = NULL, *after = NULL;
    char *err = NULL;
    t0 = now();
    if (image_snapshot_take(tree, NULL, &before, &err) != IMAGE_OK)
        die("snapshot", err);
    double snap = now() - t0;
    printf("snapshot (before): %zu entries in %.3f s (%.0f entries/s)\n",
           image_snapshot_len(before), snap, image_snapshot_len(before) / snap);

    /* "assemble": rewrite 10% of the files, add 1000 */
    char *buf = malloc(4096);
    unsigned seed = 99;
    for (size_t i = 5; i < files; i += 10) {
        char path[4096];
        FORMAT(path, "%s/d%02zu/%02zu/f%06zu", tree, i % 37, (i / 37) % 11, i);
        fill(buf, 4096, &seed);
        int fd = open(path, O_WRONLY | O_TRUNC);
        if (fd < 0 || write(fd, buf, 4096) != 4096)
            die("rewrite", path);
        close(fd);
    }
    free(buf);
    write_tree(tree, 1000, 1000 * 4096, files, "new");
    t0 = now();
    if (image_snapshot_take(tree, NULL, &after, &err) != IMAGE_OK)
        die("snapshot", err);
    double snap2 = now() - t0;
    image_changes_t ch = IMAGE_CHANGES_INIT;
    t0 = now();
    if (image_snapshot_diff(before, after, &ch, &err) != IMAGE_OK)
        die("diff", err);
    double diff = now() - t0;
    printf("snapshot (after): %zu entries in %.3f s (1000 files just written: hashed)\n",
           image_snapshot_len(after), snap2);
    printf("diff: %zu changes in %.4f s\n", ch.len, diff);
    double secs;
    image_layer_info_t ci = layer_to_file(tree, &ch, -1, change_layer, &secs);
    printf("layer of the changes: %zu entries, tar %.1f MiB -> gzip %.1f MiB in %.3f s "
           "(%.0f MiB/s of tar)\n",
           ci.entries, ci.tar_size / MIB, ci.size / MIB, secs, ci.tar_size / MIB / secs);
    printf("builder overhead for this assemble (snapshot x2 + diff + layer): %.2f s\n",
           snap + snap2 + diff + secs);

    image_layer_info_t li = {0};
    int levels[] = {0, 1, 6}; /* 0: a plain tar, what the tar writer costs alone */
    for (size_t k = 0; k < UTIL_ARRAY_LEN(levels); k++) {
        li = layer_to_file(tree, NULL, levels[k], layer, &secs);
        char how[32];
        FORMAT(how, levels[k] ? "gzip level %d" : "no gzip", levels[k]);
        printf("layer of the whole tree, %s: %zu entries, tar %.1f MiB -> %.1f MiB in %.2f s "
               "(%.0f MiB/s of tar)\n",
               how, li.entries, li.tar_size / MIB, li.size / MIB, secs, li.tar_size / MIB / secs);
    }

    /* push the (level 6) whole-tree layer */
    cmd = util_asprintf("hack/registry.sh start %s/registry", scratch);
    char *addr = run(cmd);
    free(cmd);
    cmd = util_asprintf("hack/registry.sh start %s/registry2", scratch);
    char *addr2 = run(cmd);
    free(cmd);
    registry_client_t *c = registry_client_new(NULL);
    registry_client_set_insecure(c, addr, true);
    registry_client_set_insecure(c, addr2, true);
    registry_error_t e = REGISTRY_ERROR_INIT;
    if (registry_ping(c, addr, &e) != REGISTRY_OK || registry_ping(c, addr2, &e) != REGISTRY_OK)
        die("ping", e.message);
    file_source_t f = {.fd = open(layer, O_RDONLY)};
    registry_blob_source_t src = {
        .read = file_read, .rewind = file_rewind, .data = &f, .size = li.size};
    registry_ref_t mono = repo(addr, "bench/monolithic");
    t0 = now();
    if (registry_blob_upload(c, &mono, li.digest, &src, &e) != REGISTRY_OK)
        die("monolithic upload", e.message);
    secs = now() - t0;
    printf("push monolithic: %.1f MiB in %.2f s = %.0f MiB/s\n", li.size / MIB, secs,
           li.size / MIB / secs);
    file_rewind(&f);
    src.size = -1;
    registry_ref_t chunked = repo(addr, "bench/chunked");
    char digest[REGISTRY_DIGEST_LEN];
    t0 = now();
    if (registry_blob_upload_chunked(c, &chunked, &src, li.digest, digest, &e) != REGISTRY_OK)
        die("chunked upload", e.message);
    secs = now() - t0;
    printf("push chunked (8 MiB chunks): %.1f MiB in %.2f s = %.0f MiB/s\n", li.size / MIB, secs,
           li.size / MIB / secs);
    registry_ref_t other = repo(addr2, "bench/copied");
    registry_copy_how_t how;
    t0 = now();
    if (registry_blob_copy(c, &mono, &other, li.digest, li.size, &how, &e) != REGISTRY_OK)
        die("copy", e.message);
    secs = now() - t0;
    printf("streamed copy registry -> registry: %.1f MiB in %.2f s = %.0f MiB/s (%s)\n",
           li.size / MIB, secs, li.size / MIB / secs,
           how == REGISTRY_COPY_STREAMED ? "streamed" : "not streamed?");
    registry_ref_t mounted = repo(addr, "bench/mounted");
    t0 = now();
    if (registry_blob_copy(c, &mono, &mounted, li.digest, li.size, &how, &e) != REGISTRY_OK)
        die("mount", e.message);
    printf("cross-repository mount of the same blob: %.4f s (%s)\n", now() - t0,
           how == REGISTRY_COPY_MOUNTED ? "mounted" : "not mounted?");
    close(f.fd);
    registry_ref_clear(&mono);
    registry_ref_clear(&chunked);
    registry_ref_clear(&other);
    registry_ref_clear(&mounted);
    registry_error_clear(&e);
    registry_client_free(c);
    cmd = util_asprintf("hack/registry.sh stop %s/registry; hack/registry.sh stop %s/registry2; "
                        "rm -rf '%s'",
                        scratch, scratch, scratch);
    free(run(cmd));
    free(cmd);
    free(addr);
    free(addr2);
    image_changes_clear(&ch);
    image_snapshot_free(before);
    image_snapshot_free(after);
    return 0;
}
