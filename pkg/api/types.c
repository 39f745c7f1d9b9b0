/*
 * api/types: the field tables of every struct in api.h (JSON names, Go kinds and omitempty
 * exactly as upstream's Go tags, plus our additions), and the typed new/free/decode/encode
 * entry points built on codec.c.
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

/* Rows are {JSON name, kind, omitempty, offset, count offset (lists), element type}. */
#define TYPE(ctype, table)                                                                         \
    {                                                                                              \
        sizeof(ctype), offsetof(ctype, raw), table, sizeof(table) / sizeof((table)[0])             \
    }

/* ---- metadata ------------------------------------------------------------------------------ */

static const api_field_t object_meta_fields[] = {
    {"name", API_F_STRING, true, offsetof(api_object_meta_t, name), 0, NULL},
    {"generateName", API_F_STRING, true, offsetof(api_object_meta_t, generate_name), 0, NULL},
    {"namespace", API_F_STRING, true, offsetof(api_object_meta_t, namespace), 0, NULL},
    {"uid", API_F_STRING, true, offsetof(api_object_meta_t, uid), 0, NULL},
    {"resourceVersion", API_F_STRING, true, offsetof(api_object_meta_t, resource_version), 0, NULL},
    {"generation", API_F_INT64, true, offsetof(api_object_meta_t, generation), 0, NULL},
    {"creationTimestamp", API_F_TIME, true, offsetof(api_object_meta_t, creation_timestamp), 0,
     NULL},
    {"deletionTimestamp", API_F_TIME, true, offsetof(api_object_meta_t, deletion_timestamp), 0,
     NULL},
    {"labels", API_F_MAP, true, offsetof(api_object_meta_t, labels), 0, NULL},
    {"annotations", API_F_MAP, true, offsetof(api_object_meta_t, annotations), 0, NULL},
    {"finalizers", API_F_STRINGS, true, offsetof(api_object_meta_t, finalizers), 0, NULL},
};
static const api_type_t api_type_object_meta = TYPE(api_object_meta_t, object_meta_fields);

static const api_field_t condition_fields[] = {
    {"type", API_F_STRING, false, offsetof(api_condition_t, type), 0, NULL},
    {"status", API_F_STRING, false, offsetof(api_condition_t, status), 0, NULL},
    {"observedGeneration", API_F_INT64, true, offsetof(api_condition_t, observed_generation), 0,
     NULL},
    {"lastTransitionTime", API_F_TIME, true, offsetof(api_condition_t, last_transition_time), 0,
     NULL},
    {"reason", API_F_STRING, false, offsetof(api_condition_t, reason), 0, NULL},
    {"message", API_F_STRING, false, offsetof(api_condition_t, message), 0, NULL},
};
const api_type_t api_type_condition = TYPE(api_condition_t, condition_fields);

/* ---- S2iConfig parts ---------------------------------------------------------------------------
 */

static const api_field_t local_object_reference_fields[] = {
    {"name", API_F_STRING, true, offsetof(api_local_object_reference_t, name), 0, NULL},
};
static const api_type_t api_type_local_object_reference =
    TYPE(api_local_object_reference_t, local_object_reference_fields);

static const api_field_t auth_config_fields[] = {
    {"username", API_F_STRING, true, offsetof(api_auth_config_t, username), 0, NULL},
    {"password", API_F_STRING, true, offsetof(api_auth_config_t, password), 0, NULL},
    {"email", API_F_STRING, true, offsetof(api_auth_config_t, email), 0, NULL},
    {"serverAddress", API_F_STRING, true, offsetof(api_auth_config_t, server_address), 0, NULL},
    {"secretRef", API_F_STRUCT_PTR, true, offsetof(api_auth_config_t, secret_ref), 0,
     &api_type_local_object_reference},
};
const api_type_t api_type_auth_config = TYPE(api_auth_config_t, auth_config_fields);

static const api_field_t volume_spec_fields[] = {
    {"source", API_F_STRING, true, offsetof(api_volume_spec_t, source), 0, NULL},
    {"destination", API_F_STRING, true, offsetof(api_volume_spec_t, destination), 0, NULL},
    {"keep", API_F_BOOL, true, offsetof(api_volume_spec_t, keep), 0, NULL},
};
static const api_type_t api_type_volume_spec = TYPE(api_volume_spec_t, volume_spec_fields);

