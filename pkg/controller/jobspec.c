/*
 * jobspec: from (run, builder, template) to the build configuration and the Job.
 * The contract with s2i-builder is in jobspec.h.
 */
#include "controller/jobspec.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/jpath.h"
#include "util/util.h"

static const char *const AUTH_KINDS[][2] = {
    {"pushAuthentication", "push"},
    {"pullAuthentication", "pull"},
    {"runtimeAuthentication", "runtime"},
    {"incrementalAuthentication", "incremental"},
};

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Copies at most max bytes of s, then drops trailing characters a name may not end
 * with, so a cut never leaves "-" or "." at the end. */
static size_t cut(char *out, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        n = max;
    memcpy(out, s, n);
    while (n > 0 && !isalnum((unsigned char)out[n - 1]))
        n--;
    out[n] = '\0';
    return n;
}

void jobspec_run_label(const char *run_name, char out[static 64])
{
    if (strlen(run_name) <= 63) {
        snprintf(out, 64, "%.63s", run_name);
        return;
    }
    char head[64];
    cut(head, run_name, 54);
    snprintf(out, 64, "%.54s-%08x", head, fnv1a(run_name));
}

void jobspec_job_name(const char *run_name, const char *run_uid, char out[static 64])
{
    const char *tail = strrchr(run_uid ? run_uid : "", '-');
    tail = tail ? tail + 1 : (run_uid ? run_uid : "");
    char tail12[13];
    snprintf(tail12, sizeof tail12, "%.12s", tail);
    /* "<run>-<tail>-job": room for the run part is 63 - len(tail) - 5. */
    size_t room = 63 - strlen(tail12) - 5;
    char full[128];
    if (strlen(run_name) <= room) {
        snprintf(full, sizeof full, "%.63s-%s-job", run_name, tail12);
    } else {
        char head[64];
        cut(head, run_name, room - 9);
        snprintf(full, sizeof full, "%.63s-%08x-%s-job", head, fnv1a(run_name), tail12);
    }
    snprintf(out, 64, "%.63s", full);
}

/* Go's time.ParseDuration without a sign, as the CRD pattern admits it: one or more
 * "<number><unit>", the number with an optional fraction ("1.5h", ".5m", "2.m"), units
 * h, m, s, ms, us, ns. Like Go, the fraction is applied in floating point and truncated
 * to nanoseconds, and more than 2^63 ns is an error. */
static const struct {
    const char *name;
    uint64_t ns;
} DURATION_UNITS[] = {
    {"ns", 1ULL},         {"us", 1000ULL},       {"ms", 1000000ULL},
    {"s", 1000000000ULL}, {"m", 60000000000ULL}, {"h", 3600000000000ULL},
};

long jobspec_parse_duration(const char *s)
{
    const uint64_t limit = 1ULL << 63;
    if (!s || !*s)
        return -1;
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        uint64_t whole = 0, fraction = 0;
        long double scale = 1;
        bool digits = false;
        for (; isdigit((unsigned char)*p); p++, digits = true) {
            if (whole > (limit - 9) / 10)
                return -1;
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            for (p++; isdigit((unsigned char)*p); p++, digits = true) {
                /* Digits beyond what fits change nothing at nanosecond precision. */
                if (fraction > (limit - 9) / 10)
                    continue;
                fraction = fraction * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
        if (!digits)
            return -1;
        uint64_t unit = 0;
        size_t unit_len = 0;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(DURATION_UNITS); i++) {
            size_t n = strlen(DURATION_UNITS[i].name);
            if (strncmp(p, DURATION_UNITS[i].name, n) == 0 && n > unit_len) {
                unit = DURATION_UNITS[i].ns;
                unit_len = n;
            }
        }
        if (!unit)
            return -1;
        p += unit_len;
        if (whole > limit / unit)
            return -1;
        uint64_t ns = whole * unit;
        if (fraction > 0)
            ns += (uint64_t)((long double)fraction * (long double)unit / scale);
        if (ns > limit || total > limit - ns)
            return -1;
        total += ns;
    }
    /* Whole seconds, rounded up: a positive timeout never becomes "none". */
    return (long)((total + 999999999ULL) / 1000000000ULL);
}

