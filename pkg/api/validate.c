/*
 * api/validate: what upstream's admission webhooks do to the three kinds — the builder's
 * defaulting (revisionId "master", tag "latest") and the validation of builders, runs and
 * templates, with upstream's checks, order and error texts (pkg/errors: `Required value not
 * specified for "<f>"`, `Invalid value specified for "<f>": <reason>`), plus the checks on
 * the fields we added. Each error also carries the JSON path of the value it is about.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

/* ---- the error list ------------------------------------------------------------------------ */

void api_errors_init(api_errors_t *errs)
{
    errs->items = NULL;
    errs->len = 0;
}

void api_errors_clear(api_errors_t *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->len; i++) {
        free(errs->items[i].field);
        free(errs->items[i].message);
    }
    free(errs->items);
    api_errors_init(errs);
}

/* Appends an error, taking message (malloc'd; NULL means out of memory). */
static int add_error(api_errors_t *errs, const char *field, char *message)
{
    char *path = message ? strdup(field) : NULL;
    api_field_error_t *items = path ? realloc(errs->items, (errs->len + 1) * sizeof *items) : NULL;
    if (!items) {
        free(path);
        free(message);
        return -1;
    }
    items[errs->len].field = path;
    items[errs->len].message = message;
    errs->items = items;
    errs->len++;
    return 0;
}

/* upstream errors.Error.Error(): the type's sentence with the field %q-quoted, then
 * ": reason" when there is one. */
static char *upstream_message(const char *sentence, const char *name, const char *reason)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, sentence);
    buf_putc(&b, ' ');
    api_put_go_quoted(&b, name);
    if (reason && *reason) {
        buf_puts(&b, ": ");
        buf_puts(&b, reason);
    }
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int add_required(api_errors_t *errs, const char *field, const char *name)
{
    return add_error(errs, field, upstream_message("Required value not specified for", name, NULL));
}

static int add_invalid(api_errors_t *errs, const char *field, const char *name, const char *reason)
{
    return add_error(errs, field, upstream_message("Invalid value specified for", name, reason));
}

char *api_errors_message(const api_errors_t *errs)
{
    if (errs->len == 1)
        return strdup(errs->items[0].message);
    /* k8s.io/apimachinery/pkg/util/errors aggregate: repeats dropped, brackets when more
     * than one distinct message remains. */
    buf_t b = BUF_INIT;
    size_t distinct = 0;
    for (size_t i = 0; i < errs->len; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(errs->items[j].message, errs->items[i].message) == 0;
        if (seen)
            continue;
        if (distinct++ > 0)
            buf_puts(&b, ", ");
        buf_puts(&b, errs->items[i].message);
    }
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    char *joined = buf_steal(&b);
    if (distinct <= 1 || !joined)
        return joined;
    char *bracketed = util_asprintf("[%s]", joined);
    free(joined);
    return bracketed;
}

/* For checks that end validation: one error reported (1), or out of memory (-1). */
static int reported(int add_rc)
{
    return add_rc < 0 ? -1 : 1;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* Go's %v of a []string: "[a b c]". */
static void put_go_list(buf_t *b, const api_container_info_t *info, size_t len)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < len; i++) {
        if (i > 0)
            buf_putc(b, ' ');
        buf_puts(b, info[i].builder_image ? info[i].builder_image : "");
    }
    buf_putc(b, ']');
}

/* upstream validateDockerReference: reference.Parse, the result thrown away. */
static api_reference_error_t check_reference(const char *image)
{
    api_reference_t ref;
    api_reference_error_t err = api_reference_parse(image, &ref);
    if (err == API_REF_OK)
        api_reference_clear(&ref);
    return err;
}

/* 0 valid, 1 reported, -1 out of memory. */
static int reference_error(const char *image, const char *field, const char *name,
                           api_errors_t *errs)
{
    api_reference_error_t err = check_reference(image);
    if (err == API_REF_OK)
        return 0;
    if (err == API_REF_ERR_NO_MEMORY ||
        add_invalid(errs, field, name, api_reference_strerror(err)) < 0)
        return -1;
    return 1;
}

static bool is_builder_image(const api_container_info_t *info, size_t len, const char *image)
{
    for (size_t i = 0; i < len; i++)
        if (strcmp(info[i].builder_image ? info[i].builder_image : "", image ? image : "") == 0)
            return true;
    return false;
}