/* No omitempty on DockerConfig and CGroupLimits (and the CRD requires all their fields). */
static const api_field_t docker_config_fields[] = {
    {"endPoint", API_F_STRING, false, offsetof(api_docker_config_t, end_point), 0, NULL},
    {"certFile", API_F_STRING, false, offsetof(api_docker_config_t, cert_file), 0, NULL},
    {"keyFile", API_F_STRING, false, offsetof(api_docker_config_t, key_file), 0, NULL},
    {"caFile", API_F_STRING, false, offsetof(api_docker_config_t, ca_file), 0, NULL},
    {"useTLS", API_F_BOOL, false, offsetof(api_docker_config_t, use_tls), 0, NULL},
    {"tlsVerify", API_F_BOOL, false, offsetof(api_docker_config_t, tls_verify), 0, NULL},
};
static const api_type_t api_type_docker_config = TYPE(api_docker_config_t, docker_config_fields);

static const api_field_t cgroup_limits_fields[] = {
    {"memoryLimitBytes", API_F_INT64, false, offsetof(api_cgroup_limits_t, memory_limit_bytes), 0,
     NULL},
    {"cpuShares", API_F_INT64, false, offsetof(api_cgroup_limits_t, cpu_shares), 0, NULL},
    {"cpuPeriod", API_F_INT64, false, offsetof(api_cgroup_limits_t, cpu_period), 0, NULL},
    {"cpuQuota", API_F_INT64, false, offsetof(api_cgroup_limits_t, cpu_quota), 0, NULL},
    {"memorySwap", API_F_INT64, false, offsetof(api_cgroup_limits_t, memory_swap), 0, NULL},
    {"parent", API_F_STRING, false, offsetof(api_cgroup_limits_t, parent), 0, NULL},
};
static const api_type_t api_type_cgroup_limits = TYPE(api_cgroup_limits_t, cgroup_limits_fields);

static const api_field_t proxy_config_fields[] = {
    {"httpProxy", API_F_STRING, true, offsetof(api_proxy_config_t, http_proxy), 0, NULL},
    {"httpsProxy", API_F_STRING, true, offsetof(api_proxy_config_t, https_proxy), 0, NULL},
};
static const api_type_t api_type_proxy_config = TYPE(api_proxy_config_t, proxy_config_fields);

static const api_field_t environment_spec_fields[] = {
    {"name", API_F_STRING, false, offsetof(api_environment_spec_t, name), 0, NULL},
    {"value", API_F_STRING, false, offsetof(api_environment_spec_t, value), 0, NULL},
};
const api_type_t api_type_environment_spec = TYPE(api_environment_spec_t, environment_spec_fields);

static const api_field_t parameter_fields[] = {
    {"description", API_F_STRING, true, offsetof(api_parameter_t, description), 0, NULL},
    {"key", API_F_STRING, true, offsetof(api_parameter_t, key), 0, NULL},
    {"type", API_F_STRING, true, offsetof(api_parameter_t, type), 0, NULL},
    {"optValues", API_F_STRINGS, true, offsetof(api_parameter_t, opt_values), 0, NULL},
    {"required", API_F_BOOL, true, offsetof(api_parameter_t, required), 0, NULL},
    {"defaultValue", API_F_STRING, true, offsetof(api_parameter_t, default_value), 0, NULL},
    {"value", API_F_STRING, true, offsetof(api_parameter_t, value), 0, NULL},
};
static const api_type_t api_type_parameter = TYPE(api_parameter_t, parameter_fields);

