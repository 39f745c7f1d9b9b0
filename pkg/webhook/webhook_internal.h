/*
 * webhook internals shared by its files and its tests: the webhook struct, AdmissionReview
 * serving without HTTP, the certificate primitives and the rotation step.
 */
#ifndef S2I_WEBHOOK_INTERNAL_H
#define S2I_WEBHOOK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "util/util.h"
#include "webhook/webhook.h"

typedef enum webhook_id {
    WEBHOOK_MUTATE_BUILDER,
    WEBHOOK_VALIDATE_BUILDER,
    WEBHOOK_VALIDATE_RUN,
    WEBHOOK_VALIDATE_TEMPLATE,
    WEBHOOK_MUTATE_RUN,
    WEBHOOK_ID_COUNT,
} webhook_id_t;

/* ---- certificate material ------------------------------------------------------------- */

/* PEM texts, each malloc'd or NULL. */
typedef struct cert_material {
    char *cert_pem;   /* the serving certificate (leaf first, maybe a chain) */
    char *key_pem;    /* its private key */
    char *ca_pem;     /* the CA bundle: the current CA first, then previous ones */
    char *ca_key_pem; /* the current CA's key (GENERATE only) */
} cert_material_t;

void cert_material_clear(cert_material_t *m);
/* Deep copy into dst (cleared first). 0 / -1. */
int cert_material_copy(cert_material_t *dst, const cert_material_t *src);

typedef struct cert_times {
    time_t not_before;
    time_t not_after;
} cert_times_t;

/* A new self-signed CA: ECDSA P-256, CA:TRUE (critical), keyCertSign|cRLSign, subject and
 * authority key identifiers, valid from now (backdated a little for clock skew) for
 * validity seconds. 0, or -1 with *err (malloc'd). */
int cert_generate_ca(const char *common_name, double validity, time_t now, char **cert_pem,
                     char **key_pem, char **err);
/* A serving certificate signed by the CA: ECDSA P-256, CA:FALSE, digitalSignature,
 * serverAuth, the names as subjectAltName (DNS names, or IP addresses when they parse as
 * one), subject CN common_name. Its end is capped at the CA's. */
int cert_generate_serving(const char *ca_cert_pem, const char *ca_key_pem, const char *common_name,
                          const char *const *names, double validity, time_t now, char **cert_pem,
                          char **key_pem, char **err);

/* The validity of the first certificate in pem. 0 / -1. */
int cert_read_times(const char *pem, cert_times_t *out);
/* Rotation is due once 2/3 of the validity have passed (or the certificate is not valid
 * at now at all). */
bool cert_rotation_due(const cert_times_t *t, time_t now);

/* Whether cert_pem (with key_pem) is usable for the names at now: it parses, the key
 * matches, it chains to a CA of bundle_pem and every name is among its SANs (the subject
 * is never consulted). 0, or -1 with *why (malloc'd). bundle_pem NULL skips the chain. */
int cert_verify_serving(const char *cert_pem, const char *key_pem, const char *bundle_pem,
                        const char *const *names, time_t now, char **why);

typedef enum cert_action {
    CERT_KEEP,          /* valid and not due */
    CERT_RENEW_SERVING, /* a new serving certificate under the same CA */
    CERT_RENEW_CA,      /* a new CA (the old one stays in the bundle) and serving certificate */
    CERT_REGENERATE,    /* the CA part is missing or broken: start over */
} cert_action_t;

/* What the material needs at now for serving names (GENERATE mode); *why says why
 * (malloc'd, NULL for KEEP). */
cert_action_t cert_assess(const cert_material_t *m, const char *const *names, time_t now,
                          char **why);

/* A CA bundle: the first certificate of first_pem, then the certificates of each of
 * others[0..n) in order that are CA certificates, not expired at now and not already in,
 * up to max certificates in all. NULL when first_pem holds no certificate or out of
 * memory. Unparsable text in others is skipped. */
char *cert_bundle_merge(const char *first_pem, const char *const *others, size_t n, time_t now,
                        size_t max);
/* Whether the first certificates of two PEM texts are the same (DER-equal). */
bool cert_same_first(const char *a_pem, const char *b_pem);
/* Number of certificates in a PEM text. */
size_t cert_count(const char *pem);

/* ---- base64 (standard alphabet, padded) ------------------------------------------------ */

char *webhook_base64_encode(const void *data, size_t len);
/* NULL on invalid input; the result is NUL-terminated, *len_out (may be NULL) its length. */
char *webhook_base64_decode(const char *text, size_t *len_out);

/* ---- the webhook ----------------------------------------------------------------------- */

struct webhook {
    /* options, copied */
    char *address;
    kube_client_t *client;
    metrics_registry_t *metrics;
    webhook_lookup_t lookup;
    webhook_cert_source_t cert_source;
    char *namespace;
    char *service_name;
    char **dns_names; /* NULL-terminated: the service's names, then the extra ones */
    char *cert_secret;
    char *cert_dir;
    char *mutating_config;
    char *validating_config;
    double ca_validity;
    double cert_validity;
    double check_interval;
    double ca_propagation_delay;
    double startup_timeout;
    int workers;

    metrics_family_t *requests;
    metrics_family_t *duration;
    metrics_family_t *expiry;
    metrics_family_t *reloads;

    server_listener_t *listener;

    pthread_mutex_t served_lock; /* guards served */
    cert_material_t served;      /* what the listener serves (or will, before attach) */
    pthread_mutex_t sync_lock;   /* one certificate check at a time */
    bool configs_missing_logged[2];

    pthread_mutex_t thread_lock; /* guards stopping, with wake */
    pthread_cond_t wake;
    bool stopping;
    bool thread_running;
    pthread_t thread;
};

/* Serves one request body as the HTTP handler of webhook id does: *status is the HTTP
 * status, out receives the JSON body. Never fails: out of memory is a 500. */
void webhook_serve(webhook_t *wh, webhook_id_t id, const char *content_type, const char *body,
                   size_t len, int *status, buf_t *out);
const char *webhook_id_name(webhook_id_t id);

/* Lookups (lookup.c): 0 found (*out a new reference), 1 not found, -1 could not tell
 * (*err malloc'd, *code an HTTP-like status for the answer). */
int webhook_get_builder(webhook_t *wh, const char *namespace, const char *name, json_object **out,
                        char **err, int *code);
int webhook_get_template(webhook_t *wh, const char *name, json_object **out, char **err, int *code);

/* One certificate check (rotation.c). With listener NULL nothing is reloaded: the material
 * becomes what attach will serve. */
int webhook_sync(webhook_t *wh, webhook_rotation_t what);
/* Sleeps up to seconds unless the webhook is stopping; false when it is. */
bool webhook_sleep(webhook_t *wh, double seconds);

#endif