static json_object *env_entry(const char *name, const char *value)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "name", json_object_new_string(name));
    json_object_object_add(e, "value", json_object_new_string(value));
    return e;
}

/* Template parameters become environment variables: {key, value || defaultValue},
 * skipped when both are empty (upstream Parameter.ToEnvironment). */
static void append_parameters(json_object *config, json_object *params)
{
    if (!params || !json_object_is_type(params, json_type_array))
        return;
    json_object *env = jpath(config, "environment");
    if (!env || !json_object_is_type(env, json_type_array)) {
        env = json_object_new_array();
        json_object_object_add(config, "environment", env);
    }
    size_t n = json_object_array_length(params);
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(params, i);
        const char *key = jpath_str(p, "key");
        const char *value = jpath_str_or(p, "value", jpath_str_or(p, "defaultValue", NULL));
        if (key && *key && value)
            json_object_array_add(env, env_entry(key, value));
    }
}

/* Inline registry passwords are not carried into the Job (anyone who can read Jobs
 * would see them); only secretRef credentials reach a build. */
static bool strip_inline_passwords(json_object *config)
{
    bool stripped = false;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(AUTH_KINDS); i++) {
        json_object *auth = jpath(config, AUTH_KINDS[i][0]);
        if (auth && jpath_str_or(auth, "password", NULL)) {
            json_object_object_del(auth, "password");
            stripped = true;
        }
    }
    return stripped;
}

json_object *jobspec_build_config(json_object *run, json_object *builder, json_object *tmpl,
                                  const jobspec_options_t *opts, char **err, char **warning)
{
    *err = NULL;
    if (warning)
        *warning = NULL;
    json_object *src = jpath(builder, "spec.config");
    if (!src || !json_object_is_type(src, json_type_object)) {
        *err = util_strdup("the builder has no spec.config");
        return NULL;
    }
    const char *image_name = jpath_str_or(src, "imageName", NULL);
    if (!image_name) {
        *err = util_strdup("Required value not specified for \"imageName\"");
        return NULL;
    }
    json_object *config = jpath_copy(src);
    if (!config) {
        *err = util_strdup("out of memory");
        return NULL;
    }
    json_object *from = jpath(builder, "spec.fromTemplate");
    if (from && jpath_str_or(from, "name", NULL)) {
        if (!tmpl) {
            *err = util_asprintf("S2iBuilderTemplate \"%s\" not found", jpath_str(from, "name"));
            json_object_put(config);
            return NULL;
        }
        const char *img =
            jpath_str_or(from, "builderImage", jpath_str_or(tmpl, "spec.defaultBaseImage", NULL));
        if (img)
            jpath_set_str(config, "builderImage", img);
        append_parameters(config, jpath(from, "parameters"));
    }
    if (!jpath_str_or(config, "builderImage", NULL)) {
        *err = util_strdup("Required value not specified for \"builderImage\"");
        json_object_put(config);
        return NULL;
    }
    /* Copies: setting a key frees the string it held. */
    char *tag =
        util_strdup(jpath_str_or(run, "spec.newTag", jpath_str_or(config, "tag", "latest")));
    char *revision = util_strdup(
        jpath_str_or(run, "spec.newRevisionId", jpath_str_or(config, "revisionId", "master")));
    char *source =
        util_strdup(jpath_str_or(run, "spec.newSourceURL", jpath_str_or(config, "sourceUrl", "")));
    if (!tag || !revision || !source) {
        free(tag);
        free(revision);
        free(source);
        json_object_put(config);
        *err = util_strdup("out of memory");
        return NULL;
    }
    jpath_set_str(config, "tag", tag);
    jpath_set_str(config, "revisionId", revision);
    jpath_set_str(config, "sourceUrl", source);
    /* The trigger secret is the builder's business, not the build's. */
    json_object_object_del(config, "secretCode");
    if (strip_inline_passwords(config) && warning)
        *warning = util_strdup("inline registry passwords in spec.config are not passed to builds: "
                               "reference a Secret with secretRef instead");

    json_object *out = json_object_new_object();
    json_object *runinfo = json_object_new_object();
    json_object_object_add(out, "kind", json_object_new_string("S2iBuildConfig"));
    json_object_object_add(out, "version", json_object_new_int(1));
    json_object_object_add(runinfo, "namespace",
                           json_object_new_string(jpath_str_or(run, "metadata.namespace", "")));
    json_object_object_add(runinfo, "name",
                           json_object_new_string(jpath_str_or(run, "metadata.name", "")));
    json_object_object_add(runinfo, "uid",
                           json_object_new_string(jpath_str_or(run, "metadata.uid", "")));
    json_object_object_add(runinfo, "builder",
                           json_object_new_string(jpath_str_or(run, "spec.builderName", "")));
    json_object_object_add(out, "run", runinfo);
    char *image = util_asprintf("%s:%s", image_name, tag);
    json_object_object_add(out, "outputImage", json_object_new_string(image ? image : ""));
    free(image);
    json_object_object_add(out, "sourceUrl", json_object_new_string(source));
    json_object_object_add(out, "revisionId", json_object_new_string(revision));
    free(tag);
    free(revision);
    free(source);
    json_object *secrets = json_object_new_object();
    for (size_t i = 0; i < UTIL_ARRAY_LEN(AUTH_KINDS); i++) {
        if (jpath_str_or(jpath(config, AUTH_KINDS[i][0]), "secretRef.name", NULL)) {
            char *dir = util_asprintf("%s/%s", S2I_SECRETS_DIR, AUTH_KINDS[i][1]);
            json_object_object_add(secrets, AUTH_KINDS[i][1],
                                   json_object_new_string(dir ? dir : ""));
            free(dir);
        }
    }
    if (jpath_str_or(config, "gitSecretRef.name", NULL))
        json_object_object_add(secrets, "git", json_object_new_string(S2I_SECRETS_DIR "/git"));
    json_object_object_add(out, "secrets", secrets);
    json_object *insecure = json_object_new_array();
    for (const char *const *r = opts ? opts->insecure_registries : NULL; r && *r; r++)
        json_object_array_add(insecure, json_object_new_string(*r));
    json_object_object_add(out, "insecureRegistries", insecure);
    json_object_object_add(out, "config", config);
    return out;
}

