/*
 * Unit tests for pkg/image: config and manifest round trips (unknown fields kept),
 * deterministic layers, snapshots and their diffs on real temporary trees, and layer
 * extraction (whiteouts, traversal). The strongest check is the round trip
 *   base tree -> snapshot -> changes -> diff -> layer -> extract onto a copy of the base
 * which must give the changed tree back, entry for entry.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "image/image.h"
#include "util/util.h"

#define TESTDATA "test/unit/testdata/image/"
/* snprintf that fails the test instead of truncating */
#define SNPRINTF(buf, len, ...) ck_assert_int_lt(snprintf(buf, len, __VA_ARGS__), (int)(len))

/* ---- helpers ---------------------------------------------------------------------------- */

static char *read_testdata(const char *name, size_t *len)
{
    char *path = util_asprintf(TESTDATA "%s", name);
    char *data = util_read_file(path, len);
    ck_assert_msg(data != NULL, "%s", path);
    free(path);
    return data;
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/test_image_XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    chmod(d, 0755);
    return util_strdup(d);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(path, 0700);
    return remove(path);
}

static void rm_tree(const char *dir)
{
    /* unreadable directories first get their permission back */
    char *cmd = util_asprintf("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
    if (system(cmd) != 0)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(cmd);
}

static void rm_sub(const char *root, const char *rel)
{
    char *p = util_asprintf("%s/%s", root, rel);
    rm_tree(p);
    free(p);
}

static void write_file(const char *dir, const char *rel, const char *content)
{
    char *p = util_asprintf("%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    fputs(content, f);
    fclose(f);
    free(p);
}

static void make_dir(const char *dir, const char *rel)
{
    char *p = util_asprintf("%s/%s", dir, rel);
    ck_assert_msg(mkdir(p, 0755) == 0, "%s: %s", p, strerror(errno));
    free(p);
}

static void at(const char *dir, const char *rel, char *out, size_t len)
{
    SNPRINTF(out, len, "%s/%s", dir, rel);
}

static void set_mtime(const char *dir, const char *rel, time_t t)
{
    char p[4096];
    at(dir, rel, p, sizeof(p));
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

typedef struct file_sink {
    int fd;
    buf_t mem;
    bool to_mem;
} file_sink_t;

static int sink_write(void *data, const void *buf, size_t len)
{
    file_sink_t *s = data;
    if (s->to_mem)
        return buf_append(&s->mem, buf, len);
    return write(s->fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Writes a layer of the tree at root into path. */
static image_layer_info_t layer_of_dir(const char *root, const char *path,
                                       const image_layer_options_t *opts)
{
    file_sink_t s = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    ck_assert_int_ge(s.fd, 0);
    image_layer_info_t info;
    char *err = NULL;
    image_err_t rc = image_layer_from_dir(root, opts, sink_write, &s, &info, &err);
    ck_assert_msg(rc == IMAGE_OK, "%s", err ? err : "");
    close(s.fd);
    return info;
}

/* "name|type|perm|uid:gid|uname|size|link|mtime" per entry, as libarchive reads it. */
static char *list_layer(const char *path)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    buf_t out = BUF_INIT;
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *link =
            archive_entry_hardlink(e) ? archive_entry_hardlink(e) : archive_entry_symlink(e);
        char type = archive_entry_hardlink(e)               ? 'h'
                    : archive_entry_filetype(e) == AE_IFDIR ? 'd'
                    : archive_entry_filetype(e) == AE_IFLNK ? 'l'
                                                            : 'f';
        buf_printf(
            &out, "%s|%c|%o|%lld:%lld|%s|%lld|%s|%lld\n", archive_entry_pathname(e), type,
            (unsigned)archive_entry_perm(e), (long long)archive_entry_uid(e),
            (long long)archive_entry_gid(e), archive_entry_uname(e) ? archive_entry_uname(e) : "",
            (long long)archive_entry_size(e), link ? link : "", (long long)archive_entry_mtime(e));
    }
    archive_read_free(a);
    return buf_steal(&out);
}

/* A comparable listing of a tree: "path type mode uid size content-or-target" sorted
 * (mtimes left out: extraction sets them from the layer, which clamps). */
static void describe(const char *root, const char *rel, buf_t *out)
{
    char dir[4096];
    SNPRINTF(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
    char *cmd = util_asprintf("ls -A '%s' | LC_ALL=C sort", dir);
    FILE *p = popen(cmd, "r");
    free(cmd);
    char name[1024];
    char **names = NULL;
    size_t n = 0;
    while (fgets(name, sizeof(name), p)) {
        name[strcspn(name, "\n")] = '\0';
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = util_strdup(name);
    }
    pclose(p);
    for (size_t i = 0; i < n; i++) {
        char child[4096], full[4096];
        SNPRINTF(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        SNPRINTF(full, sizeof(full), "%s/%s", root, child);
        struct stat st;
        ck_assert_int_eq(lstat(full, &st), 0);
        buf_printf(out, "%s %o %u:%u ", child, (unsigned)st.st_mode, (unsigned)st.st_uid,
                   (unsigned)st.st_gid);
        if (S_ISREG(st.st_mode)) {
            size_t len = 0;
            char *content = util_read_file(full, &len);
            buf_printf(out, "%zu:%s nlink=%lu", len, content ? content : "",
                       (unsigned long)st.st_nlink);
            free(content);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t len = readlink(full, target, sizeof(target) - 1);
            target[len < 0 ? 0 : len] = '\0';
            buf_printf(out, "-> %s", target);
        }
        buf_putc(out, '\n');
        if (S_ISDIR(st.st_mode))
            describe(root, child, out);
        free(names[i]);
    }
    free(names);
}

static char *describe_tree(const char *root)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    describe(root, "", &b);
    return buf_steal(&b);
}

/* ---- SOURCE_DATE_EPOCH ------------------------------------------------------------------ */

START_TEST(test_source_date_epoch_parsing)
{
    time_t t = 0;
    unsetenv("SOURCE_DATE_EPOCH");
    ck_assert_int_eq(image_source_date_epoch(&t), 0);
    setenv("SOURCE_DATE_EPOCH", "", 1);
    ck_assert_int_eq(image_source_date_epoch(&t), 0);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    ck_assert_int_eq(image_source_date_epoch(&t), 1);
    ck_assert_int_eq(t, 1700000000);
    ck_assert_int_eq(image_created_time(&t), 0);
    ck_assert_int_eq(t, 1700000000);
    image_layer_options_t o;
    ck_assert_int_eq(image_layer_options_default(&o, NULL), 0);
    ck_assert_int_eq(o.mtime_clamp, 1700000000);
    const char *bad[] = {"12a", "-1", " 5", "1e9", "99999999999999999999999"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        setenv("SOURCE_DATE_EPOCH", bad[i], 1);
        ck_assert_msg(image_source_date_epoch(&t) == -1, "%s accepted", bad[i]);
        char *err = NULL;
        ck_assert_int_eq(image_layer_options_default(&o, &err), -1);
        ck_assert_ptr_nonnull(strstr(err, "SOURCE_DATE_EPOCH"));
        free(err);
    }
    unsetenv("SOURCE_DATE_EPOCH");
    ck_assert_int_eq(image_layer_options_default(&o, NULL), 0);
    ck_assert_int_eq(o.mtime_clamp, -1);
}
END_TEST

/* ---- config ---------------------------------------------------------------------------- */

START_TEST(test_config_round_trip_keeps_unknown_fields)
{
    const char *files[] = {"config-docker.json", "config-oci.json"};
    for (size_t f = 0; f < UTIL_ARRAY_LEN(files); f++) {
        size_t len;
        char *doc = read_testdata(files[f], &len);
        image_config_t *c = NULL;
        char *err = NULL;
        ck_assert_msg(image_config_parse(doc, len, &c, &err) == IMAGE_OK, "%s", err);
        char *out = NULL, *out2 = NULL;
        size_t out_len = 0, out2_len = 0;
        char d1[REGISTRY_DIGEST_LEN], d2[REGISTRY_DIGEST_LEN];
        ck_assert_int_eq(image_config_encode(c, &out, &out_len, d1), IMAGE_OK);
        /* the same document decodes to the same JSON value */
        json_object *orig = json_tokener_parse(doc), *again = json_tokener_parse(out);
        ck_assert(json_object_equal(orig, again));
        json_object_put(orig);
        json_object_put(again);
        /* and encodes to the same bytes every time */
        image_config_t *c2 = NULL;
        ck_assert_int_eq(image_config_parse(out, out_len, &c2, NULL), IMAGE_OK);
        ck_assert_int_eq(image_config_encode(c2, &out2, &out2_len, d2), IMAGE_OK);
        ck_assert_str_eq(out, out2);
        ck_assert_str_eq(d1, d2);
        char want[REGISTRY_DIGEST_LEN];
        registry_digest_of(out, out_len, want);
        ck_assert_str_eq(d1, want);
        ck_assert_ptr_null(strstr(out, "\\/")); /* no escaped slashes */
        free(out);
        free(out2);
        image_config_free(c2);
        image_config_free(c);
        free(doc);
    }
    /* unknown fields of every shape survive literally */
    size_t len;
    char *doc = read_testdata("config-docker.json", &len);
    image_config_t *c = NULL;
    ck_assert_int_eq(image_config_parse(doc, len, &c, NULL), IMAGE_OK);
    ck_assert_int_eq(image_config_set_label(c, "new", "label"), 0);
    char *out = NULL;
    ck_assert_int_eq(image_config_encode(c, &out, &len, NULL), IMAGE_OK);
    ck_assert_ptr_nonnull(strstr(out, "\"x-vendor-extension\":{\"weights\":[0.5,1e-7,"
                                      "12345678901234567890]"));
    ck_assert_ptr_nonnull(strstr(out, "\"container_config\":{\"Hostname\":\"2c8e7e0a0f0b\""));
    ck_assert_ptr_nonnull(strstr(out, "\"docker_version\":\"20.10.24\""));
    ck_assert_ptr_nonnull(strstr(out, "\"variant\":\"v2\""));
    ck_assert_ptr_nonnull(strstr(out, "\"Volumes\":null"));
    ck_assert_ptr_nonnull(strstr(out, "\"StopSignal\":\"SIGTERM\""));
    free(out);
    free(doc);
    image_config_free(c);
}
END_TEST

START_TEST(test_config_helpers)
{
    size_t len;
    char *doc = read_testdata("config-docker.json", &len);
    image_config_t *c = NULL;
    ck_assert_int_eq(image_config_parse(doc, len, &c, NULL), IMAGE_OK);
    free(doc);
    ck_assert_str_eq(image_config_os(c), "linux");
    ck_assert_str_eq(image_config_architecture(c), "amd64");
    ck_assert_str_eq(image_config_user(c), "1001");
    ck_assert_str_eq(image_config_workdir(c), "/opt/app-root/src");
    ck_assert_str_eq(image_config_env(c, "HOME"), "/opt/app-root/src");
    ck_assert_ptr_null(image_config_env(c, "HOM"));
    ck_assert_str_eq(image_config_label(c, "io.openshift.s2i.scripts-url"),
                     "image:///usr/libexec/s2i");
    const char *argv[8];
    ck_assert_uint_eq(image_config_cmd(c, argv, 8), 3);
    ck_assert_str_eq(argv[2], "$STI_SCRIPTS_PATH/usage");
    ck_assert_uint_eq(image_config_entrypoint(c, argv, 8), 0); /* null */
    /* what a build commits */
    const char *run[] = {"/usr/libexec/s2i/run"};
    ck_assert_int_eq(image_config_set_cmd(c, run, 1), 0);
    ck_assert_int_eq(image_config_set_entrypoint(c, NULL, 0), 0);
    ck_assert_int_eq(image_config_set_env(c, "HOME", "/home/app"), 0);    /* replaced */
    ck_assert_int_eq(image_config_set_env(c, "NEW_VAR", "a=b c"), 0);     /* appended */
    ck_assert_int_eq(image_config_set_env(c, "NODEJS_VERSION", NULL), 0); /* removed */
    ck_assert_int_eq(image_config_set_env(c, "BAD=NAME", "x"), -1);
    ck_assert_int_eq(image_config_set_label(c, "io.openshift.s2i.build.commit.id", "abc123"), 0);
    ck_assert_int_eq(image_config_set_label(c, "summary", NULL), 0);
    ck_assert_int_eq(image_config_set_user(c, "1002"), 0);
    ck_assert_int_eq(image_config_set_workdir(c, "/app"), 0);
    ck_assert_int_eq(image_config_set_created(c, 1700000000), 0);
    const char *diff_id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ck_assert_int_eq(image_config_add_layer(c, diff_id, 1700000000, "s2i assemble", "s2i"), 0);
    ck_assert_int_eq(image_config_add_layer(c, "sha256:short", 0, NULL, NULL), -1);
    ck_assert_int_eq(image_config_add_empty_history(c, 1700000000, "CMD run"), 0);
    ck_assert_uint_eq(image_config_cmd(c, argv, 8), 1);
    ck_assert_str_eq(argv[0], "/usr/libexec/s2i/run");
    ck_assert_str_eq(image_config_env(c, "HOME"), "/home/app");
    ck_assert_str_eq(image_config_env(c, "NEW_VAR"), "a=b c");
    ck_assert_ptr_null(image_config_env(c, "NODEJS_VERSION"));
    ck_assert_ptr_null(image_config_label(c, "summary"));
    ck_assert_str_eq(image_config_label(c, "io.openshift.s2i.build.commit.id"), "abc123");
    ck_assert_uint_eq(image_config_diff_ids_len(c), 3);
    ck_assert_str_eq(image_config_diff_id(c, 2), diff_id);
    ck_assert_ptr_null(image_config_diff_id(c, 3));
    ck_assert_uint_eq(image_config_history_len(c), 5);
    char *out = NULL;
    size_t out_len;
    ck_assert_int_eq(image_config_encode(c, &out, &out_len, NULL), IMAGE_OK);
    /* Env keeps its order with HOME replaced in place */
    ck_assert_ptr_nonnull(strstr(out, "\"STI_SCRIPTS_URL=image:///usr/libexec/s2i\","
                                      "\"HOME=/home/app\",\"NEW_VAR=a=b c\"]"));
    ck_assert_ptr_nonnull(strstr(out, "\"created\":\"2023-11-14T22:13:20Z\""));
    ck_assert_ptr_nonnull(strstr(out, "{\"created\":\"2023-11-14T22:13:20Z\",\"created_by\":\"s2i "
                                      "assemble\",\"comment\":\"s2i\"}"));
    ck_assert_ptr_nonnull(strstr(out, "\"empty_layer\":true}]"));
    ck_assert_ptr_null(strstr(out, "\"Entrypoint\""));
    free(out);
    image_config_free(c);
    /* a fresh config */
    c = image_config_new("linux", "arm64");
    ck_assert_int_eq(image_config_set_label(c, "a", "b"), 0);
    ck_assert_int_eq(image_config_set_env(c, "X", "1"), 0);
    ck_assert_int_eq(image_config_encode(c, &out, &out_len, NULL), IMAGE_OK);
    ck_assert_str_eq(out, "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Labels\":{"
                          "\"a\":\"b\"},\"Env\":[\"X=1\"]},\"rootfs\":{\"type\":\"layers\","
                          "\"diff_ids\":[]},\"history\":[]}");
    image_config_t *back = NULL;
    ck_assert_int_eq(image_config_parse(out, out_len, &back, NULL), IMAGE_OK);
    image_config_free(back);
    free(out);
    image_config_free(c);
}
END_TEST

START_TEST(test_config_rejects_what_runtimes_cannot_use)
{
    static const struct {
        const char *doc;
        const char *why;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "architecture"},
        {"{\"architecture\":\"amd64\",\"os\":\"linux\"}", "rootfs"},
        {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"x\","
         "\"diff_ids\":[]}}",
         "rootfs.type"},
        {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
         "\"diff_ids\":[\"sha256:abc\"]}}",
         "diff_ids"},
        {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
         "\"diff_ids\":[]},\"config\":[]}",
         "\"config\""},
        {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
         "\"diff_ids\":[]},\"history\":{}}",
         "\"history\""},
        {"{\"architecture\":\"amd64\"} trailing", "unexpected data"},
        {"{\"architecture\":", "truncated"},
        {"", "truncated"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        image_config_t *c = NULL;
        char *err = NULL;
        ck_assert_msg(image_config_parse(bad[i].doc, strlen(bad[i].doc), &c, &err) ==
                          IMAGE_ERR_INVALID,
                      "%s accepted", bad[i].doc);
        ck_assert_msg(err && strstr(err, bad[i].why), "%s: \"%s\" lacks \"%s\"", bad[i].doc,
                      err ? err : "(null)", bad[i].why);
        ck_assert_ptr_null(c);
        free(err);
    }
    /* nesting beyond the limit */
    buf_t deep = BUF_INIT;
    buf_puts(&deep, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                    "\"diff_ids\":[]},\"x\":");
    for (int i = 0; i < 200; i++)
        buf_putc(&deep, '[');
    for (int i = 0; i < 200; i++)
        buf_putc(&deep, ']');
    buf_putc(&deep, '}');
    image_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(image_config_parse(deep.data, deep.len, &c, &err), IMAGE_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "nesting"));
    free(err);
    buf_free(&deep);
}
END_TEST

/* ---- manifest -------------------------------------------------------------------------- */

START_TEST(test_manifest_round_trip_and_conversion)
{
    size_t len;
    char *doc = read_testdata("manifest-oci-annotations.json", &len);
    image_manifest_t *m = NULL;
    char *err = NULL;
    ck_assert_msg(image_manifest_parse(doc, len, NULL, &m, &err) == IMAGE_OK, "%s", err);
    ck_assert_str_eq(image_manifest_media_type(m), REGISTRY_MEDIA_OCI_MANIFEST);
    image_descriptor_t d;
    ck_assert_int_eq(image_manifest_config(m, &d), 0);
    ck_assert_str_eq(d.media_type, IMAGE_MEDIA_OCI_CONFIG);
    ck_assert_int_eq(d.size, 7023);
    ck_assert_uint_eq(image_manifest_layers_len(m), 3);
    ck_assert_int_eq(image_manifest_layer(m, 1, &d), 0);
    ck_assert_str_eq(d.digest,
                     "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b");
    ck_assert_int_eq(image_manifest_layer(m, 3, &d), -1);
    char *out = NULL;
    size_t out_len;
    ck_assert_int_eq(image_manifest_encode(m, &out, &out_len, NULL), IMAGE_OK);
    json_object *a = json_tokener_parse(doc), *b = json_tokener_parse(out);
    ck_assert(json_object_equal(a, b)); /* subject, annotations kept */
    json_object_put(a);
    json_object_put(b);
    free(out);
    /* OCI -> Docker -> OCI renames types, keeps the rest */
    ck_assert_int_eq(image_manifest_convert(m, REGISTRY_MEDIA_DOCKER_MANIFEST, &err), IMAGE_OK);
    ck_assert_str_eq(image_manifest_media_type(m), REGISTRY_MEDIA_DOCKER_MANIFEST);
    ck_assert_int_eq(image_manifest_config(m, &d), 0);
    ck_assert_str_eq(d.media_type, IMAGE_MEDIA_DOCKER_CONFIG);
    ck_assert_int_eq(image_manifest_layer(m, 0, &d), 0);
    ck_assert_str_eq(d.media_type, IMAGE_MEDIA_DOCKER_LAYER_GZIP);
    ck_assert_int_eq(image_manifest_convert(m, REGISTRY_MEDIA_OCI_MANIFEST, &err), IMAGE_OK);
    ck_assert_int_eq(image_manifest_encode(m, &out, &out_len, NULL), IMAGE_OK);
    a = json_tokener_parse(doc);
    b = json_tokener_parse(out);
    ck_assert(json_object_equal(a, b));
    json_object_put(a);
    json_object_put(b);
    free(out);
    /* a zstd layer has no Docker name: refused, nothing changed */
    ck_assert_int_eq(image_manifest_add_layer(m, IMAGE_MEDIA_OCI_LAYER_ZSTD,
                                              "sha256:0123456789abcdef0123456789abcdef0123456789a"
                                              "bcdef0123456789abcdef",
                                              10),
                     0);
    ck_assert_int_eq(image_manifest_convert(m, REGISTRY_MEDIA_DOCKER_MANIFEST, &err),
                     IMAGE_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "zstd"));
    free(err);
    err = NULL;
    ck_assert_str_eq(image_manifest_media_type(m), REGISTRY_MEDIA_OCI_MANIFEST);
    ck_assert_int_eq(image_manifest_layer(m, 0, &d), 0);
    ck_assert_str_eq(d.media_type, IMAGE_MEDIA_OCI_LAYER_GZIP);
    image_manifest_free(m);
    free(doc);
    /* Docker with a foreign layer */
    doc = read_testdata("manifest-docker.json", &len);
    ck_assert_int_eq(image_manifest_parse(doc, len, "application/json", &m, NULL), IMAGE_OK);
    ck_assert_str_eq(image_manifest_media_type(m), REGISTRY_MEDIA_DOCKER_MANIFEST);
    ck_assert_int_eq(image_manifest_convert(m, REGISTRY_MEDIA_OCI_MANIFEST, NULL), IMAGE_OK);
    ck_assert_int_eq(image_manifest_layer(m, 1, &d), 0);
    ck_assert_str_eq(d.media_type, IMAGE_MEDIA_OCI_LAYER_NONDIST);
    image_manifest_free(m);
    free(doc);
}
END_TEST

START_TEST(test_manifest_build_and_errors)
{
    image_manifest_t *m = image_manifest_new(REGISTRY_MEDIA_DOCKER_MANIFEST);
    const char *dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ck_assert_int_eq(image_manifest_set_config(m, NULL, dg, 100), 0);
    ck_assert_int_eq(image_manifest_add_layer(m, NULL, dg, 5), 0);
    ck_assert_int_eq(image_manifest_add_layer(m, NULL, "sha256:nope", 5), -1);
    ck_assert_int_eq(image_manifest_add_layer(m, NULL, dg, -1), -1);
    char *out = NULL;
    size_t len;
    char digest[REGISTRY_DIGEST_LEN];
    ck_assert_int_eq(image_manifest_encode(m, &out, &len, digest), IMAGE_OK);
    char *want = util_asprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"layers\":[{\"mediaType\":\"%s\",\"digest\":"
        "\"%s\",\"size\":5}],\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":100}}",
        REGISTRY_MEDIA_DOCKER_MANIFEST, IMAGE_MEDIA_DOCKER_LAYER_GZIP, dg,
        IMAGE_MEDIA_DOCKER_CONFIG, dg);
    ck_assert_str_eq(out, want);
    free(want);
    image_manifest_t *back = NULL;
    ck_assert_int_eq(image_manifest_parse(out, len, NULL, &back, NULL), IMAGE_OK);
    image_manifest_free(back);
    free(out);
    image_manifest_free(m);
    ck_assert_ptr_null(image_manifest_new(REGISTRY_MEDIA_OCI_INDEX));
    static const struct {
        const char *doc;
        const char *why;
    } bad[] = {
        {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
         "\"manifests\":[]}",
         "image index"},
        {"{\"schemaVersion\":1,\"config\":{},\"layers\":[]}", "schemaVersion"},
        {"{\"schemaVersion\":2,\"layers\":[]}", "no config"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:1\","
         "\"size\":1},\"layers\":[]}",
         "config has no valid sha256"},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"size\":1},"
         "\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}]}",
         "layer 0 has no valid size"},
        {"{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":{},\"layers\":[]}",
         "unsupported media type"},
        {"null", "not a JSON object"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        char *err = NULL;
        ck_assert_msg(image_manifest_parse(bad[i].doc, strlen(bad[i].doc), NULL, &m, &err) ==
                          IMAGE_ERR_INVALID,
                      "%s accepted", bad[i].doc);
        ck_assert_msg(err && strstr(err, bad[i].why), "%s: \"%s\" lacks \"%s\"", bad[i].doc,
                      err ? err : "(null)", bad[i].why);
        free(err);
    }
}
END_TEST