#define CFG(field) offsetof(api_s2i_config_t, field)
static const api_field_t s2i_config_fields[] = {
    {"displayName", API_F_STRING, true, CFG(display_name), 0, NULL},
    {"description", API_F_STRING, true, CFG(description), 0, NULL},
    {"builderImage", API_F_STRING, true, CFG(builder_image), 0, NULL},
    {"builderImageVersion", API_F_STRING, true, CFG(builder_image_version), 0, NULL},
    {"builderBaseImageVersion", API_F_STRING, true, CFG(builder_base_image_version), 0, NULL},
    {"runtimeImage", API_F_STRING, true, CFG(runtime_image), 0, NULL},
    {"outputImageName", API_F_STRING, true, CFG(output_image_name), 0, NULL},
    {"runtimeImagePullPolicy", API_F_STRING, true, CFG(runtime_image_pull_policy), 0, NULL},
    {"runtimeAuthentication", API_F_STRUCT_PTR, true, CFG(runtime_authentication), 0,
     &api_type_auth_config},
    {"runtimeArtifacts", API_F_STRUCT_LIST, true, CFG(runtime_artifacts),
     CFG(runtime_artifacts_len), &api_type_volume_spec},
    {"dockerConfig", API_F_STRUCT_PTR, true, CFG(docker_config), 0, &api_type_docker_config},
    {"pullAuthentication", API_F_STRUCT_PTR, true, CFG(pull_authentication), 0,
     &api_type_auth_config},
    {"pushAuthentication", API_F_STRUCT_PTR, true, CFG(push_authentication), 0,
     &api_type_auth_config},
    {"incrementalAuthentication", API_F_STRUCT_PTR, true, CFG(incremental_authentication), 0,
     &api_type_auth_config},
    {"dockerNetworkMode", API_F_STRING, true, CFG(docker_network_mode), 0, NULL},
    {"preserveWorkingDir", API_F_BOOL, true, CFG(preserve_working_dir), 0, NULL},
    {"imageName", API_F_STRING, false, CFG(image_name), 0, NULL},
    {"tag", API_F_STRING, true, CFG(tag), 0, NULL},
    {"builderPullPolicy", API_F_STRING, true, CFG(builder_pull_policy), 0, NULL},
    {"previousImagePullPolicy", API_F_STRING, true, CFG(previous_image_pull_policy), 0, NULL},
    {"incremental", API_F_BOOL, true, CFG(incremental), 0, NULL},
    {"incrementalFromTag", API_F_STRING, true, CFG(incremental_from_tag), 0, NULL},
    {"removePreviousImage", API_F_BOOL, true, CFG(remove_previous_image), 0, NULL},
    {"environment", API_F_STRUCT_LIST, true, CFG(environment), CFG(environment_len),
     &api_type_environment_spec},
    {"labelNamespace", API_F_STRING, true, CFG(label_namespace), 0, NULL},
    {"callbackUrl", API_F_STRING, true, CFG(callback_url), 0, NULL},
    {"scriptsUrl", API_F_STRING, true, CFG(scripts_url), 0, NULL},
    {"destination", API_F_STRING, true, CFG(destination), 0, NULL},
    {"workingDir", API_F_STRING, true, CFG(working_dir), 0, NULL},
    {"workingSourceDir", API_F_STRING, true, CFG(working_source_dir), 0, NULL},
    {"layeredBuild", API_F_BOOL, true, CFG(layered_build), 0, NULL},
    {"contextDir", API_F_STRING, true, CFG(context_dir), 0, NULL},
    {"assembleUser", API_F_STRING, true, CFG(assemble_user), 0, NULL},
    {"runImage", API_F_BOOL, true, CFG(run_image), 0, NULL},
    {"usage", API_F_BOOL, true, CFG(usage), 0, NULL},
    {"injections", API_F_STRUCT_LIST, true, CFG(injections), CFG(injections_len),
     &api_type_volume_spec},
    {"cgroupLimits", API_F_STRUCT_PTR, true, CFG(cgroup_limits), 0, &api_type_cgroup_limits},
    {"dropCapabilities", API_F_STRINGS, true, CFG(drop_capabilities), 0, NULL},
    {"scriptDownloadProxyConfig", API_F_STRUCT_PTR, true, CFG(script_download_proxy_config), 0,
     &api_type_proxy_config},
    {"excludeRegExp", API_F_STRING, true, CFG(exclude_reg_exp), 0, NULL},
    {"blockOnBuild", API_F_BOOL, true, CFG(block_on_build), 0, NULL},
    {"hasOnBuild", API_F_BOOL, true, CFG(has_on_build), 0, NULL},
    {"buildVolumes", API_F_STRINGS, true, CFG(build_volumes), 0, NULL},
    {"labels", API_F_MAP, true, CFG(labels), 0, NULL},
    {"securityOpt", API_F_STRINGS, true, CFG(security_opt), 0, NULL},
    {"keepSymlinks", API_F_BOOL, true, CFG(keep_symlinks), 0, NULL},
    {"asDockerfile", API_F_STRING, true, CFG(as_dockerfile), 0, NULL},
    {"imageWorkDir", API_F_STRING, true, CFG(image_work_dir), 0, NULL},
    {"imageScriptsUrl", API_F_STRING, true, CFG(image_scripts_url), 0, NULL},
    {"addHost", API_F_STRINGS, true, CFG(add_host), 0, NULL},
    {"export", API_F_BOOL, true, CFG(export), 0, NULL},
    {"sourceUrl", API_F_STRING, false, CFG(source_url), 0, NULL},
    {"isBinaryURL", API_F_BOOL, true, CFG(is_binary_url), 0, NULL},
    {"gitSecretRef", API_F_STRUCT_PTR, true, CFG(git_secret_ref), 0,
     &api_type_local_object_reference},
    {"revisionId", API_F_STRING, true, CFG(revision_id), 0, NULL},
    {"taintKey", API_F_STRING, true, CFG(taint_key), 0, NULL},
    {"nodeAffinityKey", API_F_STRING, true, CFG(node_affinity_key), 0, NULL},
    {"nodeAffinityValues", API_F_STRINGS, true, CFG(node_affinity_values), 0, NULL},
    {"outputBuildResult", API_F_BOOL, true, CFG(output_build_result), 0, NULL},
    {"branchExpression", API_F_STRING, true, CFG(branch_expression), 0, NULL},
    {"secretCode", API_F_STRING, true, CFG(secret_code), 0, NULL},
};
#undef CFG
_Static_assert(sizeof s2i_config_fields / sizeof s2i_config_fields[0] <= API_MAX_FIELDS,
               "S2iConfig has more fields than the codec's per-struct limit");
