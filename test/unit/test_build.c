/*
 * Unit tests for pkg/build without a registry or a pod: the build configuration, scripts
 * URLs and where each script is found, docker-config credentials and the registry an
 * image without one goes to (sr#38), URLs made safe to print, the termination message in
 * both forms, the runtime artifacts from export to layer, and the file system and process
 * helpers the steps lean on. Every file system test works in its own temporary tree.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build.h"
#include "build/build_internal.h"
#include "util/util.h"

#define SNPRINTF(buf, len, ...) ck_assert_int_lt(snprintf(buf, len, __VA_ARGS__), (int)(len))

/* ---- helpers ------------------------------------------------------------------------------ */

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/test_build_XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    chmod(d, 0755);
    return util_strdup(d);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Writes dir/rel (parents created) with content and mode. */
static void put(const char *dir, const char *rel, const char *content, mode_t mode)
{
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    ck_assert_int_eq(build_mkdirs(path, 0755), 0);
    *slash = '/';
    ck_assert_int_eq(build_write_file(path, content, strlen(content), mode), 0);
}

static char *slurp(const char *dir, const char *rel)
{
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/%s", dir, rel);
    return util_read_file(path, NULL);
}

static build_config_t *parse(const char *json)
{
    build_config_t *c = NULL;
    char *err = NULL;
    int rc = build_config_parse(json, strlen(json), &c, &err);
    ck_assert_msg(rc == 0, "%s", err ? err : "");
    return c;
}

static char *parse_error(const char *json)
{
    build_config_t *c = NULL;
    char *err = NULL;
    ck_assert_int_eq(build_config_parse(json, strlen(json), &c, &err), -1);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(err);
    return err;
}

#define CONFIG_OK                                                                                  \
    "{\"kind\":\"S2iBuildConfig\",\"version\":1,"                                                  \
    "\"run\":{\"namespace\":\"ns\",\"name\":\"r1\",\"uid\":\"u-1\",\"builder\":\"b\"},"            \
    "\"config\":{\"builderImage\":\"reg:5000/s2i/b:1\",\"imageName\":\"reg:5000/app\","            \
    "\"SourceURL\":\"https://git.example/app.git\",\"incremental\":true,"                          \
    "\"environment\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},"          \
    "{\"name\":\"A\",\"value\":\"3\"},{\"name\":\"\",\"value\":\"x\"}],"                           \
    "\"runtimeArtifacts\":[{\"source\":\"/opt/app/bin\",\"destination\":\"bin\"}],"                \
    "\"labels\":{\"team\":\"dev\"},\"futureField\":{\"kept\":1}},"                                 \
    "\"outputImage\":\"reg:5000/app:v1\",\"sourceUrl\":\"https://git.example/app.git\","           \
    "\"revisionId\":\"main\","                                                                     \
    "\"secrets\":{\"push\":\"/var/run/secrets/s2i/push\",\"git\":\"/var/run/secrets/s2i/git\"},"   \
    "\"insecureRegistries\":[\"reg:5000\",\"127.0.0.1:5000\"]}"

/* ---- config ---------------------------------------------------------------------------------- */

START_TEST(test_config_parses_the_operator_document)
{
    build_config_t *c = parse(CONFIG_OK);
    ck_assert_str_eq(c->output_image, "reg:5000/app:v1");
    ck_assert_str_eq(c->source_url, "https://git.example/app.git");
    ck_assert_str_eq(c->revision_id, "main");
    ck_assert_str_eq(c->run_namespace, "ns");
    ck_assert_str_eq(c->run_name, "r1");
    ck_assert_str_eq(c->run_builder, "b");
    ck_assert_str_eq(c->s2i->builder_image, "reg:5000/s2i/b:1");
    /* Go's case-insensitive key matching, as the operator decodes it. */
    ck_assert_str_eq(c->s2i->source_url, "https://git.example/app.git");
    ck_assert(c->s2i->incremental);
    ck_assert_uint_eq(c->s2i->runtime_artifacts_len, 1);
    ck_assert_str_eq(c->s2i->runtime_artifacts[0].destination, "bin");
    ck_assert_str_eq(build_config_secret(c, BUILD_SECRET_PUSH), "/var/run/secrets/s2i/push");
    ck_assert_str_eq(build_config_secret(c, BUILD_SECRET_GIT), "/var/run/secrets/s2i/git");
    ck_assert_ptr_null(build_config_secret(c, BUILD_SECRET_PULL));
    ck_assert_uint_eq(c->insecure_len, 2);
    ck_assert_str_eq(c->insecure_registries[1], "127.0.0.1:5000");
    ck_assert_ptr_null(c->insecure_registries[2]);
    /* Environment: a later entry of a name replaces the earlier one in place; unnamed
     * entries are dropped. */
    char **env = build_config_environment(c);
    ck_assert_ptr_nonnull(env);
    ck_assert_uint_eq(build_strv_len(env), 2);
    ck_assert_str_eq(env[0], "A=3");
    ck_assert_str_eq(env[1], "B=2");
    build_strv_free(env);
    build_config_free(c);
}
END_TEST