/* ---- layers ---------------------------------------------------------------------------- */

/* A tree with every kind of entry a layer carries. */
static void populate(const char *root)
{
    make_dir(root, "bin");
    make_dir(root, "etc");
    make_dir(root, "usr");
    make_dir(root, "usr/share");
    write_file(root, "bin/tool", "#!/bin/sh\necho hi\n");
    char p[4096], q[4096];
    at(root, "bin/tool", p, sizeof(p));
    chmod(p, 04755);
    write_file(root, "etc/config", "key=value\n");
    write_file(root, "etc/empty", "");
    at(root, "etc/config", p, sizeof(p));
    at(root, "etc/config.link", q, sizeof(q));
    ck_assert_int_eq(link(p, q), 0);
    at(root, "usr/share/abs-link", p, sizeof(p));
    ck_assert_int_eq(symlink("/etc/config", p), 0);
    at(root, "rel-link", p, sizeof(p));
    ck_assert_int_eq(symlink("usr/share", p), 0);
    /* a name that needs a PAX header (longer than ustar's 100 + 155 split) */
    char longname[300] = "usr/share/";
    for (int i = 0; i < 120; i++)
        strcat(longname, "n");
    write_file(root, longname, "long\n");
    write_file(root, "usr/share/caf\xc3\xa9.txt", "utf-8 name\n");
    write_file(root, "owned", "by someone\n");
    at(root, "owned", p, sizeof(p));
    if (geteuid() == 0)
        ck_assert_int_eq(lchown(p, 1234, 5678), 0);
}