/* ---- the Job ---------------------------------------------------------------------- */

static json_object *str_array(const char *const *items)
{
    json_object *a = json_object_new_array();
    for (; *items; items++)
        json_object_array_add(a, json_object_new_string(*items));
    return a;
}

static json_object *mount(const char *name, const char *path, bool read_only)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "name", json_object_new_string(name));
    json_object_object_add(m, "mountPath", json_object_new_string(path));
    if (read_only)
        json_object_object_add(m, "readOnly", json_object_new_boolean(true));
    return m;
}

static json_object *empty_dir(const char *name)
{
    json_object *v = json_object_new_object();
    json_object_object_add(v, "name", json_object_new_string(name));
    json_object_object_add(v, "emptyDir", json_object_new_object());
    return v;
}

static json_object *field_env(const char *name, const char *path)
{
    json_object *e = json_object_new_object();
    json_object *from = json_object_new_object();
    json_object *ref = json_object_new_object();
    json_object_object_add(ref, "fieldPath", json_object_new_string(path));
    json_object_object_add(from, "fieldRef", ref);
    json_object_object_add(e, "name", json_object_new_string(name));
    json_object_object_add(e, "valueFrom", from);
    return e;
}

typedef struct step {
    const char *name;
    const char *image;
    const char *pull_policy; /* NULL: the server's default */
    const char *const *argv; /* NULL-terminated; the last element is the step's name */
    const char *command;     /* S2I_STEP */
    bool tools_read_only;
    long run_as_user; /* 0: the image's user */
} step_t;

/* The prepare image has s2i-builder installed; the builder and runtime images are anyone's,
 * so their steps run the self-contained bundle prepare copied to /s2i/tools through its own
 * dynamic loader (pkg/build/build.h, hack/bundle.sh): no library of the image is used. */