const api_type_t api_type_s2i_config = TYPE(api_s2i_config_t, s2i_config_fields);

/* ---- S2iBuilder ---------------------------------------------------------------------------- */

static const api_field_t user_defined_template_fields[] = {
    {"name", API_F_STRING, true, offsetof(api_user_defined_template_t, name), 0, NULL},
    {"parameters", API_F_STRUCT_LIST, true, offsetof(api_user_defined_template_t, parameters),
     offsetof(api_user_defined_template_t, parameters_len), &api_type_parameter},
    {"builderImage", API_F_STRING, true, offsetof(api_user_defined_template_t, builder_image), 0,
     NULL},
};
const api_type_t api_type_user_defined_template =
    TYPE(api_user_defined_template_t, user_defined_template_fields);

static const api_field_t s2ibuilder_spec_fields[] = {
    {"config", API_F_STRUCT_PTR, true, offsetof(api_s2ibuilder_spec_t, config), 0,
     &api_type_s2i_config},
    {"fromTemplate", API_F_STRUCT_PTR, true, offsetof(api_s2ibuilder_spec_t, from_template), 0,
     &api_type_user_defined_template},
    {"successfulRunsHistoryLimit", API_F_INT32_OPT, true,
     offsetof(api_s2ibuilder_spec_t, successful_runs_history_limit), 0, NULL},
    {"failedRunsHistoryLimit", API_F_INT32_OPT, true,
     offsetof(api_s2ibuilder_spec_t, failed_runs_history_limit), 0, NULL},
    {"runPolicy", API_F_STRING, true, offsetof(api_s2ibuilder_spec_t, run_policy), 0, NULL},
};
static const api_type_t api_type_s2ibuilder_spec =
    TYPE(api_s2ibuilder_spec_t, s2ibuilder_spec_fields);

static const api_field_t s2ibuilder_status_fields[] = {
    {"runCount", API_F_INT64, false, offsetof(api_s2ibuilder_status_t, run_count), 0, NULL},
    {"lastRunState", API_F_STRING, true, offsetof(api_s2ibuilder_status_t, last_run_state), 0,
     NULL},
    {"lastRunName", API_F_STRING_PTR, true, offsetof(api_s2ibuilder_status_t, last_run_name), 0,
     NULL},
    {"lastRunStartTime", API_F_TIME, true, offsetof(api_s2ibuilder_status_t, last_run_start_time),
     0, NULL},
    {"observedGeneration", API_F_INT64, true,
     offsetof(api_s2ibuilder_status_t, observed_generation), 0, NULL},
    {"conditions", API_F_STRUCT_LIST, true, offsetof(api_s2ibuilder_status_t, conditions),
     offsetof(api_s2ibuilder_status_t, conditions_len), &api_type_condition},
};
static const api_type_t api_type_s2ibuilder_status =
    TYPE(api_s2ibuilder_status_t, s2ibuilder_status_fields);

static const api_field_t s2ibuilder_fields[] = {
    {"apiVersion", API_F_STRING, true, offsetof(api_s2ibuilder_t, api_version), 0, NULL},
    {"kind", API_F_STRING, true, offsetof(api_s2ibuilder_t, kind), 0, NULL},
    {"metadata", API_F_STRUCT, true, offsetof(api_s2ibuilder_t, metadata), 0,
     &api_type_object_meta},
    {"spec", API_F_STRUCT, true, offsetof(api_s2ibuilder_t, spec), 0, &api_type_s2ibuilder_spec},
    {"status", API_F_STRUCT, true, offsetof(api_s2ibuilder_t, status), 0,
     &api_type_s2ibuilder_status},
};
const api_type_t api_type_s2ibuilder = TYPE(api_s2ibuilder_t, s2ibuilder_fields);

/* ---- S2iRun -------------------------------------------------------------------------------- */