START_TEST(test_layer_digest_is_deterministic_with_source_date_epoch)
{
    char *a = make_tmpdir(), *b = make_tmpdir(), *work = make_tmpdir();
    populate(a);
    populate(b);
    /* the second tree is touched at other times */
    set_mtime(b, "etc/config", 1000000000);
    set_mtime(b, "bin", 1200000000);
    set_mtime(b, "usr/share/abs-link", 1300000000);
    char la[4096], lb[4096];
    at(work, "a.tar.gz", la, sizeof(la));
    at(work, "b.tar.gz", lb, sizeof(lb));
    setenv("SOURCE_DATE_EPOCH", "946684800", 1); /* 2000-01-01 */
    image_layer_options_t o;
    ck_assert_int_eq(image_layer_options_default(&o, NULL), 0);
    image_layer_info_t ia = layer_of_dir(a, la, &o);
    image_layer_info_t ib = layer_of_dir(b, lb, &o);
    ck_assert_str_eq(ia.digest, ib.digest);
    ck_assert_str_eq(ia.diff_id, ib.diff_id);
    ck_assert_int_eq(ia.size, ib.size);
    ck_assert_uint_eq(ia.entries, 13);
    /* the digest is of the bytes written, the diff_id of the tar inside */
    size_t len = 0;
    char *gz = util_read_file(la, &len);
    ck_assert_int_eq((int64_t)len, ia.size);
    char d[REGISTRY_DIGEST_LEN];
    registry_digest_of(gz, len, d);
    ck_assert_str_eq(d, ia.digest);
    /* gzip header: no name, no mtime */
    ck_assert_int_eq((unsigned char)gz[0], 0x1f);
    ck_assert_int_eq((unsigned char)gz[1], 0x8b);
    ck_assert_int_eq(gz[3] & 0x08, 0); /* FNAME */
    ck_assert_int_eq(gz[4] | gz[5] | gz[6] | gz[7], 0);
    z_stream z = {0};
    ck_assert_int_eq(inflateInit2(&z, 16 + 15), Z_OK);
    buf_t tar = BUF_INIT;
    char chunk[65536];
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)len;
    int zrc;
    do {
        z.next_out = (Bytef *)chunk;
        z.avail_out = sizeof(chunk);
        zrc = inflate(&z, Z_NO_FLUSH);
        buf_append(&tar, chunk, sizeof(chunk) - z.avail_out);
    } while (zrc == Z_OK);
    ck_assert_int_eq(zrc, Z_STREAM_END);
    inflateEnd(&z);
    registry_digest_of(tar.data, tar.len, d);
    ck_assert_str_eq(d, ia.diff_id);
    ck_assert_int_eq((int64_t)tar.len, ia.tar_size);
    buf_free(&tar);
    free(gz);
    /* what is in it: sorted, directories with '/', mtimes clamped, no user names */
    char *listing = list_layer(la);
    char *want = util_asprintf("bin/|d|755|0:0||0||946684800\n"
                               "bin/tool|f|4755|0:0||18||946684800\n"
                               "etc/|d|755|0:0||0||946684800\n"
                               "etc/config|f|644|0:0||10||946684800\n"
                               "etc/config.link|h|644|0:0||0|etc/config|946684800\n"
                               "etc/empty|f|644|0:0||0||946684800\n"
                               "owned|f|644|%s||11||946684800\n"
                               "rel-link|l|777|0:0||0|usr/share|946684800\n"
                               "usr/|d|755|0:0||0||946684800\n"
                               "usr/share/|d|755|0:0||0||946684800\n"
                               "usr/share/abs-link|l|777|0:0||0|/etc/config|946684800\n"
                               "usr/share/caf\xc3\xa9.txt|f|644|0:0||11||946684800\n",
                               geteuid() == 0 ? "1234:5678" : "0:0");
    ck_assert_msg(util_has_prefix(listing, want), "%s", listing);
    ck_assert_ptr_nonnull(strstr(listing, "nnnnnnnnnn|f|644|0:0||5||946684800\n"));
    free(want);
    free(listing);
    /* without SOURCE_DATE_EPOCH the different mtimes show */
    unsetenv("SOURCE_DATE_EPOCH");
    ck_assert_int_eq(image_layer_options_default(&o, NULL), 0);
    ia = layer_of_dir(a, la, &o);
    ib = layer_of_dir(b, lb, &o);
    ck_assert_str_ne(ia.digest, ib.digest);
    ck_assert_str_ne(ia.diff_id, ib.diff_id);
    /* but the same tree twice is still the same layer */
    image_layer_info_t ia2 = layer_of_dir(a, lb, &o);
    ck_assert_str_eq(ia.digest, ia2.digest);
    /* overrides: owner and names */
    o.uid = 0;
    o.gid = 0;
    o.uname = "root";
    o.gname = "root";
    o.gzip = false;
    ia = layer_of_dir(a, la, &o);
    ck_assert_str_eq(ia.digest, ia.diff_id);
    listing = list_layer(la);
    ck_assert_ptr_nonnull(strstr(listing, "owned|f|644|0:0|root|11|"));
    free(listing);
    rm_tree(a);
    rm_tree(b);
    rm_tree(work);
    free(a);
    free(b);
    free(work);
}
END_TEST

