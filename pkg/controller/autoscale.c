/*
 * autoscale: upstream's roll-out of a finished build into the workloads named by the
 * builder's devops.kubesphere.io/autoscale annotation (the KubeSphere console's
 * "service wizard" writes it, capitalised keys and all).
 *
 * For each workload not yet listed in the run's devops.kubesphere.io/completedscale
 * annotation, unless the run says devops.kubesphere.io/donotautoscale:
 *   - while the workload's devops.kubesphere.io/inithasbeencomplted (sic) annotation is
 *     empty, it gets Successful or Failed, and a Successful first build scales a workload
 *     at 0 replicas to initReplicas (default 1): the console shows "Building image" until
 *     this annotation is written;
 *   - after a Successful build the image becomes imageName:tag -- the only container, or
 *     the containers the entry names (upstream lost those edits: Go range-by-value); when
 *     the image is already that, imagePullPolicy Always makes the new push be pulled;
 *   - the pod template gets the label devops.kubesphere.io/s2ir=<run>, which rolls it out.
 * The workload is written with its resourceVersion (a conflict retries the run), then
 * the run's completedscale annotation records it, so it is done once.
 */
#include "controller/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "controller/jpath.h"
#include "controller/runstatus.h"

static bool listed(const api_s2i_autoscale_list_t *done, const api_s2i_autoscale_t *w)
{
    for (size_t i = 0; i < done->len; i++)
        if (util_streq(done->items[i].kind, w->kind) && util_streq(done->items[i].name, w->name))
            return true;
    return false;
}

static bool wants(const api_s2i_autoscale_t *w, const char *container)
{
    for (size_t i = 0; i < w->containers.len; i++)
        if (util_streq(w->containers.items[i], container))
            return true;
    return false;
}

static void set_image(json_object *c, const char *image)
{
    if (util_streq(jpath_str(c, "image"), image))
        json_object_object_add(c, "imagePullPolicy", json_object_new_string("Always"));
    else
        json_object_object_add(c, "image", json_object_new_string(image));
}

/* Applies the build to one workload object (in place). */
static void roll_out(json_object *obj, const api_s2i_autoscale_t *w, bool ok, const char *image,
                     const char *run_label)
{
    json_object *ann = jpath(obj, "metadata.annotations");
    if (!ann || !json_object_is_type(ann, json_type_object)) {
        ann = json_object_new_object();
        jpath_set(obj, "metadata.annotations", ann);
    }
    const char *init = jpath_child_str(ann, API_ANNOTATION_WORKLOAD_INIT_DONE);
    if (!init || !*init) {
        if (ok && jpath_int(obj, "spec.replicas", 1) == 0)
            jpath_set(obj, "spec.replicas",
                      json_object_new_int(w->init_replicas > 0 ? w->init_replicas : 1));
        json_object_object_add(ann, API_ANNOTATION_WORKLOAD_INIT_DONE,
                               json_object_new_string(ok ? "Successful" : "Failed"));
    }
    if (!ok)
        return;
    json_object *cs = jpath(obj, "spec.template.spec.containers");
    size_t n = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(cs, i);
        if (n == 1 || wants(w, jpath_str(c, "name")))
            set_image(c, image);
    }
    json_object *labels = jpath(obj, "spec.template.metadata.labels");
    if (!labels || !json_object_is_type(labels, json_type_object)) {
        labels = json_object_new_object();
        jpath_set(obj, "spec.template.metadata.labels", labels);
    }
    json_object_object_add(labels, S2I_LABEL_RUN, json_object_new_string(run_label));
}

