/*
 * build/errors: the reasons a build fails, as the operator shows them (the termination
 * message's "Reason: message" and the run's Succeeded condition).
 */
#include "build/build_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const REASONS[] = {
    [BUILD_OK] = "",
    [BUILD_ERR_INVALID_CONFIG] = "InvalidConfig",
    [BUILD_ERR_SOURCE_FETCH] = "SourceFetchFailed",
    [BUILD_ERR_PULL] = "PullFailed",
    [BUILD_ERR_SCRIPTS_NOT_FOUND] = "ScriptsNotFound",
    [BUILD_ERR_ASSEMBLE] = "AssembleFailed",
    [BUILD_ERR_SNAPSHOT] = "SnapshotFailed",
    [BUILD_ERR_ARTIFACTS] = "RuntimeArtifactsFailed",
    [BUILD_ERR_PUSH] = "PushFailed",
    [BUILD_ERR_INTERNAL] = "InternalError",
};

const char *build_err_reason(build_err_t err)
{
    if ((size_t)err >= UTIL_ARRAY_LEN(REASONS))
        return "InternalError";
    return REASONS[err];
}

build_err_t build_error_set(build_error_t *e, build_err_t err, const char *fmt, ...)
{
    if (!e || e->err != BUILD_OK)
        return e ? e->err : err;
    e->err = err;
    va_list ap;
    va_start(ap, fmt);
    buf_t b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    e->message = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return err;
}

void build_error_clear(build_error_t *e)
{
    if (!e)
        return;
    free(e->message);
    e->message = NULL;
    e->err = BUILD_OK;
}