static int failing_sink(void *data, const void *buf, size_t len)
{
    (void)buf;
    size_t *budget = data;
    if (len > *budget)
        return -1;
    *budget -= len;
    return 0;
}

START_TEST(test_layer_writer_entries_and_errors)
{
    file_sink_t s = {.to_mem = true};
    image_layer_writer_t *w = NULL;
    image_layer_options_t o;
    ck_assert_int_eq(image_layer_options_default(&o, NULL), 0);
    o.mtime_clamp = 0;
    ck_assert_int_eq(image_layer_writer_new(&o, sink_write, &s, &w, NULL), IMAGE_OK);
    char *err = NULL;
    ck_assert_int_eq(image_layer_add_dir(w, "app", 0755, &err), IMAGE_OK);
    ck_assert_int_eq(image_layer_add_data(w, "app/hello", 0644, "hello\n", 6, &err), IMAGE_OK);
    ck_assert_int_eq(image_layer_add_whiteout(w, "app/old", &err), IMAGE_OK);
    ck_assert_int_eq(image_layer_add_whiteout(w, "top", &err), IMAGE_OK);
    ck_assert_int_eq(image_layer_add_opaque(w, "app", &err), IMAGE_OK);
    static const char *bad_paths[] = {"", "/abs", "a/../b", "a//b", "trailing/", "./x", ".."};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad_paths); i++) {
        ck_assert_int_eq(image_layer_add_data(w, bad_paths[i], 0644, "", 0, &err),
                         IMAGE_ERR_INVALID);
        ck_assert_ptr_nonnull(strstr(err, "not a relative path"));
    }
    ck_assert_int_eq(image_layer_add_path(w, "/nonexistent/file", "x", &err), IMAGE_ERR_IO);
    ck_assert_int_eq(image_layer_add_path(w, "/dev/null", "null", &err), IMAGE_ERR_UNSUPPORTED);
    image_layer_info_t info;
    ck_assert_int_eq(image_layer_writer_finish(w, &info, &err), IMAGE_OK);
    ck_assert_uint_eq(info.entries, 5);
    ck_assert_int_eq(image_layer_writer_finish(w, &info, &err), IMAGE_ERR_INVALID);
    ck_assert_int_eq(image_layer_add_dir(w, "late", 0755, &err), IMAGE_ERR_INVALID);
    image_layer_writer_free(w);
    char *dir = make_tmpdir();
    char path[4096];
    at(dir, "l.tar.gz", path, sizeof(path));
    FILE *f = fopen(path, "w");
    fwrite(s.mem.data, 1, s.mem.len, f);
    fclose(f);
    char *listing = list_layer(path);
    ck_assert_str_eq(listing, "app/|d|755|0:0||0||0\n"
                              "app/hello|f|644|0:0||6||0\n"
                              "app/.wh.old|f|644|0:0||0||0\n"
                              ".wh.top|f|644|0:0||0||0\n"
                              "app/.wh..wh..opq|f|644|0:0||0||0\n");
    free(listing);
    /* a sink that gives up */
    size_t budget = 100;
    ck_assert_int_eq(image_layer_writer_new(&o, failing_sink, &budget, &w, NULL), IMAGE_OK);
    buf_t big = BUF_INIT;
    for (int i = 0; i < 200000; i++)
        buf_putc(&big, (char)(i * 7919 % 251));
    image_err_t rc = image_layer_add_data(w, "big", 0644, big.data, big.len, &err);
    if (rc == IMAGE_OK)
        rc = image_layer_writer_finish(w, &info, &err);
    ck_assert_int_eq(rc, IMAGE_ERR_SINK);
    image_layer_writer_free(w);
    buf_free(&big);
    free(err);
    buf_free(&s.mem);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- snapshot, diff, layer, extraction ------------------------------------------------- */

