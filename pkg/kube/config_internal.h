/*
 * kube/config_internal: what the kubeconfig files share with each other and nobody else.
 *
 *   config_yaml.c  one kubeconfig document -> kube_config_file_t (no validation)
 *   config.c       merge files, pick the context, validate, build kube_config_t; in-cluster
 *   config_auth.c  kube_config_auth: token file rotation, exec credential cache
 *   config_exec.c  running an exec credential plugin
 *
 * A kube_config_file_t keeps every value as written, with its line, so that the
 * checks made after merging can still name the file, line and field.
 */
#ifndef S2I_KUBE_CONFIG_INTERNAL_H
#define S2I_KUBE_CONFIG_INTERNAL_H

#include "kube/config.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>

/* A string value and the line it is on (1-based); value NULL = unset or empty. */
typedef struct kube_config_field {
    char *value;
    int line;
} kube_config_field_t;

/* Every entry of clusters/users/contexts starts with this. */
typedef struct kube_config_entry {
    char *name;
    int line;
} kube_config_entry_t;

typedef struct kube_config_cluster {
    kube_config_entry_t entry;
    kube_config_field_t server;
    kube_config_field_t ca_file;
    kube_config_field_t ca_data;
    kube_config_field_t tls_server_name;
    kube_config_field_t proxy_url;
    bool insecure_skip_tls_verify;
} kube_config_cluster_t;

typedef struct kube_config_user {
    kube_config_entry_t entry;
    kube_config_field_t token;
    kube_config_field_t token_file;
    kube_config_field_t client_cert_file;
    kube_config_field_t client_cert_data;
    kube_config_field_t client_key_file;
    kube_config_field_t client_key_data;
    kube_config_field_t username;
    kube_config_field_t password;
    kube_config_field_t auth_provider; /* its name: unsupported, reported when used */
    kube_config_field_t impersonate;   /* the first "as*" key set: unsupported */
    kube_exec_config_t *exec;
    int exec_line;
} kube_config_user_t;

typedef struct kube_config_context {
    kube_config_entry_t entry;
    kube_config_field_t cluster;
    kube_config_field_t user;
    kube_config_field_t namespace;
} kube_config_context_t;

typedef struct kube_config_file {
    char *path; /* for messages: the path as given, or "<memory>" */
    char *dir;  /* absolute directory that relative paths hang from; NULL keeps them as written */
    kube_config_field_t current_context;
    kube_config_cluster_t *clusters;
    size_t n_clusters;
    kube_config_user_t *users;
    size_t n_users;
    kube_config_context_t *contexts;
    size_t n_contexts;
} kube_config_file_t;

/* Parses one document. f->path and f->dir must be set by the caller; on error f may be
 * partly filled and must still be cleared. */
int kube_config_file_parse(kube_config_file_t *f, const char *yaml, size_t len, char **err);
void kube_config_file_clear(kube_config_file_t *f);

kube_config_t *kube_config_new(void);
void kube_exec_config_free(kube_exec_config_t *e);
/* Zeroes a secret before freeing it. NULL is fine. */
void kube_secret_free(char *s);
/* Sets *err to a formatted message (or NULL when out of memory) and returns -1. */
int kube_config_fail(char **err, const char *fmt, ...) UTIL_PRINTF(2, 3);

/* Reads at most max bytes, NUL-terminated. regular_only refuses devices and FIFOs (a token
 * file must neither block nor be endless). On failure returns NULL, leaves errno set and
 * points *why at a static description. */
char *kube_read_file_limited(const char *path, size_t max, bool regular_only, size_t *len_out,
                             const char **why);
/* Can path be opened for reading? (0, or -1 with *why set as above.) */
int kube_check_readable(const char *path, const char **why);
/* Standard base64, padding optional, whitespace ignored. On bad input returns -1 and sets
 * *bad_offset; the decoded bytes are NUL-terminated. */
int kube_base64_decode(const char *in, char **out, size_t *out_len, size_t *bad_offset);

/* Reads the token file when it changed, went stale or was invalidated. Caller holds c->lock.
 * On failure *why is a malloc'd reason without the path. */
int kube_config_token_file_refresh_locked(kube_config_t *c, char **why);
/* Runs c->exec and fills cred/expiry (0 = none). Caller holds c->lock. */
int kube_config_exec_run_locked(kube_config_t *c, kube_auth_t *cred, time_t *expiry, char **err);

#endif