START_TEST(test_config_defaults_and_errors)
{
    /* sourceUrl and revisionId fall back to spec.config's; no secrets, no registries. */
    build_config_t *c = parse("{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{"
                              "\"sourceUrl\":\"git://h/a.git\",\"revisionId\":\"v1\"},"
                              "\"outputImage\":\"app\"}");
    ck_assert_str_eq(c->source_url, "git://h/a.git");
    ck_assert_str_eq(c->revision_id, "v1");
    ck_assert_uint_eq(c->insecure_len, 0);
    ck_assert_ptr_null(c->insecure_registries[0]);
    for (int i = 0; i < BUILD_SECRET_COUNT; i++)
        ck_assert_ptr_null(build_config_secret(c, (build_secret_t)i));
    build_config_free(c);

    const struct {
        const char *json;
        const char *want;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"kind\":\"S2iBuildConfig\"", "not JSON"},
        {"{\"kind\":\"Pod\",\"version\":1}", "kind: expected S2iBuildConfig"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":2}", "version: expected 1"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":[]}", "config: expected object"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{\"incremental\":\"yes\"},"
         "\"outputImage\":\"a\"}",
         "config.incremental"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{}}", "outputImage: required"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{},\"outputImage\":\"UPPER\"}",
         "outputImage:"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{},\"outputImage\":\"a\","
         "\"secrets\":{\"push\":\"relative/push\"}}",
         "secrets.push"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{},\"outputImage\":\"a\","
         "\"secrets\":{\"git\":\"/var/run/secrets/s2i/../../../etc\"}}",
         "secrets.git"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{},\"outputImage\":\"a\","
         "\"insecureRegistries\":[5000]}",
         "insecureRegistries[0]"},
        {"{\"kind\":\"S2iBuildConfig\",\"version\":1,\"config\":{},\"outputImage\":7}",
         "outputImage: expected string"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        char *err = parse_error(bad[i].json);
        ck_assert_msg(strstr(err, bad[i].want), "%s: got %s", bad[i].json, err);
        free(err);
    }
    char *dir = make_tmpdir();
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/missing.json", dir);
    build_config_t *none = NULL;
    char *err = NULL;
    ck_assert_int_eq(build_config_load(path, &none, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "No such file"));
    free(err);
    put(dir, "config.json", CONFIG_OK, 0644);
    SNPRINTF(path, sizeof(path), "%s/config.json", dir);
    ck_assert_int_eq(build_config_load(path, &none, &err), 0);
    build_config_free(none);
    rm_tree(dir);
}
END_TEST

/* ---- scripts ------------------------------------------------------------------------------ */

START_TEST(test_scripts_url_forms)
{
    const struct {
        const char *url;
        build_scripts_kind_t kind;
        const char *location;
    } good[] = {
        {"image:///usr/libexec/s2i", BUILD_SCRIPTS_IMAGE, "/usr/libexec/s2i"},
        {"image:///usr/libexec/s2i/", BUILD_SCRIPTS_IMAGE, "/usr/libexec/s2i"},
        {"image:///", BUILD_SCRIPTS_IMAGE, "/"},
        {"file:///opt/scripts", BUILD_SCRIPTS_FILE, "/opt/scripts"},
        {"/opt/scripts//", BUILD_SCRIPTS_FILE, "/opt/scripts"},
        {"https://example.com/s2i/bin/", BUILD_SCRIPTS_HTTP, "https://example.com/s2i/bin"},
        {"http://example.com:8080/x", BUILD_SCRIPTS_HTTP, "http://example.com:8080/x"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
        build_scripts_url_t u;
        char *err = NULL;
        ck_assert_msg(build_scripts_url_parse(good[i].url, &u, &err) == 0, "%s: %s", good[i].url,
                      err);
        ck_assert_int_eq(u.kind, good[i].kind);
        ck_assert_str_eq(u.location, good[i].location);
        build_scripts_url_clear(&u);
    }
    const char *bad[] = {"",  "image://usr/libexec", "file://relative", "ftp://h/x", "scripts",
                         NULL};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        build_scripts_url_t u;
        char *err = NULL;
        ck_assert_int_eq(build_scripts_url_parse(bad[i], &u, &err), -1);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(u.location);
        free(err);
    }
}
END_TEST

static image_config_t *image_with_scripts_label(const char *url)
{
    image_config_t *img = image_config_new("linux", "amd64");
    ck_assert_ptr_nonnull(img);
    if (url)
        ck_assert_int_eq(image_config_set_label(img, BUILD_LABEL_SCRIPTS_URL, url), 0);
    return img;
}