static void build_base(const char *root)
{
    make_dir(root, "app");
    make_dir(root, "app/lib");
    write_file(root, "app/lib/a.js", "a");
    write_file(root, "app/lib/b.js", "b");
    write_file(root, "app/main.js", "main v1");
    write_file(root, "app/same-size", "AAAA");
    write_file(root, "app/chmod-me", "x");
    make_dir(root, "cache");
    make_dir(root, "cache/deep");
    write_file(root, "cache/deep/x", "x");
    write_file(root, "cache/y", "y");
    write_file(root, "to-dir", "was a file");
    make_dir(root, "to-file");
    write_file(root, "to-file/inner", "inner");
    make_dir(root, "recreated");
    write_file(root, "recreated/old", "old");
    write_file(root, "recreated/kept-name", "old content");
    write_file(root, "deleted", "bye");
    char p[4096];
    at(root, "link", p, sizeof(p));
    ck_assert_int_eq(symlink("app/main.js", p), 0);
    make_dir(root, "proc");
    write_file(root, "proc/status", "excluded");
    make_dir(root, "var");
    make_dir(root, "var/run");
    make_dir(root, "var/run/secrets");
    write_file(root, "var/run/secrets/token", "t1");
    /* everything older than the racy window */
    const char *all[] = {"app",
                         "app/lib",
                         "app/lib/a.js",
                         "app/lib/b.js",
                         "app/main.js",
                         "app/same-size",
                         "app/chmod-me",
                         "cache",
                         "cache/deep",
                         "cache/deep/x",
                         "cache/y",
                         "to-dir",
                         "to-file",
                         "to-file/inner",
                         "recreated",
                         "recreated/old",
                         "recreated/kept-name",
                         "deleted",
                         "link",
                         "."};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        set_mtime(root, all[i], 1600000000);
}