static const char *const PREPARE_ARGV[] = {"/usr/local/bin/s2i-builder", "prepare", NULL};
static const char *const BUILD_ARGV[] = {"/s2i/tools/ld.so",
                                         "--inhibit-cache",
                                         "--library-path",
                                         "/s2i/tools/lib",
                                         "/s2i/tools/s2i-builder",
                                         "build",
                                         NULL};
static const char *const RUNTIME_ARGV[] = {"/s2i/tools/ld.so",
                                           "--inhibit-cache",
                                           "--library-path",
                                           "/s2i/tools/lib",
                                           "/s2i/tools/s2i-builder",
                                           "runtime",
                                           NULL};

static json_object *container(const step_t *s, json_object *secret_mounts, json_object *resources)
{
    json_object *c = json_object_new_object();
    json_object_object_add(c, "name", json_object_new_string(s->name));
    json_object_object_add(c, "image", json_object_new_string(s->image));
    if (s->pull_policy)
        json_object_object_add(c, "imagePullPolicy", json_object_new_string(s->pull_policy));
    json_object_object_add(c, "command", str_array(s->argv));
    json_object *env = json_object_new_array();
    json_object_array_add(env, env_entry("S2I_CONFIG_PATH", S2I_CONFIG_DIR "/config.json"));
    json_object_array_add(env, env_entry("S2I_STEP", s->command));
    json_object_array_add(env, field_env("POD_NAME", "metadata.name"));
    json_object_array_add(env, field_env("POD_NAMESPACE", "metadata.namespace"));
    json_object_object_add(c, "env", env);
    json_object *mounts = json_object_new_array();
    json_object_array_add(mounts, mount("s2i-config", S2I_CONFIG_DIR, true));
    json_object_array_add(mounts, mount("s2i-tools", "/s2i/tools", s->tools_read_only));
    json_object_array_add(mounts, mount("s2i-source", "/s2i/source", false));
    json_object_array_add(mounts, mount("s2i-work", "/s2i/work", false));
    size_t n = json_object_array_length(secret_mounts);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(mounts, json_object_get(json_object_array_get_idx(secret_mounts, i)));
    json_object_object_add(c, "volumeMounts", mounts);
    json_object_object_add(c, "terminationMessagePolicy",
                           json_object_new_string("FallbackToLogsOnError"));
    json_object *sc = json_object_new_object();
    json_object_object_add(sc, "allowPrivilegeEscalation", json_object_new_boolean(false));
    json_object_object_add(sc, "privileged", json_object_new_boolean(false));
    if (s->run_as_user > 0) {
        json_object_object_add(sc, "runAsNonRoot", json_object_new_boolean(true));
        json_object_object_add(sc, "runAsUser", json_object_new_int64(s->run_as_user));
    }
    json_object_object_add(c, "securityContext", sc);
    if (resources)
        json_object_object_add(c, "resources", json_object_get(resources));
    return c;
}

static json_object *secret_volume(const char *volume, const char *secret)
{
    json_object *v = json_object_new_object();
    json_object *s = json_object_new_object();
    json_object_object_add(s, "secretName", json_object_new_string(secret));
    json_object_object_add(s, "defaultMode", json_object_new_int(0444));
    json_object_object_add(v, "name", json_object_new_string(volume));
    json_object_object_add(v, "secret", s);
    return v;
}

/* pullAuthentication is for the builder image and runtimeAuthentication for the runtime
 * image. Here the kubelet pulls both (they are the images of the build and runtime
 * containers), so their Secrets are the pod's imagePullSecrets; they stay mounted too. */
static void add_image_pull_secrets(json_object *pod_spec, json_object *config)
{
    const char *pull = jpath_str_or(config, "pullAuthentication.secretRef.name", NULL);
    const char *runtime = jpath_str_or(config, "runtimeAuthentication.secretRef.name", NULL);
    if (!pull && !runtime)
        return;
    json_object *list = json_object_new_array();
    const char *names[] = {pull, runtime && !util_streq(runtime, pull) ? runtime : NULL};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        if (!names[i])
            continue;
        json_object *ref = json_object_new_object();
        json_object_object_add(ref, "name", json_object_new_string(names[i]));
        json_object_array_add(list, ref);
    }
    json_object_object_add(pod_spec, "imagePullSecrets", list);
}