/* ---- S2iBuilder ------------------------------------------------------------------------------ */

int api_s2ibuilder_default(api_s2ibuilder_t *builder)
{
    api_s2i_config_t *config = builder->spec.config;
    if (!config)
        return 0;
    if (empty(config->revision_id) &&
        api_set_string(&config->revision_id, API_DEFAULT_REVISION_ID) < 0)
        return -1;
    if (empty(config->tag) && api_set_string(&config->tag, API_DEFAULT_TAG) < 0)
        return -1;
    return 0;
}

/* upstream validateParameter: every required template parameter given with a value. */
static int validate_parameters(const api_user_defined_template_t *from,
                               const api_s2ibuilder_template_t *tmpl, api_errors_t *errs)
{
    const api_s2ibuilder_template_spec_t *spec = &tmpl->spec;
    for (size_t i = 0; i < spec->parameters_len; i++) {
        const api_parameter_t *wanted = &spec->parameters[i];
        if (!wanted->required)
            continue;
        const api_parameter_t *given = NULL;
        for (size_t j = 0; j < from->parameters_len && !given; j++)
            if (util_streq(from->parameters[j].key ? from->parameters[j].key : "",
                           wanted->key ? wanted->key : ""))
                given = &from->parameters[j];
        if (given && !empty(given->value))
            continue;
        char *name = util_asprintf("Parameter:%s", wanted->key ? wanted->key : "");
        int rc = name ? add_required(errs, "spec.fromTemplate.parameters", name) : -1;
        free(name);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int validate_from_template(const api_user_defined_template_t *from,
                                  const api_s2ibuilder_template_t *tmpl, api_errors_t *errs)
{
    if (!tmpl)
        return add_error(errs, "spec.fromTemplate.name",
                         util_asprintf("Template not found, pls check the template name  [%s] "
                                       "or create a template",
                                       from->name ? from->name : ""));
    size_t before = errs->len;
    if (validate_parameters(from, tmpl, errs) < 0)
        return -1;
    if (errs->len > before || empty(from->builder_image))
        return 0;
    const api_s2ibuilder_template_spec_t *spec = &tmpl->spec;
    if (is_builder_image(spec->container_info, spec->container_info_len, from->builder_image))
        return 0;
    buf_t b = BUF_INIT;
    buf_printf(&b, "builder's baseImage [%s] not in builder baseImages [", from->builder_image);
    put_go_list(&b, spec->container_info, spec->container_info_len);
    buf_putc(&b, ']');
    if (b.oom) {
        buf_free(&b);
        return -1;
    }
    return add_error(errs, "spec.fromTemplate.builderImage", buf_steal(&b));
}

/* upstream validatingS2iBuilderAutoScale: the annotation parses and its first entry scales
 * a Deployment or a StatefulSet. */
static int validate_autoscale(const char *annotation, api_errors_t *errs)
{
    static const char field[] = "metadata.annotations[" API_ANNOTATION_AUTOSCALE "]";
    api_s2i_autoscale_list_t list;
    char *err = NULL;
    if (api_s2i_autoscale_list_parse(annotation, &list, &err) < 0) {
        int rc = err ? add_invalid(errs, field, API_ANNOTATION_AUTOSCALE, err) : -1;
        free(err);
        return rc;
    }
    int rc = 0;
    if (list.len > 0) {
        const api_s2i_autoscale_t *first = &list.items[0];
        const char *kind = first->kind ? first->kind : "";
        if (strcmp(kind, API_KIND_DEPLOYMENT) != 0 && strcmp(kind, API_KIND_STATEFULSET) != 0) {
            char *reason = util_asprintf("unsupport workload type [%s], name [%s]", kind,
                                         first->name ? first->name : "");
            rc = reason ? add_invalid(errs, field, API_ANNOTATION_AUTOSCALE, reason) : -1;
            free(reason);
        }
    }
    api_s2i_autoscale_list_clear(&list);
    return rc;
}

static bool valid_pull_policy(const char *policy)
{
    return util_streq(policy, API_PULL_ALWAYS) || util_streq(policy, API_PULL_NEVER) ||
           util_streq(policy, API_PULL_IF_NOT_PRESENT);
}

/* Docker remote API v1.19 network modes. */
static bool valid_network_mode(const char *mode)
{
    return strcmp(mode, "bridge") == 0 || strcmp(mode, "host") == 0 ||
           util_has_prefix(mode, "container:") || util_has_prefix(mode, "netns:");
}

static int validate_authentication(const api_auth_config_t *auth, const char *field,
                                   const char *name, api_errors_t *errs)
{
    if (!auth || auth->secret_ref || !empty(auth->username) || !empty(auth->password))
        return 0;
    return add_required(errs, field, name);
}

/* upstream validateConfig, in its order. */
static int validate_config(const api_s2i_config_t *config, bool from_template, api_errors_t *errs)
{
    if (!config->is_binary_url && empty(config->source_url) &&
        add_required(errs, "spec.config.sourceUrl", "sourceUrl") < 0)
        return -1;
    if (!from_template && empty(config->builder_image) &&
        add_required(errs, "spec.config.builderImage", "builderImage") < 0)
        return -1;
    if (!valid_pull_policy(config->builder_pull_policy) &&
        add_invalid(errs, "spec.config.builderPullPolicy", "builderPullPolicy", NULL) < 0)
        return -1;
    if (!empty(config->docker_network_mode) && !valid_network_mode(config->docker_network_mode) &&
        add_invalid(errs, "spec.config.dockerNetworkMode", "dockerNetworkMode", NULL) < 0)
        return -1;
    for (size_t i = 0; i < config->labels.len; i++)
        if (empty(config->labels.items[i].key) &&
            add_invalid(errs, "spec.config.labels", "labels", NULL) < 0)
            return -1;
    if (!empty(config->builder_image) &&
        reference_error(config->builder_image, "spec.config.builderImage", "builderImage", errs) <
            0)
        return -1;
    if (validate_authentication(config->runtime_authentication, "spec.config.runtimeAuthentication",
                                "RuntimeAuthentication username|password / secretRef", errs) < 0 ||
        validate_authentication(
            config->incremental_authentication, "spec.config.incrementalAuthentication",
            "IncrementalAuthentication username|password / secretRef", errs) < 0 ||
        validate_authentication(config->pull_authentication, "spec.config.pullAuthentication",
                                "PullAuthentication username|password / secretRef", errs) < 0 ||
        validate_authentication(config->push_authentication, "spec.config.pushAuthentication",
                                "PushAuthentication username|password / secretRef", errs) < 0)
        return -1;
    return 0;
}

/* Our additions to the builder spec. */
static int validate_builder_additions(const api_s2ibuilder_spec_t *spec, api_errors_t *errs)
{
    if (spec->successful_runs_history_limit < -1 &&
        add_invalid(errs, "spec.successfulRunsHistoryLimit", "successfulRunsHistoryLimit",
                    "must be a non-negative integer") < 0)
        return -1;
    if (spec->failed_runs_history_limit < -1 &&
        add_invalid(errs, "spec.failedRunsHistoryLimit", "failedRunsHistoryLimit",
                    "must be a non-negative integer") < 0)
        return -1;
    const char *policy = spec->run_policy;
    if (!empty(policy) && strcmp(policy, API_RUN_POLICY_PARALLEL) != 0 &&
        strcmp(policy, API_RUN_POLICY_SERIAL) != 0 &&
        strcmp(policy, API_RUN_POLICY_SERIAL_LATEST_ONLY) != 0 &&
        add_invalid(errs, "spec.runPolicy", "runPolicy",
                    "must be one of Parallel, Serial, SerialLatestOnly") < 0)
        return -1;
    return 0;
}

int api_s2ibuilder_validate(const api_s2ibuilder_t *builder, const api_s2ibuilder_template_t *tmpl,
                            api_errors_t *errs)
{
    size_t before = errs->len;
    const api_s2ibuilder_spec_t *spec = &builder->spec;
    if (spec->from_template) {
        if (validate_from_template(spec->from_template, tmpl, errs) < 0)
            return -1;
        if (errs->len > before)
            return (int)(errs->len - before);
    }
    const char *autoscale = api_map_get(&builder->metadata.annotations, API_ANNOTATION_AUTOSCALE);
    if (autoscale) {
        if (validate_autoscale(autoscale, errs) < 0)
            return -1;
        if (errs->len > before)
            return (int)(errs->len - before);
    }
    if (!spec->config) {
        if (add_required(errs, "spec.config", "config") < 0)
            return -1;
    } else if (validate_config(spec->config, spec->from_template != NULL, errs) < 0) {
        return -1;
    }
    if (validate_builder_additions(spec, errs) < 0)
        return -1;
    return (int)(errs->len - before);
}

/* ---- S2iRun ---------------------------------------------------------------------------------- */

/* Upstream compares the whole spec once the run started; we also allow cancelling. */
static bool spec_unchanged(const api_s2irun_spec_t *old, const api_s2irun_spec_t *spec)
{
    api_s2irun_spec_t candidate = *spec; /* a shallow view, never freed */
    if (util_streq(spec->state, API_RUN_SPEC_STATE_CANCELLED))
        candidate.state = old->state;
    return api_struct_equal(&api_type_s2irun_spec, old, &candidate);
}

static int validate_duration(const char *value, const char *field, const char *name,
                             api_errors_t *errs)
{
    int64_t ns;
    if (empty(value) || (api_duration_parse(value, &ns) == 0 && ns > 0))
        return 0;
    return add_invalid(errs, field, name, "must be a positive duration such as 30m or 1h30m");
}

int api_s2irun_validate(const api_s2irun_t *run, const api_s2irun_t *old,
                        const api_s2ibuilder_t *builder, api_errors_t *errs)
{
    const api_s2irun_spec_t *spec = &run->spec;
    if (builder && !empty(spec->new_source_url) &&
        !(builder->spec.config && builder->spec.config->is_binary_url))
        return reported(add_invalid(errs, "spec.newSourceURL", "newSourceURL",
                                    "only b2i could set newSourceURL"));
    if (old && !empty(old->status.run_state) && !spec_unchanged(&old->spec, spec))
        return reported(
            add_invalid(errs, "spec", "spec", "should not change s2i run spec when job started"));
    if (!empty(spec->new_tag)) {
        char *image = util_asprintf("validate:%s", spec->new_tag);
        if (!image)
            return -1;
        api_reference_error_t err = check_reference(image);
        free(image);
        if (err == API_REF_ERR_NO_MEMORY)
            return -1;
        /* upstream returns the library's error as it is, without a field name */
        if (err != API_REF_OK)
            return reported(add_error(errs, "spec.newTag", strdup(api_reference_strerror(err))));
    }
    size_t before = errs->len;
    if (validate_duration(spec->timeout, "spec.timeout", "timeout", errs) < 0 ||
        validate_duration(spec->pending_timeout, "spec.pendingTimeout", "pendingTimeout", errs) < 0)
        return -1;
    if (!empty(spec->state) && strcmp(spec->state, API_RUN_SPEC_STATE_CANCELLED) != 0 &&
        add_invalid(errs, "spec.state", "state", "the only value allowed is Cancelled") < 0)
        return -1;
    return (int)(errs->len - before);
}

/* ---- S2iBuilderTemplate ------------------------------------------------------------------------
 */

int api_s2ibuilder_template_validate(const api_s2ibuilder_template_t *tmpl, api_errors_t *errs)
{
    const api_s2ibuilder_template_spec_t *spec = &tmpl->spec;
    if (spec->container_info_len == 0)
        return reported(add_required(errs, "spec.containerInfo", "baseImages"));
    if (empty(spec->default_base_image))
        return reported(add_required(errs, "spec.defaultBaseImage", "defaultBaseImage"));
    if (!is_builder_image(spec->container_info, spec->container_info_len,
                          spec->default_base_image)) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "defaultBaseImage [%s] should in [", spec->default_base_image);
        put_go_list(&b, spec->container_info, spec->container_info_len);
        buf_putc(&b, ']');
        int rc = b.oom
                     ? -1
                     : add_invalid(errs, "spec.defaultBaseImage", "defaultBaseImage", buf_str(&b));
        buf_free(&b);
        return reported(rc);
    }
    for (size_t i = 0; i < spec->container_info_len; i++) {
        char field[64];
        snprintf(field, sizeof field, "spec.containerInfo[%zu].builderImage", i);
        const char *image = spec->container_info[i].builder_image;
        int rc = reference_error(image ? image : "", field, "builderImage", errs);
        if (rc != 0)
            return rc;
    }
    return reference_error(spec->default_base_image, "spec.defaultBaseImage", "defaultBaseImage",
                           errs);
}