START_TEST(test_scripts_found_in_s2i_order_and_injected)
{
    char *dir = make_tmpdir();
    char url[4200], image_dir[4096], src[4096], dest[4096], work[4096], json[8192];
    /* The image's scripts (the label), a scriptsUrl directory with only assemble, the
     * source's .s2i/bin with only run. */
    put(dir, "image/s2i/assemble", "#!/bin/sh\necho image\n", 0755);
    put(dir, "image/s2i/run", "#!/bin/sh\n", 0755);
    put(dir, "image/s2i/save-artifacts", "#!/bin/sh\n", 0755);
    put(dir, "override/assemble", "#!/bin/sh\necho override\n", 0755);
    put(dir, "src/.s2i/bin/run", "#!/bin/sh\necho from source\n", 0755);
    SNPRINTF(image_dir, sizeof(image_dir), "%s/image/s2i", dir);
    SNPRINTF(src, sizeof(src), "%s/src", dir);
    SNPRINTF(dest, sizeof(dest), "%s/dest", dir);
    SNPRINTF(work, sizeof(work), "%s/work", dir);
    mkdir(work, 0755);
    SNPRINTF(url, sizeof(url), "image://%s", image_dir);
    image_config_t *img = image_with_scripts_label(url);
    SNPRINTF(json, sizeof(json),
             "{\"kind\":\"S2iBuildConfig\",\"version\":1,\"outputImage\":\"a\","
             "\"config\":{\"scriptsUrl\":\"file://%s/override\"}}",
             dir);
    build_config_t *cfg = parse(json);
    build_scripts_t s;
    build_error_t e = BUILD_ERROR_INIT;
    ck_assert_int_eq(build_scripts_find(cfg, img, src, dest, work, false, &s, &e), BUILD_OK);
    char want[4200];
    /* scriptsUrl wins for assemble, copied into the image at <destination>/scripts. */
    SNPRINTF(want, sizeof(want), "%s/scripts/assemble", dest);
    ck_assert_str_eq(s.assemble, want);
    char *text = slurp(dest, "scripts/assemble");
    ck_assert_str_eq(text, "#!/bin/sh\necho override\n");
    free(text);
    /* .s2i/bin comes before the image for run, copied too (the image runs it later). */
    SNPRINTF(want, sizeof(want), "%s/scripts/run", dest);
    ck_assert_str_eq(s.run, want);
    /* The image's own save-artifacts stays where it is. */
    SNPRINTF(want, sizeof(want), "%s/save-artifacts", image_dir);
    ck_assert_str_eq(s.save_artifacts, want);
    ck_assert_ptr_null(s.assemble_runtime);
    build_scripts_clear(&s);
    build_config_free(cfg);

    /* Without overrides: all from the label's directory, nothing copied. */
    cfg = parse("{\"kind\":\"S2iBuildConfig\",\"version\":1,\"outputImage\":\"a\",\"config\":{}}");
    build_remove_tree(dest);
    ck_assert_int_eq(build_scripts_find(cfg, img, NULL, dest, work, false, &s, &e), BUILD_OK);
    SNPRINTF(want, sizeof(want), "%s/assemble", image_dir);
    ck_assert_str_eq(s.assemble, want);
    ck_assert(!build_path_exists(dest));
    build_scripts_clear(&s);
    /* The runtime step looks for assemble-runtime (optional) and run. */
    ck_assert_int_eq(build_scripts_find(cfg, img, NULL, dest, work, true, &s, &e), BUILD_OK);
    ck_assert_ptr_null(s.assemble);
    ck_assert_ptr_null(s.assemble_runtime);
    SNPRINTF(want, sizeof(want), "%s/run", image_dir);
    ck_assert_str_eq(s.run, want);
    build_scripts_clear(&s);
    image_config_free(img);

    /* An image whose label points nowhere and no default directory: ScriptsNotFound. */
    SNPRINTF(url, sizeof(url), "image://%s/nothing-here", dir);
    img = image_with_scripts_label(url);
    ck_assert_int_eq(build_scripts_find(cfg, img, NULL, dest, work, false, &s, &e),
                     BUILD_ERR_SCRIPTS_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(e.message, "no assemble script"));
    ck_assert_ptr_null(s.run);
    build_error_clear(&e);
    image_config_free(img);
    /* A malformed label is the image's fault; a malformed scriptsUrl the config's. */
    img = image_with_scripts_label("relative/path");
    ck_assert_int_eq(build_scripts_find(cfg, img, NULL, dest, work, false, &s, &e),
                     BUILD_ERR_SCRIPTS_NOT_FOUND);
    build_error_clear(&e);
    build_config_free(cfg);
    cfg = parse("{\"kind\":\"S2iBuildConfig\",\"version\":1,\"outputImage\":\"a\","
                "\"config\":{\"scriptsUrl\":\"ftp://x/y\"}}");
    ck_assert_int_eq(build_scripts_find(cfg, img, NULL, dest, work, false, &s, &e),
                     BUILD_ERR_INVALID_CONFIG);
    build_error_clear(&e);
    image_config_free(img);
    build_config_free(cfg);
    rm_tree(dir);
}
END_TEST

/* ---- credentials ------------------------------------------------------------------------ */

START_TEST(test_auth_registries_of_docker_configs)
{
    const char *cfg = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\"},"
                      "\"HTTPS://Reg.Example.com:5000/v2/\":{\"auth\":\"dTpw\"},"
                      "\"quay.io\":{\"username\":\"u\",\"password\":\"p\"}}}";
    char **regs = build_auth_registries(cfg, strlen(cfg));
    ck_assert_ptr_nonnull(regs);
    ck_assert_uint_eq(build_strv_len(regs), 3);
    ck_assert_str_eq(regs[0], "docker.io");
    ck_assert_str_eq(regs[1], "reg.example.com:5000");
    ck_assert_str_eq(regs[2], "quay.io");
    build_strv_free(regs);
    const char *legacy = "{\"registry.local:5000\":{\"auth\":\"dTpw\",\"email\":\"a@b\"}}";
    regs = build_auth_registries(legacy, strlen(legacy));
    ck_assert_uint_eq(build_strv_len(regs), 1);
    ck_assert_str_eq(regs[0], "registry.local:5000");
    build_strv_free(regs);
    ck_assert_ptr_null(build_auth_registries("{", 1));
    ck_assert_ptr_null(build_auth_registries("[]", 2));
}
END_TEST

START_TEST(test_auth_from_secret_directories)
{
    char *dir = make_tmpdir();
    char sub[4096];
    registry_auth_config_t *cfg = NULL;
    char *err = NULL;
    /* kubernetes.io/dockerconfigjson */
    put(dir, "push/.dockerconfigjson",
        "{\"auths\":{\"reg.example.com\":{\"auth\":\"YnVpbGRlcjpzM2NyM3Q=\"}}}", 0444);
    SNPRINTF(sub, sizeof(sub), "%s/push", dir);
    ck_assert_int_eq(build_auth_load_dir(sub, &cfg, &err), 1);
    registry_credentials_t cred = REGISTRY_CREDENTIALS_INIT;
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "reg.example.com", &cred), 1);
    ck_assert_str_eq(cred.username, "builder");
    ck_assert_str_eq(cred.password, "s3cr3t");
    registry_credentials_clear(&cred);
    registry_auth_config_free(cfg);
    /* kubernetes.io/dockercfg (the legacy map) */
    put(dir, "old/.dockercfg", "{\"old.example.com\":{\"username\":\"o\",\"password\":\"p\"}}",
        0444);
    SNPRINTF(sub, sizeof(sub), "%s/old", dir);
    ck_assert_int_eq(build_auth_load_dir(sub, &cfg, &err), 1);
    ck_assert_int_eq(registry_auth_config_lookup(cfg, "old.example.com", &cred), 1);
    ck_assert_str_eq(cred.username, "o");
    registry_credentials_clear(&cred);
    registry_auth_config_free(cfg);
    /* No docker config at all, and a broken one (whose error holds no secret). */
    SNPRINTF(sub, sizeof(sub), "%s/empty", dir);
    mkdir(sub, 0755);
    ck_assert_int_eq(build_auth_load_dir(sub, &cfg, &err), 0);
    ck_assert_ptr_null(cfg);
    put(dir, "bad/config.json", "{\"auths\":{\"h\":{\"auth\":\"not base64 s3cr3t!\"}", 0444);
    SNPRINTF(sub, sizeof(sub), "%s/bad", dir);
    ck_assert_int_eq(build_auth_load_dir(sub, &cfg, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, "s3cr3t"));
    free(err);
    rm_tree(dir);
}
END_TEST