static void change_tree(const char *root)
{
    char p[4096], q[4096];
    write_file(root, "app/new.js", "new");
    write_file(root, "app/main.js", "main v2 longer");
    /* same size, mtime put back: only ctime tells */
    write_file(root, "app/same-size", "BBBB");
    set_mtime(root, "app/same-size", 1600000000);
    at(root, "app/chmod-me", p, sizeof(p));
    chmod(p, 0600);
    at(root, "deleted", p, sizeof(p));
    unlink(p);
    rm_sub(root, "cache");
    at(root, "to-dir", p, sizeof(p));
    unlink(p);
    make_dir(root, "to-dir");
    write_file(root, "to-dir/child", "c");
    rm_sub(root, "to-file");
    write_file(root, "to-file", "now a file");
    rm_sub(root, "recreated");
    make_dir(root, "recreated");
    write_file(root, "recreated/kept-name", "new content");
    at(root, "link", p, sizeof(p));
    unlink(p);
    ck_assert_int_eq(symlink("app/new.js", p), 0);
    at(root, "app/new.js", p, sizeof(p));
    at(root, "app/new-hardlink", q, sizeof(q));
    ck_assert_int_eq(link(p, q), 0);
    write_file(root, "proc/status", "changed but excluded");
    write_file(root, "var/run/secrets/token", "t2");
    at(root, "fifo", p, sizeof(p));
    ck_assert_int_eq(mkfifo(p, 0644), 0);
}

static char *changes_text(const image_changes_t *c)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    for (size_t i = 0; i < c->len; i++)
        buf_printf(&b, "%c %s%s\n", "AMD"[c->items[i].kind], c -> items[i].path,
                   c->items[i].opaque ? " (opaque)" : "");
    return buf_steal(&b);
}

