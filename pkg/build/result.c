/*
 * build/result: what a build reports. The main container's termination message is the
 * operator's only view of the result (controller/jobspec.h): the success JSON, or one
 * line "Reason: message". The source facts prepare learns (commit, committer, binary)
 * travel to the later steps in /s2i/work/source.json.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TERMINATION_MESSAGE_MAX 4096
#define FAILURE_MESSAGE_MAX     1024

void build_source_info_clear(build_source_info_t *s)
{
    if (!s)
        return;
    free(s->source_url);
    free(s->revision_id);
    free(s->commit_id);
    free(s->committer_name);
    free(s->committer_email);
    free(s->commit_date);
    free(s->commit_message);
    free(s->binary_name);
    free(s->context_dir);
    free(s->builder_image);
    free(s->description);
    memset(s, 0, sizeof(*s));
}

void build_result_clear(build_result_t *r)
{
    if (!r)
        return;
    free(r->image_name);
    free(r->image_id);
    free(r->image_created);
    build_strv_free(r->repo_tags);
    free(r->command_pull);
    build_source_info_clear(&r->source);
    memset(r, 0, sizeof(*r));
}

static void add_str(json_object *o, const char *key, const char *value)
{
    if (value && *value)
        json_object_object_add(o, key, json_object_new_string(value));
}

/* The source fields, as both source.json and s2iBuildSource name them. */
static const struct {
    const char *key;
    size_t offset;
} SOURCE_FIELDS[] = {
    {"sourceUrl", offsetof(build_source_info_t, source_url)},
    {"revisionId", offsetof(build_source_info_t, revision_id)},
    {"commitID", offsetof(build_source_info_t, commit_id)},
    {"committerName", offsetof(build_source_info_t, committer_name)},
    {"committerEmail", offsetof(build_source_info_t, committer_email)},
    {"commitDate", offsetof(build_source_info_t, commit_date)},
    {"commitMessage", offsetof(build_source_info_t, commit_message)},
    {"binaryName", offsetof(build_source_info_t, binary_name)},
    {"contextDir", offsetof(build_source_info_t, context_dir)},
    {"builderImage", offsetof(build_source_info_t, builder_image)},
    {"description", offsetof(build_source_info_t, description)},
};

static char **source_field(build_source_info_t *s, size_t i)
{
    return (char **)((char *)s + SOURCE_FIELDS[i].offset);
}

static json_object *source_json(const build_source_info_t *s, bool report)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(SOURCE_FIELDS); i++) {
        const char *key = SOURCE_FIELDS[i].key;
        /* The CRD's s2iBuildSource has no commit date, message or context dir. */
        if (report && (strcmp(key, "commitDate") == 0 || strcmp(key, "commitMessage") == 0 ||
                       strcmp(key, "contextDir") == 0))
            continue;
        add_str(o, key, *source_field((build_source_info_t *)s, i));
    }
    if (s->binary_name && *s->binary_name)
        json_object_object_add(o, "binarySize", json_object_new_uint64(s->binary_size));
    return o;
}

int build_source_info_save(const build_source_info_t *s, const char *path, char **err)
{
    json_object *o = source_json(s, false);
    const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
    int rc = text ? build_write_file(path, text, strlen(text), 0644) : (errno = ENOMEM, -1);
    if (rc < 0)
        *err = util_asprintf("%s: %s", path, strerror(errno));
    json_object_put(o);
    return rc;
}

int build_source_info_load(const char *path, build_source_info_t *out, char **err)
{
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    char *data = util_read_file(path, &len);
    if (!data) {
        *err = util_asprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    json_object *o = json_tokener_parse(data);
    free(data);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        *err = util_asprintf("%s: not a JSON object", path);
        return -1;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(SOURCE_FIELDS); i++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(o, SOURCE_FIELDS[i].key, &v) &&
            json_object_is_type(v, json_type_string))
            *source_field(out, i) = util_strdup(json_object_get_string(v));
    }
    json_object *v = NULL;
    if (json_object_object_get_ex(o, "binarySize", &v) && json_object_is_type(v, json_type_int))
        out->binary_size = json_object_get_uint64(v);
    json_object_put(o);
    return 0;
}

char *build_result_message(const build_result_t *r)
{
    json_object *res = json_object_new_object();
    add_str(res, "imageName", r->image_name);
    add_str(res, "imageID", r->image_id);
    json_object_object_add(res, "imageSize", json_object_new_int64(r->image_size));
    add_str(res, "imageCreated", r->image_created);
    json_object *tags = json_object_new_array();
    for (char **t = r->repo_tags; t && *t; t++)
        json_object_array_add(tags, json_object_new_string(*t));
    json_object_object_add(res, "imageRepoTags", tags);
    add_str(res, "commandPull", r->command_pull);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "s2iBuildResult", res);
    json_object_object_add(root, "s2iBuildSource", source_json(&r->source, true));
    char *text = util_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return text;
}

char *build_failure_message(const build_error_t *e)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s: ", build_err_reason(e->err == BUILD_OK ? BUILD_ERR_INTERNAL : e->err));
    const char *m = e->message ? e->message : "unknown error";
    for (; *m && b.len < FAILURE_MESSAGE_MAX; m++)
        buf_putc(&b, *m == '\n' || *m == '\r' || *m == '\t' ? ' ' : *m);
    if (*m)
        buf_puts(&b, "...");
    char *out = buf_steal(&b);
    buf_free(&b);
    return out;
}

int build_termination_write(const char *path, const char *message)
{
    size_t len = strlen(message);
    if (len > TERMINATION_MESSAGE_MAX)
        len = TERMINATION_MESSAGE_MAX;
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    ssize_t n = fd >= 0 ? write(fd, message, len) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)len) {
        log_warn("cannot write the termination message", "path", path, "error", strerror(errno),
                 NULL);
        fprintf(stderr, "%s\n", message);
        return -1;
    }
    return 0;
}