START_TEST(test_output_image_without_registry_goes_to_the_push_secret_registry)
{
    char *dir = make_tmpdir();
    char one[4096], two[4096], hub[4096];
    put(dir, "one/.dockerconfigjson", "{\"auths\":{\"https://harbor.example.com\":{}}}", 0444);
    put(dir, "two/.dockerconfigjson", "{\"auths\":{\"a.example.com\":{},\"b.example.com\":{}}}",
        0444);
    put(dir, "hub/.dockerconfigjson", "{\"auths\":{\"https://index.docker.io/v1/\":{}}}", 0444);
    SNPRINTF(one, sizeof(one), "%s/one", dir);
    SNPRINTF(two, sizeof(two), "%s/two", dir);
    SNPRINTF(hub, sizeof(hub), "%s/hub", dir);
    const struct {
        const char *image;
        const char *server;
        const char *secret;
        const char *want;
    } cases[] = {
        /* sr#38: the secret's single registry */
        {"devops/app:v1", NULL, one, "harbor.example.com/devops/app:v1"},
        {"app:v1", NULL, one, "harbor.example.com/app:v1"},
        /* pushAuthentication.serverAddress says it */
        {"devops/app:v1", "https://reg.example.com:5000/", two,
         "reg.example.com:5000/devops/app:v1"},
        /* a named registry is kept */
        {"other.example.com/app:v1", NULL, one, "other.example.com/app:v1"},
        {"localhost/app:v1", NULL, one, "localhost/app:v1"},
        {"127.0.0.1:5000/app:v1", NULL, one, "127.0.0.1:5000/app:v1"},
        /* ambiguous or Docker Hub: docker's default */
        {"devops/app:v1", NULL, two, "devops/app:v1"},
        {"devops/app:v1", NULL, hub, "devops/app:v1"},
        {"devops/app:v1", NULL, NULL, "devops/app:v1"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *err = NULL;
        char *got =
            build_resolve_output_image(cases[i].image, cases[i].server, cases[i].secret, &err);
        ck_assert_msg(got != NULL, "%s: %s", cases[i].image, err);
        ck_assert_str_eq(got, cases[i].want);
        free(got);
    }
    char *err = NULL;
    ck_assert_ptr_null(build_resolve_output_image("Bad/Name", NULL, one, &err));
    ck_assert_ptr_nonnull(err);
    free(err);
    ck_assert(build_ref_has_registry("a.b/c"));
    ck_assert(build_ref_has_registry("a:1/c"));
    ck_assert(!build_ref_has_registry("library/c"));
    ck_assert(!build_ref_has_registry("c:v1"));
    rm_tree(dir);
}
END_TEST

START_TEST(test_urls_lose_their_credentials)
{
    const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"https://user:tok3n@git.example.com/a/b.git", "https://git.example.com/a/b.git"},
        {"https://tok3n@git.example.com:8443/b.git", "https://git.example.com:8443/b.git"},
        {"https://git.example.com/a@b/c.git", "https://git.example.com/a@b/c.git"},
        {"http://u:p@w@h/x", "http://h/x"},
        {"ssh://git@h/x.git", "ssh://h/x.git"},
        {"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
        {"git://127.0.0.1:9418/app.git", "git://127.0.0.1:9418/app.git"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *got = util_url_without_credentials(cases[i].in);
        ck_assert_str_eq(got, cases[i].out);
        free(got);
    }
}
END_TEST

/* ---- git ---------------------------------------------------------------------------------- */

START_TEST(test_git_helpers)
{
    ck_assert(build_revision_is_commit("89cb6d4"));
    ck_assert(build_revision_is_commit("89cb6d4077ef4f8b60b633274d9ce7fca9253130"));
    ck_assert(!build_revision_is_commit("89CB6D4077"));
    ck_assert(!build_revision_is_commit("main"));
    ck_assert(!build_revision_is_commit("v1.2.3"));
    ck_assert(!build_revision_is_commit("abc123"));
    ck_assert(!build_revision_is_commit(""));
    ck_assert(!build_revision_is_commit(NULL));
    char *cmd = build_git_ssh_command("/tmp/a b/id", "/tmp/it's/known_hosts");
    ck_assert_str_eq(cmd, "ssh -i '/tmp/a b/id' -o IdentitiesOnly=yes -o BatchMode=yes -o "
                          "UserKnownHostsFile='/tmp/it'\\''s/known_hosts' -o "
                          "StrictHostKeyChecking=accept-new");
    free(cmd);
    char *dir = make_tmpdir();
    put(dir, "username", "builder\n", 0444);
    put(dir, "password", "t0ken\r\n", 0444);
    char *answer = NULL;
    ck_assert_int_eq(build_askpass(dir, "Username for 'https://h': ", &answer), 0);
    ck_assert_str_eq(answer, "builder");
    free(answer);
    ck_assert_int_eq(build_askpass(dir, "Password for 'https://builder@h': ", &answer), 0);
    ck_assert_str_eq(answer, "t0ken");
    free(answer);
    ck_assert_int_eq(build_askpass(dir, "Are you sure (yes/no)? ", &answer), -1);
    ck_assert_ptr_null(answer);
    ck_assert_int_eq(build_askpass(NULL, "Username: ", &answer), -1);
    rm_tree(dir);
}
END_TEST

/* ---- result ------------------------------------------------------------------------------ */

START_TEST(test_success_message_has_what_the_operator_reads)
{
    build_result_t r;
    memset(&r, 0, sizeof(r));
    r.image_name = util_strdup("reg:5000/app");
    r.image_id = util_strdup("sha256:0123");
    r.image_size = 5230211;
    r.image_created = util_strdup("2023-11-14T22:13:20Z");
    r.repo_tags = calloc(2, sizeof(char *));
    r.repo_tags[0] = util_strdup("reg:5000/app:v1");
    r.command_pull = util_strdup("docker pull reg:5000/app:v1");
    r.source.source_url = util_strdup("https://git.example/app.git");
    r.source.revision_id = util_strdup("main");
    r.source.commit_id = util_strdup("89cb6d4");
    r.source.committer_name = util_strdup("Ada \"the first\" Lovelace");
    r.source.committer_email = util_strdup("ada@example.com");
    r.source.commit_date = util_strdup("2023-11-14T22:13:20+00:00");
    r.source.builder_image = util_strdup("reg:5000/s2i/b:1");
    char *msg = build_result_message(&r);
    json_object *j = json_tokener_parse(msg);
    ck_assert_ptr_nonnull(j);
    json_object *res = NULL, *src = NULL, *v = NULL;
    ck_assert(json_object_object_get_ex(j, "s2iBuildResult", &res));
    ck_assert(json_object_object_get_ex(j, "s2iBuildSource", &src));
    ck_assert(json_object_object_get_ex(res, "imageID", &v));
    ck_assert_str_eq(json_object_get_string(v), "sha256:0123");
    ck_assert(json_object_object_get_ex(res, "imageSize", &v));
    ck_assert(json_object_is_type(v, json_type_int));
    ck_assert_int_eq(json_object_get_int64(v), 5230211);
    ck_assert(json_object_object_get_ex(res, "imageRepoTags", &v));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "reg:5000/app:v1");
    ck_assert(json_object_object_get_ex(src, "committerName", &v));
    ck_assert_str_eq(json_object_get_string(v), "Ada \"the first\" Lovelace");
    /* Only what the CRD's s2iBuildSource has; empty fields omitted. */
    ck_assert(!json_object_object_get_ex(src, "commitDate", NULL));
    ck_assert(!json_object_object_get_ex(src, "binaryName", NULL));
    ck_assert(!json_object_object_get_ex(src, "binarySize", NULL));
    ck_assert(!json_object_object_get_ex(src, "description", NULL));
    ck_assert_uint_lt(strlen(msg), 4096);
    json_object_put(j);
    free(msg);
    /* B2I: binary name and size (an unsigned integer). */
    r.source.binary_name = util_strdup("app.jar");
    r.source.binary_size = 1234;
    msg = build_result_message(&r);
    j = json_tokener_parse(msg);
    json_object_object_get_ex(j, "s2iBuildSource", &src);
    ck_assert(json_object_object_get_ex(src, "binarySize", &v));
    ck_assert_int_eq(json_object_get_int64(v), 1234);
    json_object_put(j);
    free(msg);
    build_result_clear(&r);
}
END_TEST