/* 0 done (or nothing to do), -1 retry. */
int autoscale_workloads(controller_manager_t *m, json_object *run, json_object *builder)
{
    json_object *run_ann = jpath(run, "metadata.annotations");
    if (jpath_child_str(run_ann, API_ANNOTATION_DO_NOT_AUTOSCALE))
        return 0;
    const char *spec =
        jpath_child_str(jpath(builder, "metadata.annotations"), API_ANNOTATION_AUTOSCALE);
    if (!spec || !*spec)
        return 0;
    api_s2i_autoscale_list_t want = {0}, done = {0};
    char *err = NULL;
    if (api_s2i_autoscale_list_parse(spec, &want, &err) < 0) {
        recorder_event(m->recorder, builder, "Warning", "InvalidAutoscale",
                       "the %s annotation cannot be read: %s", API_ANNOTATION_AUTOSCALE,
                       err ? err : "invalid");
        free(err);
        return 0;
    }
    const char *completed = jpath_child_str(run_ann, API_ANNOTATION_COMPLETED_SCALE);
    if (completed && *completed && api_s2i_autoscale_list_parse(completed, &done, NULL) < 0)
        done = (api_s2i_autoscale_list_t){0};
    const char *ns = jpath_str_or(run, "metadata.namespace", "");
    bool ok = util_streq(jpath_str(run, "status.runState"), RUN_STATE_SUCCESSFUL);
    const char *tag =
        jpath_str_or(run, "spec.newTag", jpath_str_or(builder, "spec.config.tag", "latest"));
    char *image = util_asprintf("%s:%s", jpath_str_or(builder, "spec.config.imageName", ""), tag);
    char run_label[64];
    jobspec_run_label(jpath_str_or(run, "metadata.name", ""), run_label);
    int rc = 0;
    bool changed = false;
    for (size_t i = 0; i < want.len && image; i++) {
        const api_s2i_autoscale_t *w = &want.items[i];
        if (listed(&done, w))
            continue;
        const kube_resource_t *res = util_streq(w->kind, API_KIND_DEPLOYMENT)    ? &RES_DEPLOYMENTS
                                     : util_streq(w->kind, API_KIND_STATEFULSET) ? &RES_STATEFULSETS
                                                                                 : NULL;
        kube_result_t r = KUBE_RESULT_INIT;
        kube_err_t e = res ? kube_get(m->client, res, ns, w->name, &r) : KUBE_ERR_NOT_FOUND;
        if (e == KUBE_OK) {
            roll_out(r.body, w, ok, image, run_label);
            kube_result_t u = KUBE_RESULT_INIT;
            e = kube_update(m->client, res, ns, r.body, NULL, &u);
            if (e != KUBE_OK) {
                log_api_error("cannot roll out the build", w->name, &u);
                rc = -1;
            } else {
                recorder_event(m->recorder, run, "Normal", "Autoscaled", "%s %s now runs %s",
                               w->kind, w->name, ok ? image : "(build failed: image unchanged)");
            }
            kube_result_clear(&u);
        } else if (e != KUBE_ERR_NOT_FOUND) {
            rc = -1;
        } else {
            recorder_event(m->recorder, run, "Warning", "AutoscaleTargetNotFound",
                           "%s %s not found", w->kind ? w->kind : "workload",
                           w->name ? w->name : "");
        }
        kube_result_clear(&r);
        if (e == KUBE_OK || e == KUBE_ERR_NOT_FOUND) {
            /* Record it as done (found or not: a missing workload is not retried forever). */
            api_s2i_autoscale_t *grown = realloc(done.items, (done.len + 1) * sizeof *grown);
            if (grown) {
                done.items = grown;
                done.items[done.len] = (api_s2i_autoscale_t){.kind = util_strdup(w->kind),
                                                             .name = util_strdup(w->name),
                                                             .init_replicas = -1};
                done.len++;
                changed = true;
            }
        }
    }
    if (changed) {
        char *text = api_s2i_autoscale_list_format(&done);
        json_object *patch = json_object_new_object();
        json_object *ann = json_object_new_object();
        json_object_object_add(ann, API_ANNOTATION_COMPLETED_SCALE,
                               json_object_new_string(text ? text : "[]"));
        jpath_set(patch, "metadata.annotations", ann);
        kube_result_t r = KUBE_RESULT_INIT;
        if (kube_patch(m->client, &RES_RUNS, ns, jpath_str(run, "metadata.name"), NULL,
                       KUBE_PATCH_MERGE,
                       json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN), NULL,
                       &r) != KUBE_OK) {
            log_api_error("cannot record completed scale", jpath_str_or(run, "metadata.name", ""),
                          &r);
            rc = -1;
        }
        kube_result_clear(&r);
        json_object_put(patch);
        free(text);
    }
    free(image);
    api_s2i_autoscale_list_clear(&want);
    api_s2i_autoscale_list_clear(&done);
    return rc;
}
