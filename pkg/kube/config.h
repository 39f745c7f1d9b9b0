/*
 * kube/config: where the API server is and how to authenticate to it.
 *
 * Sources, in the order controller-runtime uses them (kube_config_load_default):
 *   1. an explicit kubeconfig path (--kubeconfig),
 *   2. $KUBECONFIG (':'-separated list, merged as kubectl merges: the first file
 *      that sets a map key / a value wins),
 *   3. in-cluster (KUBERNETES_SERVICE_HOST/PORT, the service-account token, CA and
 *      namespace files under /var/run/secrets/kubernetes.io/serviceaccount),
 *   4. ~/.kube/config.
 * A context may be chosen with --context; otherwise current-context.
 *
 * Ownership: kube_config_t is owned by the caller (kube_config_free). Strings in
 * it are owned by the struct.
 * Thread-safety: kube_config_auth may be called from many threads at once; it
 * caches exec-plugin credentials until their expirationTimestamp and re-reads a
 * token file when it changes (service-account token rotation).
 * Errors: functions return 0 or -1 and, on -1, set *err to a malloc'd message
 * that names the file and the field at fault (caller frees). Messages and logs
 * never contain tokens, passwords or keys.
 *
 * kubectl's rules apply: paths in a kubeconfig (certificate-authority,
 * client-certificate, client-key, tokenFile, an exec command containing '/') are
 * relative to that file's directory; only the chosen context, cluster and user
 * are validated; a certificate-authority-data wins over certificate-authority
 * (ca_file is then NULL); a tokenFile wins over token.
 */
#ifndef S2I_KUBE_CONFIG_H
#define S2I_KUBE_CONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct kube_exec_config {
    char *command;
    char **args;       /* NULL-terminated */
    char **env;        /* NULL-terminated "NAME=value" */
    char *api_version; /* client.authentication.k8s.io/v1 (or v1beta1) */
    char *install_hint;
    bool provide_cluster_info;
    char *interactive_mode; /* "Never", "IfAvailable", "Always" or NULL */
} kube_exec_config_t;

/* Credentials as they are to be used for one request. All fields malloc'd or NULL. */
typedef struct kube_auth {
    char *token;           /* bearer token */
    char *client_cert_pem; /* PEM client certificate (data fields or exec plugin) */
    char *client_key_pem;
    char *client_cert_file; /* or paths */
    char *client_key_file;
    char *username; /* basic auth */
    char *password;
} kube_auth_t;

typedef struct kube_config {
    char *server; /* "https://host:port" (no trailing slash); may carry a path prefix */
    char *ca_file;
    char *ca_data; /* PEM, decoded from certificate-authority-data */
    size_t ca_data_len;
    bool insecure_skip_tls_verify;
    char *tls_server_name;
    char *proxy_url;

    char *token;
    char *token_file;
    char *client_cert_file;
    char *client_key_file;
    char *client_cert_data; /* PEM */
    char *client_key_data;  /* PEM */
    char *username;
    char *password;
    kube_exec_config_t *exec;

    char *namespace; /* the context's namespace, or the in-cluster namespace; NULL if unset */
    char *source;    /* "kubeconfig /path" or "in-cluster", for messages */
    bool in_cluster;
    char *context_name; /* the chosen context, cluster and user names (NULL in-cluster) */
    char *cluster_name;
    char *user_name;

    /* private: caches guarded by lock */
    pthread_mutex_t lock;
    char *cached_token;
    time_t cached_token_mtime;
    kube_auth_t exec_cache;
    time_t exec_expiry; /* 0 = no expiry given: cache forever */

    /* private: token file change detection, with cached_token_mtime (also under lock) */
    long cached_token_mtime_nsec;
    unsigned long long cached_token_ino;
    unsigned long long cached_token_dev;
    long long cached_token_size;
    double cached_token_read_at; /* util_monotonic() of the last read; re-read after a minute */
    bool cached_token_stale;     /* set by kube_config_invalidate_auth */
} kube_config_t;

/* Loads one kubeconfig path, or a ':'-separated list merged in order. context may be NULL. */
int kube_config_load_file(const char *paths, const char *context, kube_config_t **out, char **err);
/* Parses one kubeconfig held in memory (need not be NUL-terminated). path_for_messages names
 * it in errors and anchors its relative paths; NULL means "<memory>" and relative paths are
 * kept as written. */
int kube_config_parse(const char *yaml, size_t len, const char *path_for_messages,
                      const char *context, kube_config_t **out, char **err);
/* In-cluster configuration. root overrides /var/run/secrets/kubernetes.io/serviceaccount (tests).
 */
int kube_config_in_cluster(const char *root, kube_config_t **out, char **err);
/* explicit may be NULL; follows the order in the header comment. */
int kube_config_load_default(const char *explicit_path, const char *context, kube_config_t **out,
                             char **err);
/* As kube_config_load_default, with the in-cluster root of kube_config_in_cluster (tests). */
int kube_config_load_default_at(const char *explicit_path, const char *context,
                                const char *in_cluster_root, kube_config_t **out, char **err);
void kube_config_free(kube_config_t *c);

/* Fills out with the credentials to use now (copies; free with kube_auth_clear). Runs the
 * exec plugin when its cached credential is missing or expired: one run at a time (callers
 * wait on the lock), killed after 60 s; its failure message quotes the start of its stderr,
 * never its stdout. A token file that cannot be re-read keeps the previous token (logged). */
int kube_config_auth(kube_config_t *c, kube_auth_t *out, char **err);
/* Forgets cached exec/token credentials, e.g. after a 401, so the next call refreshes. */
void kube_config_invalidate_auth(kube_config_t *c);
void kube_auth_clear(kube_auth_t *a);

#endif