/* Upstream's cgroupLimits, expressed as Kubernetes limits (memory bytes, CPU from the
 * CFS quota/period) instead of docker run options. NULL when none is set. */
static json_object *resources_from_cgroup(json_object *config)
{
    long long mem = jpath_int(config, "cgroupLimits.memoryLimitBytes", 0);
    long long quota = jpath_int(config, "cgroupLimits.cpuQuota", 0);
    long long period = jpath_int(config, "cgroupLimits.cpuPeriod", 0);
    if (mem <= 0 && (quota <= 0 || period <= 0))
        return NULL;
    json_object *limits = json_object_new_object();
    char buf[64];
    if (mem > 0) {
        snprintf(buf, sizeof buf, "%lld", mem);
        json_object_object_add(limits, "memory", json_object_new_string(buf));
    }
    if (quota > 0 && period > 0) {
        snprintf(buf, sizeof buf, "%lldm", quota * 1000 / period);
        json_object_object_add(limits, "cpu", json_object_new_string(buf));
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "limits", limits);
    return r;
}

static const char *pull_policy(const char *s2i_policy)
{
    if (!s2i_policy)
        return NULL;
    if (strcmp(s2i_policy, "always") == 0)
        return "Always";
    if (strcmp(s2i_policy, "never") == 0)
        return "Never";
    if (strcmp(s2i_policy, "if-not-present") == 0)
        return "IfNotPresent";
    return NULL;
}

/* Upstream schedules builds on CI nodes when there are some: tolerate their taint and
 * prefer them, without requiring them. */
static void add_placement(json_object *pod_spec, json_object *config)
{
    const char *taint = jpath_str_or(config, "taintKey", "node.kubernetes.io/ci");
    json_object *tolerations = json_object_new_array();
    const char *effects[] = {"NoSchedule", "PreferNoSchedule"};
    for (size_t i = 0; i < 2; i++) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "key", json_object_new_string(taint));
        json_object_object_add(t, "operator", json_object_new_string("Exists"));
        json_object_object_add(t, "effect", json_object_new_string(effects[i]));
        json_object_array_add(tolerations, t);
    }
    json_object_object_add(pod_spec, "tolerations", tolerations);
    json_object *values = jpath(config, "nodeAffinityValues");
    json_object *expr = json_object_new_object();
    json_object_object_add(expr, "key",
                           json_object_new_string(jpath_str_or(config, "nodeAffinityKey",
                                                               "node-role.kubernetes.io/worker")));
    json_object_object_add(expr, "operator", json_object_new_string("In"));
    if (values && json_object_is_type(values, json_type_array) &&
        json_object_array_length(values) > 0) {
        json_object_object_add(expr, "values", jpath_copy(values));
    } else {
        const char *ci[] = {"ci", NULL};
        json_object_object_add(expr, "values", str_array(ci));
    }
    json_object *exprs = json_object_new_array();
    json_object_array_add(exprs, expr);
    json_object *pref = json_object_new_object();
    json_object *term = json_object_new_object();
    json_object_object_add(term, "matchExpressions", exprs);
    json_object_object_add(pref, "weight", json_object_new_int(1));
    json_object_object_add(pref, "preference", term);
    json_object *prefs = json_object_new_array();
    json_object_array_add(prefs, pref);
    json_object *na = json_object_new_object();
    json_object_object_add(na, "preferredDuringSchedulingIgnoredDuringExecution", prefs);
    json_object *aff = json_object_new_object();
    json_object_object_add(aff, "nodeAffinity", na);
    json_object_object_add(pod_spec, "affinity", aff);
}