static const api_field_t s2irun_spec_fields[] = {
    {"builderName", API_F_STRING, false, offsetof(api_s2irun_spec_t, builder_name), 0, NULL},
    {"backoffLimit", API_F_INT32, true, offsetof(api_s2irun_spec_t, backoff_limit), 0, NULL},
    {"secondsAfterFinished", API_F_INT32, true, offsetof(api_s2irun_spec_t, seconds_after_finished),
     0, NULL},
    {"newTag", API_F_STRING, true, offsetof(api_s2irun_spec_t, new_tag), 0, NULL},
    {"newRevisionId", API_F_STRING, true, offsetof(api_s2irun_spec_t, new_revision_id), 0, NULL},
    {"newSourceURL", API_F_STRING, true, offsetof(api_s2irun_spec_t, new_source_url), 0, NULL},
    {"timeout", API_F_STRING, true, offsetof(api_s2irun_spec_t, timeout), 0, NULL},
    {"state", API_F_STRING, true, offsetof(api_s2irun_spec_t, state), 0, NULL},
    {"pendingTimeout", API_F_STRING, true, offsetof(api_s2irun_spec_t, pending_timeout), 0, NULL},
};
const api_type_t api_type_s2irun_spec = TYPE(api_s2irun_spec_t, s2irun_spec_fields);

static const api_field_t s2i_build_result_fields[] = {
    {"imageName", API_F_STRING, true, offsetof(api_s2i_build_result_t, image_name), 0, NULL},
    {"imageSize", API_F_INT64, true, offsetof(api_s2i_build_result_t, image_size), 0, NULL},
    {"imageID", API_F_STRING, true, offsetof(api_s2i_build_result_t, image_id), 0, NULL},
    {"imageCreated", API_F_STRING, true, offsetof(api_s2i_build_result_t, image_created), 0, NULL},
    {"imageRepoTags", API_F_STRINGS, true, offsetof(api_s2i_build_result_t, image_repo_tags), 0,
     NULL},
    {"commandPull", API_F_STRING, true, offsetof(api_s2i_build_result_t, command_pull), 0, NULL},
};
const api_type_t api_type_s2i_build_result = TYPE(api_s2i_build_result_t, s2i_build_result_fields);

static const api_field_t s2i_build_source_fields[] = {
    {"sourceUrl", API_F_STRING, true, offsetof(api_s2i_build_source_t, source_url), 0, NULL},
    {"revisionId", API_F_STRING, true, offsetof(api_s2i_build_source_t, revision_id), 0, NULL},
    {"binaryName", API_F_STRING, true, offsetof(api_s2i_build_source_t, binary_name), 0, NULL},
    {"binarySize", API_F_UINT64, true, offsetof(api_s2i_build_source_t, binary_size), 0, NULL},
    {"builderImage", API_F_STRING, true, offsetof(api_s2i_build_source_t, builder_image), 0, NULL},
    {"description", API_F_STRING, true, offsetof(api_s2i_build_source_t, description), 0, NULL},
    {"commitID", API_F_STRING, true, offsetof(api_s2i_build_source_t, commit_id), 0, NULL},
    {"committerName", API_F_STRING, true, offsetof(api_s2i_build_source_t, committer_name), 0,
     NULL},
    {"committerEmail", API_F_STRING, true, offsetof(api_s2i_build_source_t, committer_email), 0,
     NULL},
};
const api_type_t api_type_s2i_build_source = TYPE(api_s2i_build_source_t, s2i_build_source_fields);

static const api_field_t s2irun_status_fields[] = {
    {"startTime", API_F_TIME, true, offsetof(api_s2irun_status_t, start_time), 0, NULL},
    {"completionTime", API_F_TIME, true, offsetof(api_s2irun_status_t, completion_time), 0, NULL},
    {"runState", API_F_STRING, true, offsetof(api_s2irun_status_t, run_state), 0, NULL},
    {"logURL", API_F_STRING, true, offsetof(api_s2irun_status_t, log_url), 0, NULL},
    {"kubernetesJobName", API_F_STRING, true, offsetof(api_s2irun_status_t, kubernetes_job_name), 0,
     NULL},
    {"s2iBuildResult", API_F_STRUCT_PTR, true, offsetof(api_s2irun_status_t, s2i_build_result), 0,
     &api_type_s2i_build_result},
    {"s2iBuildSource", API_F_STRUCT_PTR, true, offsetof(api_s2irun_status_t, s2i_build_source), 0,
     &api_type_s2i_build_source},
    {"conditions", API_F_STRUCT_LIST, true, offsetof(api_s2irun_status_t, conditions),
     offsetof(api_s2irun_status_t, conditions_len), &api_type_condition},
    {"observedGeneration", API_F_INT64, true, offsetof(api_s2irun_status_t, observed_generation), 0,
     NULL},
    {"logTail", API_F_STRING, true, offsetof(api_s2irun_status_t, log_tail), 0, NULL},
};
static const api_type_t api_type_s2irun_status = TYPE(api_s2irun_status_t, s2irun_status_fields);