START_TEST(test_failure_message_is_one_line)
{
    build_error_t e = BUILD_ERROR_INIT;
    ck_assert_int_eq(build_error_set(&e, BUILD_ERR_ASSEMBLE, "assemble exited with code %d", 3),
                     BUILD_ERR_ASSEMBLE);
    /* The first error wins. */
    ck_assert_int_eq(build_error_set(&e, BUILD_ERR_PUSH, "later"), BUILD_ERR_ASSEMBLE);
    char *msg = build_failure_message(&e);
    ck_assert_str_eq(msg, "AssembleFailed: assemble exited with code 3");
    free(msg);
    build_error_clear(&e);
    build_error_set(&e, BUILD_ERR_PUSH, "line one\nline two\ttab");
    msg = build_failure_message(&e);
    ck_assert_str_eq(msg, "PushFailed: line one line two tab");
    free(msg);
    build_error_clear(&e);
    char long_text[3000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    build_error_set(&e, BUILD_ERR_SOURCE_FETCH, "%s", long_text);
    msg = build_failure_message(&e);
    ck_assert_uint_lt(strlen(msg), 1200);
    ck_assert(util_has_prefix(msg, "SourceFetchFailed: xxx"));
    ck_assert(util_has_suffix(msg, "..."));
    free(msg);
    build_error_clear(&e);
    const build_err_t all[] = {BUILD_ERR_INVALID_CONFIG, BUILD_ERR_SOURCE_FETCH, BUILD_ERR_PULL,
                               BUILD_ERR_SCRIPTS_NOT_FOUND, BUILD_ERR_SNAPSHOT};
    const char *names[] = {"InvalidConfig", "SourceFetchFailed", "PullFailed", "ScriptsNotFound",
                           "SnapshotFailed"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
        ck_assert_str_eq(build_err_reason(all[i]), names[i]);
    ck_assert_str_eq(build_err_reason(BUILD_OK), "");
}
END_TEST

START_TEST(test_termination_log_and_source_info_files)
{
    char *dir = make_tmpdir();
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/termination-log", dir);
    put(dir, "termination-log", "", 0666);
    ck_assert_int_eq(build_termination_write(path, "AssembleFailed: x"), 0);
    char *text = slurp(dir, "termination-log");
    ck_assert_str_eq(text, "AssembleFailed: x");
    free(text);
    /* Capped at the kubelet's 4 KiB. */
    char *big = malloc(6000);
    memset(big, 'y', 5999);
    big[5999] = '\0';
    ck_assert_int_eq(build_termination_write(path, big), 0);
    text = slurp(dir, "termination-log");
    ck_assert_uint_eq(strlen(text), 4096);
    free(text);
    free(big);
    SNPRINTF(path, sizeof(path), "%s/no/such/dir/log", dir);
    ck_assert_int_eq(build_termination_write(path, "x"), -1);

    build_source_info_t in = {0}, out = {0};
    in.source_url = util_strdup("git://h/a.git");
    in.commit_id = util_strdup("abc");
    in.commit_message = util_strdup("fix \"it\"\nsecond line");
    in.binary_name = util_strdup("a.jar");
    in.binary_size = 1ULL << 40;
    SNPRINTF(path, sizeof(path), "%s/source.json", dir);
    char *err = NULL;
    ck_assert_int_eq(build_source_info_save(&in, path, &err), 0);
    ck_assert_int_eq(build_source_info_load(path, &out, &err), 0);
    ck_assert_str_eq(out.source_url, "git://h/a.git");
    ck_assert_str_eq(out.commit_message, "fix \"it\"\nsecond line");
    ck_assert_str_eq(out.binary_name, "a.jar");
    ck_assert(out.binary_size == 1ULL << 40);
    ck_assert_ptr_null(out.committer_name);
    build_source_info_clear(&in);
    build_source_info_clear(&out);
    SNPRINTF(path, sizeof(path), "%s/none.json", dir);
    ck_assert_int_eq(build_source_info_load(path, &out, &err), -1);
    free(err);
    rm_tree(dir);
}
END_TEST

/* ---- runtime artifacts -------------------------------------------------------------------- */

typedef struct tar_entry {
    char name[256];
    int64_t uid;
    mode_t mode;
    char data[512];
} tar_entry_t;

/* The entries of a (gzip) tar file, in order. */
static size_t read_tar(const char *path, tar_entry_t *out, size_t max)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    ck_assert_int_eq(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
    struct archive_entry *e;
    size_t n = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        ck_assert_uint_lt(n, max);
        snprintf(out[n].name, sizeof(out[n].name), "%s", archive_entry_pathname(e));
        out[n].uid = archive_entry_uid(e);
        out[n].mode = archive_entry_mode(e);
        la_ssize_t len = archive_read_data(a, out[n].data, sizeof(out[n].data) - 1);
        out[n].data[len > 0 ? len : 0] = '\0';
        n++;
    }
    archive_read_free(a);
    return n;
}

static int fd_write(void *data, const void *buf, size_t len)
{
    return write(*(int *)data, buf, len) == (ssize_t)len ? 0 : -1;
}

START_TEST(test_artifacts_export_then_layer_and_install)
{
    char *dir = make_tmpdir();
    char builder[4096], runtime[4096], tar[4096], layer[4096], extract[4096], extract2[4096];
    SNPRINTF(builder, sizeof(builder), "%s/builder", dir);
    SNPRINTF(runtime, sizeof(runtime), "%s/runtime", dir);
    SNPRINTF(tar, sizeof(tar), "%s/artifacts.tar", dir);
    SNPRINTF(layer, sizeof(layer), "%s/layer.tar.gz", dir);
    SNPRINTF(extract, sizeof(extract), "%s/x1", dir);
    SNPRINTF(extract2, sizeof(extract2), "%s/x2", dir);
    mkdir(extract, 0700);
    mkdir(extract2, 0700);
    put(builder, "opt/app/target/app.jar", "JAR", 0644);
    put(builder, "opt/app/web/index.html", "<h1>", 0644);
    put(builder, "opt/app/web/css/site.css", "body{}", 0600);
    put(builder, "opt/app/bin/run", "#!/bin/sh\n", 0755);
    put(runtime, "deployments/.keep", "", 0644);
    put(runtime, "opt/app/.keep", "", 0644);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    api_volume_spec_t artifacts[] = {
        {.source = "/opt/app/target/app.jar", .destination = "/deployments"},
        {.source = "/opt/app/web", .destination = "static/site"}, /* relative: workdir */
        {.source = "/opt/app/bin/run", .destination = ""},        /* workdir itself */
    };
    char *err = NULL;
    ck_assert_msg(build_artifacts_export(builder, artifacts, 3, tar, &err) == 0, "%s", err);
    tar_entry_t e[32];
    size_t n = read_tar(tar, e, 32);
    ck_assert_str_eq(e[0].name, "artifacts.json");
    ck_assert_ptr_nonnull(strstr(e[0].data, "\"destination\":\"\\/deployments\""));
    ck_assert_str_eq(e[1].name, "0/");
    ck_assert_str_eq(e[2].name, "0/app.jar");
    ck_assert_str_eq(e[3].name, "1/");
    ck_assert_str_eq(e[4].name, "1/web/");
    ck_assert_str_eq(e[5].name, "1/web/css/");
    ck_assert_str_eq(e[6].name, "1/web/css/site.css");
    ck_assert_str_eq(e[7].name, "1/web/index.html");
    ck_assert_str_eq(e[8].name, "2/");
    ck_assert_str_eq(e[9].name, "2/run");
    ck_assert_uint_eq(n, 10);

    /* The layer: artifacts at their destinations (workdir /opt/app), owned by the runtime
     * user, plus the directories the runtime image lacks (static, static/site; not
     * deployments, opt or opt/app). */
    int fd = open(layer, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    image_layer_options_t opts;
    ck_assert_int_eq(image_layer_options_default(&opts, &err), 0);
    image_layer_info_t info;
    ck_assert_msg(build_artifacts_layer(tar, extract, runtime, "/opt/app", 1001, 0, &opts, fd_write,
                                        &fd, &info, &err) == 0,
                  "%s", err);
    close(fd);
    n = read_tar(layer, e, 32);
    const char *want[] = {
        "deployments/app.jar",
        "opt/app/run",
        "opt/app/static/",
        "opt/app/static/site/",
        "opt/app/static/site/web/",
        "opt/app/static/site/web/css/",
        "opt/app/static/site/web/css/site.css",
        "opt/app/static/site/web/index.html",
    };
    ck_assert_uint_eq(n, UTIL_ARRAY_LEN(want));
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(e[i].name, want[i]);
        ck_assert_int_eq(e[i].uid, 1001);
    }
    ck_assert_str_eq(e[0].data, "JAR");
    ck_assert_int_eq(e[1].mode & 0777, 0755);
    ck_assert_int_eq(e[6].mode & 0777, 0600);
    ck_assert(registry_digest_valid(info.digest));
    ck_assert_int_gt(info.size, 0);
    /* Deterministic: the same export gives the same layer. */
    char digest[REGISTRY_DIGEST_LEN];
    memcpy(digest, info.digest, sizeof(digest));
    build_remove_tree(extract);
    mkdir(extract, 0700);
    fd = open(layer, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_eq(build_artifacts_layer(tar, extract, runtime, "/opt/app", 1001, 0, &opts,
                                           fd_write, &fd, &info, &err),
                     0);
    close(fd);
    ck_assert_str_eq(info.digest, digest);

    /* Installed in place (for assemble-runtime). */
    ck_assert_msg(build_artifacts_install(tar, extract2, runtime, "/opt/app", &err) == 0, "%s",
                  err);
    char *text = slurp(runtime, "deployments/app.jar");
    ck_assert_str_eq(text, "JAR");
    free(text);
    text = slurp(runtime, "opt/app/static/site/web/css/site.css");
    ck_assert_str_eq(text, "body{}");
    free(text);
    ck_assert(build_path_exists(runtime) && access("/", F_OK) == 0);
    char run[4200];
    SNPRINTF(run, sizeof(run), "%s/opt/app/run", runtime);
    ck_assert_int_eq(access(run, X_OK), 0);

    /* A missing source is an error naming it. */
    api_volume_spec_t missing[] = {{.source = "/opt/app/nothing", .destination = "."}};
    ck_assert_int_eq(build_artifacts_export(builder, missing, 1, tar, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/opt/app/nothing"));
    free(err);
    err = NULL;
    api_volume_spec_t nosource[] = {{.source = "", .destination = "."}};
    ck_assert_int_eq(build_artifacts_export(builder, nosource, 1, tar, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "runtimeArtifacts[0].source"));
    free(err);
    unsetenv("SOURCE_DATE_EPOCH");
    rm_tree(dir);
}
END_TEST

/* ---- file system and processes ------------------------------------------------------------ */

START_TEST(test_copy_tree_keeps_modes_links_and_skips_excluded)
{
    char *dir = make_tmpdir();
    char src[4096], dst[4096], path[4200];
    SNPRINTF(src, sizeof(src), "%s/src", dir);
    SNPRINTF(dst, sizeof(dst), "%s/dst/deep/src", dir);
    put(src, "a.txt", "A", 0640);
    put(src, "bin/tool", "#!/bin/sh\n", 0755);
    put(src, ".git/HEAD", "ref", 0644);
    put(src, "sub/.git", "gitdir: x", 0644);
    put(src, "sub/.gitignore", "*.o", 0644);
    SNPRINTF(path, sizeof(path), "%s/link", src);
    ck_assert_int_eq(symlink("a.txt", path), 0);
    char *err = NULL;
    ck_assert_msg(build_copy_tree(src, dst, BUILD_DEFAULT_EXCLUDE, &err) == 0, "%s", err);
    struct stat st;
    SNPRINTF(path, sizeof(path), "%s/a.txt", dst);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    SNPRINTF(path, sizeof(path), "%s/bin/tool", dst);
    ck_assert_int_eq(access(path, X_OK), 0);
    SNPRINTF(path, sizeof(path), "%s/link", dst);
    char target[64] = {0};
    ck_assert_int_eq(readlink(path, target, sizeof(target) - 1), 5);
    ck_assert_str_eq(target, "a.txt");
    SNPRINTF(path, sizeof(path), "%s/.git", dst);
    ck_assert(!build_path_exists(path));
    SNPRINTF(path, sizeof(path), "%s/sub/.git", dst);
    ck_assert(!build_path_exists(path));
    SNPRINTF(path, sizeof(path), "%s/sub/.gitignore", dst);
    ck_assert(build_path_exists(path));
    /* Copying again merges (files replaced), and a single file copies as a file. */
    ck_assert_int_eq(build_copy_tree(src, dst, NULL, &err), 0);
    SNPRINTF(path, sizeof(path), "%s/.git/HEAD", dst);
    ck_assert(build_path_exists(path));
    SNPRINTF(path, sizeof(path), "%s/a.txt", src);
    char one[4200];
    SNPRINTF(one, sizeof(one), "%s/one/a.txt", dir);
    ck_assert_int_eq(build_copy_tree(path, one, NULL, &err), 0);
    char *text = slurp(dir, "one/a.txt");
    ck_assert_str_eq(text, "A");
    free(text);
    ck_assert_int_eq(build_copy_tree(src, dst, "([", &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "excludeRegExp"));
    free(err);
    SNPRINTF(path, sizeof(path), "%s/dst", dir);
    ck_assert_int_eq(build_remove_tree(path), 0);
    ck_assert(!build_path_exists(path));
    ck_assert_int_eq(build_remove_tree(path), 0);
    rm_tree(dir);
}
END_TEST

START_TEST(test_mount_points_from_mountinfo)
{
    char *dir = make_tmpdir();
    put(dir, "mountinfo",
        "22 1 0:21 / / rw,relatime - overlay overlay rw\n"
        "23 22 0:5 / /proc rw - proc proc rw\n"
        "24 22 0:6 / /dev rw - tmpfs tmpfs rw\n"
        "25 22 8:1 /vol/x /s2i/work rw - ext4 /dev/sda1 rw\n"
        "26 22 8:1 /vol/y /with\\040space rw - ext4 /dev/sda1 rw\n"
        "27 22 0:5 / /proc rw - proc proc rw\n",
        0644);
    char path[4096];
    SNPRINTF(path, sizeof(path), "%s/mountinfo", dir);
    char **m = build_mount_points(path);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(build_strv_len(m), 4);
    ck_assert_str_eq(m[0], "/proc");
    ck_assert_str_eq(m[1], "/dev");
    ck_assert_str_eq(m[2], "/s2i/work");
    ck_assert_str_eq(m[3], "/with space");
    build_strv_free(m);
    SNPRINTF(path, sizeof(path), "%s/none", dir);
    ck_assert_ptr_null(build_mount_points(path));
    /* The snapshot of a pod leaves out the fixed paths and every mount. */
    char **ex = build_snapshot_excludes();
    ck_assert_ptr_nonnull(ex);
    bool proc = false, secrets = false;
    for (char **e = ex; *e; e++) {
        proc |= strcmp(*e, "/proc") == 0;
        secrets |= strcmp(*e, "/var/run/secrets") == 0;
    }
    ck_assert(proc && secrets);
    build_strv_free(ex);
    rm_tree(dir);
}
END_TEST

START_TEST(test_commands_environment_and_exit_codes)
{
    char *base[] = {"PATH=/usr/bin:/bin", "A=1", "SECRET=x", "B=2", NULL};
    char *over[] = {"B=3", "C=4", "SECRET=given", NULL};
    const char *unset[] = {"SECRET", NULL};
    char **env = build_env_merge(base, over, unset);
    /* The inherited SECRET is dropped, an override of it is not. */
    ck_assert_uint_eq(build_strv_len(env), 5);
    ck_assert_str_eq(env[0], "PATH=/usr/bin:/bin");
    ck_assert_str_eq(env[1], "A=1");
    ck_assert_str_eq(env[2], "B=3");
    ck_assert_str_eq(env[3], "C=4");
    ck_assert_str_eq(env[4], "SECRET=given");
    build_strv_free(env);
    char *plain[] = {"B=3", "C=4", NULL};
    env = build_env_merge(base, plain, unset);
    const char *argv[] = {"/bin/sh", "-c", "echo \"$A-$B-$C-${SECRET:-none}\"; pwd", NULL};
    build_cmd_t cmd = {.argv = argv, .env = env, .cwd = "/tmp", .capture = true};
    char *out = NULL;
    ck_assert_int_eq(build_cmd_run(&cmd, &out), 0);
    ck_assert_str_eq(out, "1-3-4-none\n/tmp");
    free(out);
    const char *fail[] = {"/bin/sh", "-c", "exit 7", NULL};
    build_cmd_t f = {.argv = fail, .env = env};
    ck_assert_int_eq(build_cmd_run(&f, NULL), 7);
    const char *killed[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    build_cmd_t k = {.argv = killed, .env = env};
    ck_assert_int_eq(build_cmd_run(&k, NULL), 128 + 15);
    const char *missing[] = {"/nonexistent/assemble", NULL};
    build_cmd_t m = {.argv = missing, .env = env, .quiet_stderr = true};
    ck_assert_int_eq(build_cmd_run(&m, NULL), 127);
    /* A script without #! runs with /bin/sh, as S2I runs scripts. */
    char *dir = make_tmpdir();
    put(dir, "assemble", "echo no shebang\n", 0755);
    char script[4096];
    SNPRINTF(script, sizeof(script), "%s/assemble", dir);
    const char *noshebang[] = {script, NULL};
    build_cmd_t s = {.argv = noshebang, .env = env, .capture = true};
    ck_assert_int_eq(build_cmd_run(&s, &out), 0);
    ck_assert_str_eq(out, "no shebang");
    free(out);
    /* The assemble wrapper names the script and its code. */
    put(dir, "failing", "#!/bin/sh\nexit 3\n", 0755);
    SNPRINTF(script, sizeof(script), "%s/failing", dir);
    build_error_t e = BUILD_ERROR_INIT;
    ck_assert_int_eq(build_run_script(script, env, &e), BUILD_ERR_ASSEMBLE);
    ck_assert_str_eq(e.message, "failing exited with code 3");
    build_error_clear(&e);
    build_strv_free(env);
    rm_tree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("build");
    TCase *model = tcase_create("model");
    tcase_add_test(model, test_config_parses_the_operator_document);
    tcase_add_test(model, test_scripts_url_forms);
    tcase_add_test(model, test_auth_registries_of_docker_configs);
    tcase_add_test(model, test_urls_lose_their_credentials);
    tcase_add_test(model, test_success_message_has_what_the_operator_reads);
    tcase_add_test(model, test_failure_message_is_one_line);
    suite_add_tcase(s, model);
    TCase *fs = tcase_create("fs");
    tcase_set_timeout(fs, 60);
    tcase_add_test(fs, test_config_defaults_and_errors);
    tcase_add_test(fs, test_scripts_found_in_s2i_order_and_injected);
    tcase_add_test(fs, test_auth_from_secret_directories);
    tcase_add_test(fs, test_output_image_without_registry_goes_to_the_push_secret_registry);
    tcase_add_test(fs, test_git_helpers);
    tcase_add_test(fs, test_termination_log_and_source_info_files);
    tcase_add_test(fs, test_artifacts_export_then_layer_and_install);
    tcase_add_test(fs, test_copy_tree_keeps_modes_links_and_skips_excluded);
    tcase_add_test(fs, test_mount_points_from_mountinfo);
    tcase_add_test(fs, test_commands_environment_and_exit_codes);
    suite_add_tcase(s, fs);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
