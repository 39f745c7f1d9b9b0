/*
 * s2i-builder: the program of the build Job's pod, and the image tool of `make`.
 *
 *   s2i-builder prepare|build|runtime   a step of a build (pkg/build/build.h); the
 *                                       configuration is $S2I_CONFIG_PATH
 *                                       (/etc/s2i/config.json), the result goes to
 *                                       /dev/termination-log
 *   s2i-builder image push-rootfs ...   directories become an image in a registry
 *   s2i-builder version
 * Run by git as its GIT_ASKPASS (with S2I_GIT_ASKPASS_DIR set) it answers the prompt.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "util/util.h"

#define MAX_LIST 64

static void usage(FILE *out)
{
    fprintf(out, "Usage: s2i-builder prepare|build|runtime [flags]\n"
                 "       s2i-builder image push-rootfs --to REF --layer DIR[:UID:GID]... [flags]\n"
                 "       s2i-builder version\n"
                 "\n"
                 "Step flags (defaults: the build pod's layout):\n"
                 "  --config PATH           build configuration ($S2I_CONFIG_PATH, "
                 "/etc/s2i/config.json)\n"
                 "  --tools DIR             where prepare copies the bundle (/s2i/tools)\n"
                 "  --source DIR            where prepare fetches the source (/s2i/source)\n"
                 "  --work DIR              files handed between steps (/s2i/work)\n"
                 "  --termination-log PATH  the result (/dev/termination-log)\n"
                 "  --bundle DIR            the bundle prepare copies (default: the program's "
                 "directory)\n"
                 "  -v N                    log verbosity\n"
                 "\n"
                 "push-rootfs flags:\n"
                 "  --to REF                the image to push\n"
                 "  --layer DIR[:UID:GID]   a directory's content as one layer, owners forced when "
                 "given (repeatable)\n"
                 "  --cmd ARG, --entrypoint ARG   Cmd / Entrypoint elements (repeatable)\n"
                 "  --env K=V, --label K=V  config Env / Labels (repeatable)\n"
                 "  --user USER, --workdir DIR\n"
                 "  --docker                Docker v2 schema 2 manifest (default OCI)\n"
                 "  --authfile PATH         docker config.json with the registry's credentials\n"
                 "  --insecure HOST:PORT    plain HTTP registry (repeatable)\n"
                 "  --work DIR              directory for layer files (default /tmp)\n"
                 "  --digest-file PATH      write the manifest digest there\n");
}

static int step_main(const char *step, int argc, char **argv)
{
    build_paths_t paths;
    build_paths_default(&paths);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"tools", required_argument, NULL, 't'},
        {"source", required_argument, NULL, 's'},
        {"work", required_argument, NULL, 'w'},
        {"termination-log", required_argument, NULL, 'l'},
        {"bundle", required_argument, NULL, 'b'},
        {"v", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            paths.config = optarg;
            break;
        case 't':
            paths.tools = optarg;
            break;
        case 's':
            paths.source = optarg;
            break;
        case 'w':
            paths.work = optarg;
            break;
        case 'l':
            paths.termination_log = optarg;
            break;
        case 'b':
            paths.bundle = optarg;
            break;
        case 'v':
            log_set_verbosity(atoi(optarg[0] == '=' ? optarg + 1 : optarg));
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    build_error_t error = BUILD_ERROR_INIT;
    build_result_t result;
    memset(&result, 0, sizeof(result));
    build_config_t *cfg = NULL;
    char *err = NULL;
    if (build_config_load(paths.config, &cfg, &err) < 0) {
        build_error_set(&error, BUILD_ERR_INVALID_CONFIG, "%s", err ? err : "out of memory");
        free(err);
    } else if (strcmp(step, "prepare") == 0) {
        build_prepare(&paths, cfg, &error);
    } else if (strcmp(step, "build") == 0) {
        build_build(&paths, cfg, &result, &error);
    } else {
        build_runtime(&paths, cfg, &result, &error);
    }
    int rc = 0;
    char *message = NULL;
    if (error.err != BUILD_OK) {
        message = build_failure_message(&error);
        log_error("build step failed", "step", step, "reason", build_err_reason(error.err),
                  "message", error.message, NULL);
        rc = 1;
    } else if (result.image_id) {
        message = build_result_message(&result);
    }
    if (message)
        build_termination_write(paths.termination_log, message);
    free(message);
    build_result_clear(&result);
    build_error_clear(&error);
    build_config_free(cfg);
    return rc;
}

/* "DIR", "DIR:UID:GID" */
static int parse_layer(const char *arg, build_rootfs_layer_t *out)
{
    out->dir = arg;
    out->uid = -1;
    out->gid = -1;
    const char *last = strrchr(arg, ':');
    if (!last)
        return 0;
    const char *first = memrchr(arg, ':', (size_t)(last - arg));
    if (!first)
        return -1;
    char *end = NULL;
    out->uid = strtoll(first + 1, &end, 10);
    if (end != last)
        return -1;
    out->gid = strtoll(last + 1, &end, 10);
    if (*end || out->uid < 0 || out->gid < 0)
        return -1;
    char *dir = util_asprintf("%.*s", (int)(first - arg), arg);
    out->dir = dir;
    return dir ? 1 : -1;
}