static const api_field_t s2irun_fields[] = {
    {"apiVersion", API_F_STRING, true, offsetof(api_s2irun_t, api_version), 0, NULL},
    {"kind", API_F_STRING, true, offsetof(api_s2irun_t, kind), 0, NULL},
    {"metadata", API_F_STRUCT, true, offsetof(api_s2irun_t, metadata), 0, &api_type_object_meta},
    {"spec", API_F_STRUCT, true, offsetof(api_s2irun_t, spec), 0, &api_type_s2irun_spec},
    {"status", API_F_STRUCT, true, offsetof(api_s2irun_t, status), 0, &api_type_s2irun_status},
};
const api_type_t api_type_s2irun = TYPE(api_s2irun_t, s2irun_fields);

/* ---- S2iBuilderTemplate ---------------------------------------------------------------------- */

static const api_field_t container_info_fields[] = {
    {"builderImage", API_F_STRING, true, offsetof(api_container_info_t, builder_image), 0, NULL},
    {"runtimeImage", API_F_STRING, true, offsetof(api_container_info_t, runtime_image), 0, NULL},
    {"runtimeArtifacts", API_F_STRUCT_LIST, true, offsetof(api_container_info_t, runtime_artifacts),
     offsetof(api_container_info_t, runtime_artifacts_len), &api_type_volume_spec},
    {"buildVolumes", API_F_STRINGS, true, offsetof(api_container_info_t, build_volumes), 0, NULL},
};
static const api_type_t api_type_container_info = TYPE(api_container_info_t, container_info_fields);

#define TSPEC(field) offsetof(api_s2ibuilder_template_spec_t, field)
static const api_field_t s2ibuilder_template_spec_fields[] = {
    {"defaultBaseImage", API_F_STRING, true, TSPEC(default_base_image), 0, NULL},
    {"containerInfo", API_F_STRUCT_LIST, true, TSPEC(container_info), TSPEC(container_info_len),
     &api_type_container_info},
    {"codeFramework", API_F_STRING, true, TSPEC(code_framework), 0, NULL},
    {"environment", API_F_STRUCT_LIST, true, TSPEC(parameters), TSPEC(parameters_len),
     &api_type_parameter},
    {"version", API_F_STRING, true, TSPEC(version), 0, NULL},
    {"description", API_F_STRING, true, TSPEC(description), 0, NULL},
    {"iconPath", API_F_STRING, true, TSPEC(icon_path), 0, NULL},
};
#undef TSPEC
static const api_type_t api_type_s2ibuilder_template_spec =
    TYPE(api_s2ibuilder_template_spec_t, s2ibuilder_template_spec_fields);

static const api_field_t s2ibuilder_template_fields[] = {
    {"apiVersion", API_F_STRING, true, offsetof(api_s2ibuilder_template_t, api_version), 0, NULL},
    {"kind", API_F_STRING, true, offsetof(api_s2ibuilder_template_t, kind), 0, NULL},
    {"metadata", API_F_STRUCT, true, offsetof(api_s2ibuilder_template_t, metadata), 0,
     &api_type_object_meta},
    {"spec", API_F_STRUCT, true, offsetof(api_s2ibuilder_template_t, spec), 0,
     &api_type_s2ibuilder_template_spec},
};
const api_type_t api_type_s2ibuilder_template =
    TYPE(api_s2ibuilder_template_t, s2ibuilder_template_fields);

/* ---- autoscale ------------------------------------------------------------------------------ */

static const api_field_t s2i_autoscale_fields[] = {
    {"kind", API_F_STRING, false, offsetof(api_s2i_autoscale_t, kind), 0, NULL},
    {"name", API_F_STRING, false, offsetof(api_s2i_autoscale_t, name), 0, NULL},
    {"initReplicas", API_F_INT32_OPT, true, offsetof(api_s2i_autoscale_t, init_replicas), 0, NULL},
    {"containers", API_F_STRINGS, true, offsetof(api_s2i_autoscale_t, containers), 0, NULL},
};
const api_type_t api_type_s2i_autoscale = TYPE(api_s2i_autoscale_t, s2i_autoscale_fields);

/* ---- typed entry points --------------------------------------------------------------------- */