json_object *jobspec_job(json_object *run, json_object *build, const jobspec_options_t *opts)
{
    json_object *config = jpath(build, "config");
    const char *run_name = jpath_str_or(run, "metadata.name", "");
    const char *run_uid = jpath_str_or(run, "metadata.uid", "");
    char job_name[64], run_label[64];
    jobspec_job_name(run_name, run_uid, job_name);
    jobspec_run_label(run_name, run_label);

    json_object *job = json_object_new_object();
    json_object_object_add(job, "apiVersion", json_object_new_string("batch/v1"));
    json_object_object_add(job, "kind", json_object_new_string("Job"));
    json_object *md = json_object_new_object();
    json_object_object_add(md, "name", json_object_new_string(job_name));
    json_object_object_add(md, "namespace",
                           json_object_new_string(jpath_str_or(run, "metadata.namespace", "")));
    json_object *labels = json_object_new_object();
    json_object_object_add(labels, S2I_LABEL_RUN, json_object_new_string(run_label));
    json_object_object_add(labels, "app.kubernetes.io/managed-by",
                           json_object_new_string("s2i-operator"));
    json_object_object_add(md, "labels", labels);
    char *desc = util_asprintf("image %s 's build job, s2iName %s",
                               jpath_str_or(build, "outputImage", ""), run_name);
    json_object *ann = json_object_new_object();
    json_object_object_add(ann, "desc", json_object_new_string(desc ? desc : ""));
    free(desc);
    json_object_object_add(md, "annotations", ann);
    json_object *owner = json_object_new_object();
    json_object_object_add(owner, "apiVersion",
                           json_object_new_string("devops.kubesphere.io/v1alpha1"));
    json_object_object_add(owner, "kind", json_object_new_string("S2iRun"));
    json_object_object_add(owner, "name", json_object_new_string(run_name));
    json_object_object_add(owner, "uid", json_object_new_string(run_uid));
    json_object_object_add(owner, "controller", json_object_new_boolean(true));
    json_object_object_add(owner, "blockOwnerDeletion", json_object_new_boolean(true));
    json_object *owners = json_object_new_array();
    json_object_array_add(owners, owner);
    json_object_object_add(md, "ownerReferences", owners);
    json_object_object_add(job, "metadata", md);

    json_object *spec = json_object_new_object();
    json_object_object_add(spec, "backoffLimit",
                           json_object_new_int((int)jpath_int(run, "spec.backoffLimit", 0)));
    long timeout = jobspec_parse_duration(jpath_str(run, "spec.timeout"));
    if (timeout <= 0)
        timeout = opts && opts->default_timeout > 0 ? opts->default_timeout : 3600;
    /* The operator enforces both deadlines (the build timeout counts from the start of
     * the build, not the Job's): the Job's own deadline is the backstop for when the
     * operator is away, so it covers the longest a run may legitimately last. */
    long pending = jobspec_parse_duration(jpath_str(run, "spec.pendingTimeout"));
    if (pending <= 0)
        pending = jobspec_parse_duration(jpath_str(config, "pendingTimeout"));
    if (pending <= 0)
        pending = opts ? opts->pending_timeout : 0;
    json_object_object_add(spec, "activeDeadlineSeconds",
                           json_object_new_int64(timeout + (pending > 0 ? pending : 0)));
    long ttl = (long)jpath_int(run, "spec.secondsAfterFinished", 0);
    if (ttl > 0)
        json_object_object_add(spec, "ttlSecondsAfterFinished", json_object_new_int64(ttl));

    json_object *tmpl = json_object_new_object();
    json_object *tmd = json_object_new_object();
    json_object *tlabels = json_object_new_object();
    json_object_object_add(tlabels, S2I_LABEL_RUN, json_object_new_string(run_label));
    json_object_object_add(tmd, "labels", tlabels);
    json_object *tann = json_object_new_object();
    json_object_object_add(
        tann, S2I_ANNOTATION_CONFIG,
        json_object_new_string(json_object_to_json_string_ext(build, JSON_C_TO_STRING_PLAIN)));
    json_object_object_add(tmd, "annotations", tann);
    json_object_object_add(tmpl, "metadata", tmd);

    json_object *pod = json_object_new_object();
    json_object_object_add(pod, "restartPolicy", json_object_new_string("Never"));
    json_object_object_add(pod, "automountServiceAccountToken", json_object_new_boolean(false));
    json_object_object_add(pod, "enableServiceLinks", json_object_new_boolean(false));
    json_object *psc = json_object_new_object();
    json_object *seccomp = json_object_new_object();
    json_object_object_add(seccomp, "type", json_object_new_string("RuntimeDefault"));
    json_object_object_add(psc, "seccompProfile", seccomp);
    json_object_object_add(pod, "securityContext", psc);

    json_object *volumes = json_object_new_array();
    json_object *cfgvol = json_object_new_object();
    json_object *dapi = json_object_new_object();
    json_object *items = json_object_new_array();
    json_object *item = json_object_new_object();
    json_object *fref = json_object_new_object();
    json_object_object_add(
        fref, "fieldPath",
        json_object_new_string("metadata.annotations['" S2I_ANNOTATION_CONFIG "']"));
    json_object_object_add(item, "path", json_object_new_string("config.json"));
    json_object_object_add(item, "fieldRef", fref);
    json_object_array_add(items, item);
    json_object_object_add(dapi, "items", items);
    json_object_object_add(cfgvol, "name", json_object_new_string("s2i-config"));
    json_object_object_add(cfgvol, "downwardAPI", dapi);
    json_object_array_add(volumes, cfgvol);
    json_object_array_add(volumes, empty_dir("s2i-tools"));
    json_object_array_add(volumes, empty_dir("s2i-source"));
    json_object_array_add(volumes, empty_dir("s2i-work"));

    json_object *build_mounts = json_object_new_array();
    json_object *prepare_mounts = json_object_new_array();
    for (size_t i = 0; i < UTIL_ARRAY_LEN(AUTH_KINDS); i++) {
        const char *secret = jpath_str_or(jpath(config, AUTH_KINDS[i][0]), "secretRef.name", NULL);
        if (!secret)
            continue;
        char vol[48], dir[96];
        snprintf(vol, sizeof vol, "s2i-%s-secret", AUTH_KINDS[i][1]);
        snprintf(dir, sizeof dir, "%s/%s", S2I_SECRETS_DIR, AUTH_KINDS[i][1]);
        json_object_array_add(volumes, secret_volume(vol, secret));
        json_object_array_add(build_mounts, mount(vol, dir, true));
    }
    const char *git_secret = jpath_str_or(config, "gitSecretRef.name", NULL);
    if (git_secret) {
        json_object_array_add(volumes, secret_volume("s2i-git-secret", git_secret));
        json_object_array_add(prepare_mounts,
                              mount("s2i-git-secret", S2I_SECRETS_DIR "/git", true));
    }
    json_object_object_add(pod, "volumes", volumes);
    add_image_pull_secrets(pod, config);

    json_object *resources = resources_from_cgroup(config);
    const char *runtime_image = jpath_str_or(config, "runtimeImage", NULL);
    step_t prepare = {"prepare",
                      opts && opts->builder_image ? opts->builder_image : "s2i-operator/builder",
                      opts && opts->image_pull_policy ? opts->image_pull_policy : "IfNotPresent",
                      PREPARE_ARGV,
                      "prepare",
                      false,
                      S2I_PREPARE_UID};
    step_t build_step = {"build",
                         jpath_str_or(config, "builderImage", ""),
                         pull_policy(jpath_str(config, "builderPullPolicy")),
                         BUILD_ARGV,
                         "build",
                         true,
                         0};
    step_t runtime_step = {"runtime",
                           runtime_image ? runtime_image : "",
                           pull_policy(jpath_str(config, "runtimeImagePullPolicy")),
                           RUNTIME_ARGV,
                           "runtime",
                           true,
                           0};
    json_object *init = json_object_new_array();
    json_object_array_add(init, container(&prepare, prepare_mounts, NULL));
    json_object *containers = json_object_new_array();
    if (runtime_image) {
        json_object_array_add(init, container(&build_step, build_mounts, resources));
        json_object_array_add(containers, container(&runtime_step, build_mounts, resources));
    } else {
        json_object_array_add(containers, container(&build_step, build_mounts, resources));
    }
    json_object_put(resources);
    json_object_put(build_mounts);
    json_object_put(prepare_mounts);
    json_object_object_add(pod, "initContainers", init);
    json_object_object_add(pod, "containers", containers);
    add_placement(pod, config);
    json_object_object_add(tmpl, "spec", pod);
    json_object_object_add(spec, "template", tmpl);
    json_object_object_add(job, "spec", spec);
    return job;
}