static int push_list(const char **list, size_t *n, const char *value)
{
    if (*n >= MAX_LIST)
        return -1;
    list[(*n)++] = value;
    list[*n] = NULL;
    return 0;
}

static int push_rootfs_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 'T'},
        {"layer", required_argument, NULL, 'L'},
        {"cmd", required_argument, NULL, 'C'},
        {"entrypoint", required_argument, NULL, 'E'},
        {"env", required_argument, NULL, 'e'},
        {"label", required_argument, NULL, 'l'},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'W'},
        {"docker", no_argument, NULL, 'D'},
        {"authfile", required_argument, NULL, 'a'},
        {"insecure", required_argument, NULL, 'i'},
        {"work", required_argument, NULL, 'w'},
        {"digest-file", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    build_rootfs_layer_t layers[MAX_LIST];
    bool owned[MAX_LIST] = {false};
    const char *cmd[MAX_LIST + 1] = {NULL}, *entry[MAX_LIST + 1] = {NULL};
    const char *env[MAX_LIST + 1] = {NULL}, *labels[MAX_LIST + 1] = {NULL};
    const char *insecure[MAX_LIST + 1] = {NULL};
    size_t ncmd = 0, nentry = 0, nenv = 0, nlabels = 0, ninsecure = 0;
    build_rootfs_options_t o = {.layers = layers, .work = "/tmp"};
    const char *digest_file = NULL;
    int c, rc = 2;
    bool bad = false;
    optind = 1;
    while (!bad && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'T':
            o.to = optarg;
            break;
        case 'L': {
            int lr = o.layers_len < MAX_LIST ? parse_layer(optarg, &layers[o.layers_len]) : -1;
            if (lr < 0) {
                fprintf(stderr, "s2i-builder: --layer %s: expected DIR or DIR:UID:GID\n", optarg);
                bad = true;
            } else {
                owned[o.layers_len++] = lr == 1;
            }
            break;
        }
        case 'C':
            bad = push_list(cmd, &ncmd, optarg) < 0;
            o.cmd = cmd;
            break;
        case 'E':
            bad = push_list(entry, &nentry, optarg) < 0;
            o.entrypoint = entry;
            break;
        case 'e':
            bad = push_list(env, &nenv, optarg) < 0;
            o.env = env;
            break;
        case 'l':
            bad = push_list(labels, &nlabels, optarg) < 0;
            o.labels = labels;
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'W':
            o.workdir = optarg;
            break;
        case 'D':
            o.manifest_type = "application/vnd.docker.distribution.manifest.v2+json";
            break;
        case 'a':
            o.authfile = optarg;
            break;
        case 'i':
            bad = push_list(insecure, &ninsecure, optarg) < 0;
            o.insecure = insecure;
            break;
        case 'w':
            o.work = optarg;
            break;
        case 'd':
            digest_file = optarg;
            break;
        default:
            bad = true;
        }
    }
    if (bad || !o.to || o.layers_len == 0 || optind != argc) {
        usage(stderr);
        goto out;
    }
    char *err = NULL;
    if (build_push_rootfs(&o, &err) < 0) {
        fprintf(stderr, "s2i-builder: push-rootfs %s: %s\n", o.to, err ? err : "out of memory");
        free(err);
        rc = 1;
        goto out;
    }
    printf("%s\n", o.digest);
    rc = 0;
    if (digest_file) {
        FILE *f = fopen(digest_file, "we");
        if (!f || fprintf(f, "%s\n", o.digest) < 0 || fclose(f) != 0) {
            perror(digest_file);
            rc = 1;
        }
    }
out:
    for (size_t i = 0; i < o.layers_len; i++)
        if (owned[i])
            free((char *)layers[i].dir);
    return rc;
}

static int askpass_main(const char *dir, const char *prompt)
{
    char *answer = NULL;
    if (build_askpass(dir, prompt, &answer) < 0)
        return 1;
    printf("%s\n", answer);
    free(answer);
    return 0;
}

int main(int argc, char **argv)
{
    const char *askpass = getenv("S2I_GIT_ASKPASS_DIR");
    if (askpass && *askpass && argc == 2 &&
        (util_has_prefix(argv[1], "Username") || util_has_prefix(argv[1], "Password")))
        return askpass_main(askpass, argv[1]);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "prepare") == 0 || strcmp(cmd, "build") == 0 || strcmp(cmd, "runtime") == 0)
        return step_main(cmd, argc - 1, argv + 1);
    if (strcmp(cmd, "image") == 0 && argc >= 3 && strcmp(argv[2], "push-rootfs") == 0)
        return push_rootfs_main(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0) {
        printf("s2i-builder %s\n", S2I_VERSION);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