static int add_string(json_object *obj, const char *key, const char *value)
{
    json_object *v = json_object_new_string(value);
    if (!v || json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* apiVersion and kind as the API server needs them in a request body. */
static json_object *with_type_meta(json_object *obj, const char *api_version, const char *kind,
                                   const char *default_kind)
{
    if (!obj)
        return NULL;
    if (((!api_version || !*api_version) && add_string(obj, "apiVersion", API_GROUP_VERSION) < 0) ||
        ((!kind || !*kind) && add_string(obj, "kind", default_kind) < 0)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* A decode into *out: 0, or -1 with *out untouched. */
static int decode_into(const api_type_t *type, json_object *obj, void **out, char **err)
{
    void *value = api_struct_decode_root(type, obj, err);
    if (!value)
        return -1;
    *out = value;
    return 0;
}

api_s2ibuilder_t *api_s2ibuilder_new(void)
{
    return api_struct_new(&api_type_s2ibuilder);
}

void api_s2ibuilder_free(api_s2ibuilder_t *builder)
{
    api_struct_free(&api_type_s2ibuilder, builder);
}

int api_s2ibuilder_decode(json_object *obj, api_s2ibuilder_t **out, char **err)
{
    return decode_into(&api_type_s2ibuilder, obj, (void **)out, err);
}

json_object *api_s2ibuilder_encode(const api_s2ibuilder_t *builder)
{
    return with_type_meta(api_struct_encode(&api_type_s2ibuilder, builder), builder->api_version,
                          builder->kind, API_KIND_BUILDER);
}

api_s2ibuilder_t *api_s2ibuilder_copy(const api_s2ibuilder_t *builder)
{
    return api_struct_dup(&api_type_s2ibuilder, builder);
}

api_s2irun_t *api_s2irun_new(void)
{
    return api_struct_new(&api_type_s2irun);
}

void api_s2irun_free(api_s2irun_t *run)
{
    api_struct_free(&api_type_s2irun, run);
}

int api_s2irun_decode(json_object *obj, api_s2irun_t **out, char **err)
{
    return decode_into(&api_type_s2irun, obj, (void **)out, err);
}

json_object *api_s2irun_encode(const api_s2irun_t *run)
{
    return with_type_meta(api_struct_encode(&api_type_s2irun, run), run->api_version, run->kind,
                          API_KIND_RUN);
}

api_s2irun_t *api_s2irun_copy(const api_s2irun_t *run)
{
    return api_struct_dup(&api_type_s2irun, run);
}

api_s2ibuilder_template_t *api_s2ibuilder_template_new(void)
{
    return api_struct_new(&api_type_s2ibuilder_template);
}

void api_s2ibuilder_template_free(api_s2ibuilder_template_t *tmpl)
{
    api_struct_free(&api_type_s2ibuilder_template, tmpl);
}

int api_s2ibuilder_template_decode(json_object *obj, api_s2ibuilder_template_t **out, char **err)
{
    return decode_into(&api_type_s2ibuilder_template, obj, (void **)out, err);
}

json_object *api_s2ibuilder_template_encode(const api_s2ibuilder_template_t *tmpl)
{
    return with_type_meta(api_struct_encode(&api_type_s2ibuilder_template, tmpl), tmpl->api_version,
                          tmpl->kind, API_KIND_TEMPLATE);
}

api_s2i_config_t *api_s2i_config_new(void)
{
    return api_struct_new(&api_type_s2i_config);
}

void api_s2i_config_free(api_s2i_config_t *config)
{
    api_struct_free(&api_type_s2i_config, config);
}

int api_s2i_config_decode(json_object *obj, api_s2i_config_t **out, char **err)
{
    return decode_into(&api_type_s2i_config, obj, (void **)out, err);
}

json_object *api_s2i_config_encode(const api_s2i_config_t *config)
{
    return api_struct_encode(&api_type_s2i_config, config);
}

api_s2i_config_t *api_s2i_config_copy(const api_s2i_config_t *config)
{
    return api_struct_dup(&api_type_s2i_config, config);
}

api_s2i_build_result_t *api_s2i_build_result_new(void)
{
    return api_struct_new(&api_type_s2i_build_result);
}

void api_s2i_build_result_free(api_s2i_build_result_t *result)
{
    api_struct_free(&api_type_s2i_build_result, result);
}

int api_s2i_build_result_decode(json_object *obj, api_s2i_build_result_t **out, char **err)
{
    return decode_into(&api_type_s2i_build_result, obj, (void **)out, err);
}

json_object *api_s2i_build_result_encode(const api_s2i_build_result_t *result)
{
    return api_struct_encode(&api_type_s2i_build_result, result);
}

api_s2i_build_source_t *api_s2i_build_source_new(void)
{
    return api_struct_new(&api_type_s2i_build_source);
}

void api_s2i_build_source_free(api_s2i_build_source_t *source)
{
    api_struct_free(&api_type_s2i_build_source, source);
}

int api_s2i_build_source_decode(json_object *obj, api_s2i_build_source_t **out, char **err)
{
    return decode_into(&api_type_s2i_build_source, obj, (void **)out, err);
}

json_object *api_s2i_build_source_encode(const api_s2i_build_source_t *source)
{
    return api_struct_encode(&api_type_s2i_build_source, source);
}

api_auth_config_t *api_auth_config_new(void)
{
    return api_struct_new(&api_type_auth_config);
}

void api_auth_config_free(api_auth_config_t *auth)
{
    api_struct_free(&api_type_auth_config, auth);
}

api_local_object_reference_t *api_local_object_reference_new(void)
{
    return api_struct_new(&api_type_local_object_reference);
}

void api_local_object_reference_free(api_local_object_reference_t *ref)
{
    api_struct_free(&api_type_local_object_reference, ref);
}

api_docker_config_t *api_docker_config_new(void)
{
    return api_struct_new(&api_type_docker_config);
}

void api_docker_config_free(api_docker_config_t *docker)
{
    api_struct_free(&api_type_docker_config, docker);
}

api_cgroup_limits_t *api_cgroup_limits_new(void)
{
    return api_struct_new(&api_type_cgroup_limits);
}

void api_cgroup_limits_free(api_cgroup_limits_t *limits)
{
    api_struct_free(&api_type_cgroup_limits, limits);
}

api_proxy_config_t *api_proxy_config_new(void)
{
    return api_struct_new(&api_type_proxy_config);
}

void api_proxy_config_free(api_proxy_config_t *proxy)
{
    api_struct_free(&api_type_proxy_config, proxy);
}

api_user_defined_template_t *api_user_defined_template_new(void)
{
    return api_struct_new(&api_type_user_defined_template);
}

void api_user_defined_template_free(api_user_defined_template_t *from_template)
{
    api_struct_free(&api_type_user_defined_template, from_template);
}

/* ---- the autoscale annotation ------------------------------------------------------------------
 */

int api_s2i_autoscale_list_parse(const char *text, api_s2i_autoscale_list_t *out, char **err)
{
    enum json_tokener_error jerr = json_tokener_success;
    json_object *array = NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        if (err)
            *err = strdup("out of memory");
        return -1;
    }
    if (!text)
        text = "";
    size_t len = strlen(text);
    if (len >= INT_MAX) {
        json_tokener_free(tok);
        if (err)
            *err = strdup("annotation too long");
        return -1;
    }
    /* Strict: no comments, single quotes or trailing commas, which Go rejects too. The
     * terminating NUL tells the tokener that a bare literal ("null") has ended. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    array = json_tokener_parse_ex(tok, text, (int)len + 1);
    jerr = json_tokener_get_error(tok);
    /* The whole text must be one JSON value, as json.Unmarshal requires. */
    if (jerr == json_tokener_continue)
        jerr = json_tokener_error_parse_eof;
    else if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && strchr(" \t\r\n", text[end]))
            end++;
        if (end < len)
            jerr = json_tokener_error_parse_unexpected;
    }
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        json_object_put(array);
        if (err)
            *err = strdup(json_tokener_error_desc(jerr));
        return -1;
    }
    api_s2i_autoscale_list_t list = {NULL, 0};
    api_decode_error_t e = {0};
    if (array &&
        api_list_decode(&api_type_s2i_autoscale, array, (void **)&list.items, &list.len, &e) < 0) {
        api_list_free(&api_type_s2i_autoscale, list.items, list.len);
        json_object_put(array);
        char *message = api_decode_error_take(&e);
        if (err)
            *err = message;
        else
            free(message);
        return -1;
    }
    json_object_put(array);
    *out = list;
    return 0;
}

char *api_s2i_autoscale_list_format(const api_s2i_autoscale_list_t *list)
{
    json_object *array = api_list_encode(&api_type_s2i_autoscale, list->items, list->len);
    if (!array)
        return NULL;
    const char *text = json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(array);
    return copy;
}

void api_s2i_autoscale_list_clear(api_s2i_autoscale_list_t *list)
{
    if (!list)
        return;
    api_list_free(&api_type_s2i_autoscale, list->items, list->len);
    list->items = NULL;
    list->len = 0;
}