START_TEST(test_snapshot_diff_layer_and_extract_round_trip)
{
    setenv("SOURCE_DATE_EPOCH", "1600000000", 1);
    char *tree = make_tmpdir(), *dest = make_tmpdir(), *work = make_tmpdir();
    build_base(tree);
    const char *exclude[] = {"/proc", "var/run/secrets/"};
    image_snapshot_options_t so = {.exclude = exclude, .exclude_len = 2};
    image_snapshot_t *before = NULL, *after = NULL;
    char *err = NULL;
    ck_assert_int_eq(image_snapshot_take(tree, &so, &before, &err), IMAGE_OK);
    /* the base image: a layer of the tree as it is, extracted into dest */
    char base_layer[4096], change_layer[4096];
    at(work, "base.tar.gz", base_layer, sizeof(base_layer));
    at(work, "change.tar.gz", change_layer, sizeof(change_layer));
    layer_of_dir(tree, base_layer, NULL);
    ck_assert_int_eq(image_layer_extract_file(base_layer, dest, NULL, &err), IMAGE_OK);
    change_tree(tree);
    ck_assert_int_eq(image_snapshot_take(tree, &so, &after, &err), IMAGE_OK);
    ck_assert(image_snapshot_notes_len(after) >= 1);
    bool fifo_noted = false;
    for (size_t i = 0; i < image_snapshot_notes_len(after); i++)
        fifo_noted |= strstr(image_snapshot_note(after, i), "fifo: fifo skipped") != NULL;
    ck_assert(fifo_noted);
    image_changes_t ch = IMAGE_CHANGES_INIT;
    ck_assert_int_eq(image_snapshot_diff(before, after, &ch, &err), IMAGE_OK);
    char *text = changes_text(&ch);
    ck_assert_str_eq(text, "M app\n"
                           "M app/chmod-me\n"
                           "M app/main.js\n"
                           "A app/new-hardlink\n"
                           "A app/new.js\n"
                           "M app/same-size\n"
                           "D cache\n"
                           "D deleted\n"
                           "M link\n"
                           "M recreated (opaque)\n"
                           "A recreated/kept-name\n"
                           "M to-dir\n"
                           "A to-dir/child\n"
                           "M to-file\n");
    free(text);
    /* the layer of the changes */
    file_sink_t s = {.fd = open(change_layer, O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    image_layer_info_t info;
    ck_assert_msg(image_layer_from_changes(tree, &ch, NULL, sink_write, &s, &info, &err) ==
                      IMAGE_OK,
                  "%s", err);
    close(s.fd);
    char *listing = list_layer(change_layer);
    ck_assert_str_eq(listing, ".wh.cache|f|644|0:0||0||1600000000\n"
                              ".wh.deleted|f|644|0:0||0||1600000000\n"
                              "app/|d|755|0:0||0||1600000000\n"
                              "app/chmod-me|f|600|0:0||1||1600000000\n"
                              "app/main.js|f|644|0:0||14||1600000000\n"
                              "app/new-hardlink|f|644|0:0||3||1600000000\n"
                              "app/new.js|h|644|0:0||0|app/new-hardlink|1600000000\n"
                              "app/same-size|f|644|0:0||4||1600000000\n"
                              "link|l|777|0:0||0|app/new.js|1600000000\n"
                              "recreated/|d|755|0:0||0||1600000000\n"
                              "recreated/.wh..wh..opq|f|644|0:0||0||1600000000\n"
                              "recreated/kept-name|f|644|0:0||11||1600000000\n"
                              "to-dir/|d|755|0:0||0||1600000000\n"
                              "to-dir/child|f|644|0:0||1||1600000000\n"
                              "to-file|f|644|0:0||10||1600000000\n");
    free(listing);
    /* applied on the base, it gives the changed tree (minus what was excluded/skipped) */
    ck_assert_msg(image_layer_extract_file(change_layer, dest, NULL, &err) == IMAGE_OK, "%s", err);
    char p[4096];
    at(tree, "fifo", p, sizeof(p));
    unlink(p);
    /* excluded paths kept their base content in dest; make the trees comparable */
    write_file(tree, "proc/status", "excluded");
    write_file(tree, "var/run/secrets/token", "t1");
    char *want = describe_tree(tree), *got = describe_tree(dest);
    ck_assert_str_eq(got, want);
    free(want);
    free(got);
    image_changes_clear(&ch);
    image_snapshot_free(before);
    image_snapshot_free(after);
    rm_tree(tree);
    rm_tree(dest);
    rm_tree(work);
    free(tree);
    free(dest);
    free(work);
    unsetenv("SOURCE_DATE_EPOCH");
}
END_TEST

START_TEST(test_unchanged_tree_has_no_changes_and_specials_are_skipped)
{
    char *tree = make_tmpdir();
    build_base(tree);
    char p[4096];
    at(tree, "fifo", p, sizeof(p));
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    at(tree, "sock", p, sizeof(p));
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    SNPRINTF(addr.sun_path, sizeof(addr.sun_path), "%s", p);
    ck_assert_int_eq(bind(sfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    image_snapshot_t *a = NULL, *b = NULL;
    ck_assert_int_eq(image_snapshot_take(tree, NULL, &a, NULL), IMAGE_OK);
    ck_assert_int_eq(image_snapshot_take(tree, NULL, &b, NULL), IMAGE_OK);
    ck_assert_uint_eq(image_snapshot_len(a), 25);
    ck_assert_uint_eq(image_snapshot_notes_len(a), 2);
    ck_assert_ptr_nonnull(strstr(image_snapshot_note(a, 0), "fifo skipped"));
    ck_assert_ptr_nonnull(strstr(image_snapshot_note(a, 1), "socket skipped"));
    image_changes_t ch = IMAGE_CHANGES_INIT;
    ck_assert_int_eq(image_snapshot_diff(a, b, &ch, NULL), IMAGE_OK);
    ck_assert_uint_eq(ch.len, 0);
    image_changes_clear(&ch);
    /* a freshly written file is hashed, so a rewrite is seen even by content */
    write_file(tree, "fresh", "0123");
    image_snapshot_free(a);
    image_snapshot_free(b);
    ck_assert_int_eq(image_snapshot_take(tree, NULL, &a, NULL), IMAGE_OK);
    ck_assert_int_eq(image_snapshot_take(tree, NULL, &b, NULL), IMAGE_OK);
    ck_assert_int_eq(image_snapshot_diff(a, b, &ch, NULL), IMAGE_OK);
    ck_assert_uint_eq(ch.len, 0);
    image_changes_clear(&ch);
    close(sfd);
    image_snapshot_free(a);
    image_snapshot_free(b);
    rm_tree(tree);
    free(tree);
}
END_TEST

START_TEST(test_one_file_system_leaves_mounts_out)
{
    char *tree = make_tmpdir();
    make_dir(tree, "mnt");
    write_file(tree, "kept", "k");
    char p[4096];
    at(tree, "mnt", p, sizeof(p));
    if (mount("none", p, "tmpfs", 0, "size=1m") < 0) {
        /* not privileged here: the rest of the suite covers the walk */
        fprintf(stderr, "test_one_file_system_leaves_mounts_out: skipped (mount: %s)\n",
                strerror(errno));
        rm_tree(tree);
        free(tree);
        return;
    }
    write_file(tree, "mnt/on-tmpfs", "t");
    image_snapshot_options_t so = {.one_file_system = true};
    image_snapshot_t *a = NULL, *b = NULL;
    ck_assert_int_eq(image_snapshot_take(tree, &so, &a, NULL), IMAGE_OK);
    ck_assert_uint_eq(image_snapshot_len(a), 1);
    ck_assert_str_eq(image_snapshot_note(a, 0), "mnt: on another file system (a mount): not "
                                                "recorded");
    write_file(tree, "mnt/also", "a");
    ck_assert_int_eq(image_snapshot_take(tree, &so, &b, NULL), IMAGE_OK);
    image_changes_t ch = IMAGE_CHANGES_INIT;
    ck_assert_int_eq(image_snapshot_diff(a, b, &ch, NULL), IMAGE_OK);
    ck_assert_uint_eq(ch.len, 0);
    image_changes_clear(&ch);
    image_snapshot_free(a);
    image_snapshot_free(b);
    umount2(p, MNT_DETACH);
    rm_tree(tree);
    free(tree);
}
END_TEST

/* Runs the snapshot/diff of a tree with an unreadable directory as an unprivileged user
 * (root reads everything), printing the result to fd. */
static void unprivileged_diff(const char *tree, int fd)
{
    if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
        _exit(2);
    image_snapshot_t *a = NULL, *b = NULL;
    if (image_snapshot_take(tree, NULL, &a, NULL) != IMAGE_OK)
        _exit(3);
    /* the owner (root, outside) changes things while we are not looking */
    if (write(fd, "R", 1) != 1)
        _exit(4);
    char c;
    if (read(STDIN_FILENO, &c, 1) != 1)
        _exit(5);
    if (image_snapshot_take(tree, NULL, &b, NULL) != IMAGE_OK)
        _exit(6);
    image_changes_t ch = IMAGE_CHANGES_INIT;
    if (image_snapshot_diff(a, b, &ch, NULL) != IMAGE_OK)
        _exit(7);
    buf_t out = BUF_INIT;
    for (size_t i = 0; i < image_snapshot_notes_len(a); i++)
        buf_printf(&out, "note %s\n", image_snapshot_note(a, i));
    char *text = changes_text(&ch);
    buf_puts(&out, text);
    for (size_t i = 0; i < ch.notes_len; i++)
        buf_printf(&out, "diff %s\n", ch.notes[i]);
    int rc = write(fd, out.data, out.len) == (ssize_t)out.len ? 0 : 8;
    free(text);
    buf_free(&out);
    image_changes_clear(&ch);
    image_snapshot_free(a);
    image_snapshot_free(b);
    _exit(rc);
}

START_TEST(test_permission_denied_directory_is_reported_not_fatal)
{
    /* on the stack: the forked child must not inherit heap it would leak */
    char tree[] = "/tmp/test_image_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tree));
    chmod(tree, 0755);
    make_dir(tree, "open");
    make_dir(tree, "secret");
    write_file(tree, "secret/inside", "s");
    char p[4096];
    at(tree, "secret", p, sizeof(p));
    chmod(p, 0700);
    if (geteuid() != 0)
        chmod(p, 0);
    int to_child[2], from_child[2];
    ck_assert_int_eq(pipe(to_child), 0);
    ck_assert_int_eq(pipe(from_child), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        dup2(to_child[0], STDIN_FILENO);
        unprivileged_diff(tree, from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);
    /* wait for the first snapshot, then change inside and outside the unreadable dir */
    char buf[4096];
    ck_assert_int_eq(read(from_child[0], buf, 1), 1);
    ck_assert_int_eq(buf[0], 'R');
    write_file(tree, "secret/added", "hidden");
    write_file(tree, "open/added", "visible");
    ck_assert_int_eq(write(to_child[1], "x", 1), 1);
    buf_t out = BUF_INIT;
    ssize_t n;
    while ((n = read(from_child[0], buf, sizeof(buf))) > 0)
        buf_append(&out, buf, (size_t)n);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    ck_assert_msg(strstr(buf_str(&out), "note secret: Permission denied: content not recorded"),
                  "%s", buf_str(&out));
    ck_assert_msg(strstr(buf_str(&out), "A open/added\n"), "%s", buf_str(&out));
    ck_assert_msg(!strstr(buf_str(&out), "secret/added"), "%s", buf_str(&out));
    ck_assert_msg(strstr(buf_str(&out), "diff secret: could not be read completely"), "%s",
                  buf_str(&out));
    buf_free(&out);
    close(to_child[1]);
    close(from_child[0]);
    rm_tree(tree);
}
END_TEST

/* ---- extraction ------------------------------------------------------------------------ */

typedef struct raw_entry {
    const char *name;
    char type; /* f d l h */
    const char *data_or_target;
} raw_entry_t;

/* A tar.gz written with libarchive directly, so names our writer refuses can be made. */
static void raw_layer(const char *path, const raw_entry_t *entries, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_copy_pathname(e, entries[i].name);
        archive_entry_set_mtime(e, 1500000000, 0);
        switch (entries[i].type) {
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
            break;
        case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_copy_symlink(e, entries[i].data_or_target);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_copy_hardlink(e, entries[i].data_or_target);
            break;
        default:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, (la_int64_t)strlen(entries[i].data_or_target));
        }
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        if (entries[i].type == 'f')
            archive_write_data(a, entries[i].data_or_target, strlen(entries[i].data_or_target));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static bool exists(const char *dir, const char *rel)
{
    char p[4096];
    at(dir, rel, p, sizeof(p));
    struct stat st;
    return lstat(p, &st) == 0;
}

static char *content(const char *dir, const char *rel)
{
    char p[4096];
    at(dir, rel, p, sizeof(p));
    return util_read_file(p, NULL);
}

START_TEST(test_extract_refuses_traversal_and_contains_symlinks)
{
    char *box = make_tmpdir();
    char dest[4096], layer[4096], outside[4096];
    at(box, "dest", dest, sizeof(dest));
    at(box, "layer.tar.gz", layer, sizeof(layer));
    at(box, "outside", outside, sizeof(outside));
    mkdir(dest, 0755);
    mkdir(outside, 0755);
    static const raw_entry_t dotdot[] = {{"ok", 'f', "fine"}, {"a/../../evil", 'f', "x"}};
    raw_layer(layer, dotdot, 2);
    char *err = NULL;
    ck_assert_int_eq(image_layer_extract_file(layer, dest, NULL, &err), IMAGE_ERR_UNSAFE);
    ck_assert_ptr_nonnull(strstr(err, "a/../../evil"));
    ck_assert(!exists(box, "evil"));
    ck_assert(exists(dest, "ok"));
    static const raw_entry_t hardlink[] = {{"passwd", 'h', "../outside/secret"}};
    write_file(outside, "secret", "do not link me");
    raw_layer(layer, hardlink, 1);
    ck_assert_int_eq(image_layer_extract_file(layer, dest, NULL, &err), IMAGE_ERR_UNSAFE);
    ck_assert(!exists(dest, "passwd"));
    /* symlinks are resolved inside dest: nothing reaches box/outside */
    char *rel_escape = util_asprintf("../../../../../../..%s", outside);
    raw_entry_t links[] = {
        {"abs", 'l', outside},      /* absolute, to the real outside dir */
        {"abs/written", 'f', "in"}, /* lands in dest/<outside path>/written */
        {"up", 'l', rel_escape},    /* climbing past the top */
        {"up/also", 'f', "in"},     /* stops at dest */
        {"./././/dot/./x", 'f', "cleaned"},
        {"/absolute-name", 'f', "rooted"},
        {"abs", 'l', "/etc"}, /* replacing the symlink itself is fine */
    };
    raw_layer(layer, links, UTIL_ARRAY_LEN(links));
    ck_assert_msg(image_layer_extract_file(layer, dest, NULL, &err) == IMAGE_OK, "%s", err);
    ck_assert(!exists(outside, "written"));
    ck_assert(!exists(outside, "also"));
    char inside[4096];
    SNPRINTF(inside, sizeof(inside), "%s/written", outside + 1);
    char *got = content(dest, inside);
    ck_assert_str_eq(got, "in");
    free(got);
    SNPRINTF(inside, sizeof(inside), "%s/also", outside + 1);
    got = content(dest, inside);
    ck_assert_str_eq(got, "in");
    free(got);
    got = content(dest, "dot/x");
    ck_assert_str_eq(got, "cleaned");
    free(got);
    got = content(dest, "absolute-name");
    ck_assert_str_eq(got, "rooted");
    free(got);
    char p[4096], target[256];
    at(dest, "abs", p, sizeof(p));
    ssize_t n = readlink(p, target, sizeof(target) - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "/etc");
    /* garbage */
    write_file(box, "garbage.tar.gz", "this is not a tar");
    at(box, "garbage.tar.gz", p, sizeof(p));
    ck_assert_int_eq(image_layer_extract_file(p, dest, NULL, &err), IMAGE_ERR_FORMAT);
    ck_assert_int_eq(image_layer_extract_file("/nonexistent", dest, NULL, &err), IMAGE_ERR_IO);
    free(err);
    free(rel_escape);
    rm_tree(box);
    free(box);
}
END_TEST

START_TEST(test_extract_whiteouts_in_any_order)
{
    char *box = make_tmpdir();
    char dest[4096], layer[4096];
    at(box, "dest", dest, sizeof(dest));
    at(box, "layer.tar.gz", layer, sizeof(layer));
    mkdir(dest, 0755);
    static const raw_entry_t lower[] = {
        {"d1/", 'd', ""},          {"d1/old", 'f', "lower"}, {"d1/sub/", 'd', ""},
        {"d1/sub/deep", 'f', "x"}, {"d2/", 'd', ""},         {"d2/old", 'f', "lower"},
        {"gone", 'f', "x"},        {"gone-dir/", 'd', ""},   {"gone-dir/f", 'f', "x"},
        {"ro/", 'd', ""},          {"ro/f", 'f', "x"},
    };
    raw_layer(layer, lower, UTIL_ARRAY_LEN(lower));
    char *err = NULL;
    ck_assert_int_eq(image_layer_extract_file(layer, dest, NULL, &err), IMAGE_OK);
    char p[4096];
    at(dest, "ro", p, sizeof(p));
    chmod(p, 0555);
    static const raw_entry_t upper[] = {
        /* opaque before the new content */
        {"d1/.wh..wh..opq", 'f', ""},
        {"d1/new", 'f', "upper"},
        {"d1/sub/", 'd', ""},
        /* new content before the opaque marker */
        {"d2/new", 'f', "upper"},
        {"d2/.wh..wh..opq", 'f', ""},
        {".wh.gone", 'f', ""},
        {".wh.gone-dir", 'f', ""},
        {".wh.never-existed", 'f', ""},
        {"missing-parent/.wh.x", 'f', ""},
        {"ro/.wh.f", 'f', ""},
        /* a whiteout of something this layer adds is ignored */
        {"fresh", 'f', "kept"},
        {".wh.fresh", 'f', ""},
        {".wh..wh.plnk", 'f', ""},
    };
    raw_layer(layer, upper, UTIL_ARRAY_LEN(upper));
    ck_assert_msg(image_layer_extract_file(layer, dest, NULL, &err) == IMAGE_OK, "%s", err);
    ck_assert(!exists(dest, "d1/old"));
    ck_assert(!exists(dest, "d1/sub/deep"));
    ck_assert(exists(dest, "d1/sub"));
    ck_assert(exists(dest, "d1/new"));
    ck_assert(!exists(dest, "d2/old"));
    ck_assert(exists(dest, "d2/new"));
    ck_assert(!exists(dest, "gone"));
    ck_assert(!exists(dest, "gone-dir"));
    ck_assert(!exists(dest, "missing-parent"));
    ck_assert(!exists(dest, "ro/f"));
    ck_assert(exists(dest, "fresh"));
    ck_assert(!exists(dest, ".wh.fresh"));
    ck_assert(!exists(dest, ".wh..wh.plnk"));
    free(err);
    rm_tree(box);
    free(box);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image");
    TCase *model = tcase_create("model");
    tcase_add_test(model, test_source_date_epoch_parsing);
    tcase_add_test(model, test_config_round_trip_keeps_unknown_fields);
    tcase_add_test(model, test_config_helpers);
    tcase_add_test(model, test_config_rejects_what_runtimes_cannot_use);
    tcase_add_test(model, test_manifest_round_trip_and_conversion);
    tcase_add_test(model, test_manifest_build_and_errors);
    suite_add_tcase(s, model);
    TCase *fs = tcase_create("fs");
    tcase_set_timeout(fs, 60);
    tcase_add_test(fs, test_layer_digest_is_deterministic_with_source_date_epoch);
    tcase_add_test(fs, test_layer_writer_entries_and_errors);
    tcase_add_test(fs, test_snapshot_diff_layer_and_extract_round_trip);
    tcase_add_test(fs, test_unchanged_tree_has_no_changes_and_specials_are_skipped);
    tcase_add_test(fs, test_one_file_system_leaves_mounts_out);
    tcase_add_test(fs, test_permission_denied_directory_is_reported_not_fatal);
    tcase_add_test(fs, test_extract_refuses_traversal_and_contains_symlinks);
    tcase_add_test(fs, test_extract_whiteouts_in_any_order);
    suite_add_tcase(s, fs);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
