/*
 * webhook: the admission webhooks of devops.kubesphere.io/v1alpha1 and the certificates
 * they are served with.
 *
 * Admission (AdmissionReview admission.k8s.io/v1; v1beta1 is answered in kind)
 *   POST /mutate-devops-kubesphere-io-v1alpha1-s2ibuilder            upstream's defaulter:
 *        spec.config.revisionId "master", spec.config.tag "latest", as JSON patch operations
 *   POST /validate-devops-kubesphere-io-v1alpha1-s2ibuilder          upstream's rules and texts
 *   POST /validate-devops-kubesphere-io-v1alpha1-s2irun              idem, and a started run's
 *        spec is immutable except for spec.state: Cancelled
 *   POST /validate-devops-kubesphere-io-v1alpha1-s2ibuildertemplate  idem
 *   POST /mutate-devops-kubesphere-io-v1alpha1-s2irun                ours, at CREATE: the label
 *        labels.devops.kubesphere.io/builder-name: <spec.builderName> (when it is a valid label
 *        value) and an ownerReference to the builder (controller false, blockOwnerDeletion
 *        false), so runs are collected with their builder even while the operator is down
 *   Answers are shaped as controller-runtime's: a denial is `allowed: false` with status
 *   {code: 403, reason: Forbidden, message: <upstream text>}, so kubectl prints
 *   `admission webhook "vs2irun.kb.io" denied the request: <upstream text>`; an object that
 *   does not decode, or a lookup that failed, is status {code: 400 / the API's code, message}.
 *   A body that is not an AdmissionReview (not JSON, no request.uid, wrong kind or content
 *   type) is answered with HTTP 400 and the reason; bodies over 7 MiB get 413 from the server.
 *   Updates are validated only when they change what validation reads (spec, and for
 *   builders the autoscale annotation), and never for an object being deleted: a finalizer
 *   removal or a label edit must not fail because a template was deleted since.
 *
 * Lookups (builders for runs, templates for builders)
 *   go through webhook_lookup_t callbacks that the operator fills from its caches
 *   (webhook_lookup_from_manager); a callback that cannot answer (cache not synced, or a
 *   miss) makes the webhook ask the API server with a live GET, so admission never depends
 *   on cache readiness — a replica that is not the leader serves webhooks too.
 *
 * Certificates (options.cert_source)
 *   GENERATE (default): the operator's own CA (ECDSA P-256, 10 years) and serving
 *     certificate (1 year) with the DNS names <service>.<namespace>.svc,
 *     <service>.<namespace>.svc.cluster.local and extra_dns_names as SANs (the subject CN is
 *     not a host name: nothing may rely on it). They live in the Secret cert_secret (type
 *     kubernetes.io/tls: tls.crt, tls.key, ca.crt = the CA bundle, ca.key): a valid one is
 *     reused, so replicas share it; creation and rotation use optimistic concurrency and the
 *     loser of a race adopts the winner's certificate. caBundle is written into the named
 *     Mutating/ValidatingWebhookConfigurations when it differs. Every check_interval the
 *     Secret is read again: past 2/3 of its validity the serving certificate is renewed under
 *     the same CA; past 2/3 of the CA's a new CA is made and the bundle holds new and old CA,
 *     caBundle is patched first and the new certificate is served ca_propagation_delay
 *     later, so no replica's certificate is ever untrusted. A rotation by another replica is
 *     picked up the same way. Reloads use server_reload_tls: connections are never refused.
 *   SECRET: cert_secret is issued by someone else (cert-manager): read (tls.crt, tls.key,
 *     optional ca.crt), polled and reloaded on change; caBundle is written from ca.crt when
 *     configuration names are given (otherwise leave it to cert-manager's cainjector).
 *   FILES: cert_dir/tls.crt and tls.key (a mounted Secret), polled and reloaded on change.
 *
 * Shape of use (see cmd/s2i-operator):
 *
 *     webhook_options_t o = {.address = ":9443", .client = client, .metrics = registry,
 *                            .namespace = pod_namespace};
 *     webhook_lookup_from_manager(&o.lookup, manager);
 *     webhook_t *wh;
 *     webhook_new(&o, &wh);
 *     webhook_attach(wh, srv);   // before server_start: certificate ready, listener added
 *     server_start(srv);
 *     webhook_start(wh);         // the rotation thread
 *     ...
 *     webhook_stop(wh);          // SIGTERM, before server_stop
 *     server_stop(srv, 10); server_free(srv);
 *     webhook_free(wh);          // after server_free: handlers use wh until then
 *
 * Metrics (options.metrics): s2i_webhook_admission_requests_total{webhook,result} (result
 * allowed | denied | error), s2i_webhook_admission_duration_seconds{webhook},
 * s2i_webhook_certificate_expiry_timestamp_seconds (the served certificate's notAfter) and
 * s2i_webhook_certificate_reloads_total.
 *
 * Ownership: webhook_new/webhook_free; options' strings are copied; client, metrics and the
 * lookup's data are borrowed and must outlive the webhook.
 * Thread-safety: handlers run on the server's worker threads and share nothing mutable but
 * the served certificate (one mutex). new/attach/start/stop/free from one thread;
 * webhook_rotate from any.
 * Errors: 0 / -1 (logged with the reason where it is decided).
 */
#ifndef S2I_WEBHOOK_H
#define S2I_WEBHOOK_H

#include <json-c/json.h>
#include <stdbool.h>

#include "controller/controller.h"
#include "kube/kube.h"
#include "metrics/metrics.h"
#include "server/server.h"

/* The upstream paths. */
#define WEBHOOK_PATH_MUTATE_BUILDER    "/mutate-devops-kubesphere-io-v1alpha1-s2ibuilder"
#define WEBHOOK_PATH_VALIDATE_BUILDER  "/validate-devops-kubesphere-io-v1alpha1-s2ibuilder"
#define WEBHOOK_PATH_VALIDATE_RUN      "/validate-devops-kubesphere-io-v1alpha1-s2irun"
#define WEBHOOK_PATH_VALIDATE_TEMPLATE "/validate-devops-kubesphere-io-v1alpha1-s2ibuildertemplate"
#define WEBHOOK_PATH_MUTATE_RUN        "/mutate-devops-kubesphere-io-v1alpha1-s2irun"

/* Defaults of the options below. */
#define WEBHOOK_DEFAULT_ADDRESS           ":9443"
#define WEBHOOK_DEFAULT_SERVICE           "webhook-server-service"
#define WEBHOOK_DEFAULT_SECRET            "s2i-webhook-server-cert"
#define WEBHOOK_DEFAULT_MUTATING_CONFIG   "mutating-webhook-configuration"
#define WEBHOOK_DEFAULT_VALIDATING_CONFIG "validating-webhook-configuration"
#define WEBHOOK_MAX_BODY_BYTES            (7u << 20) /* 2 x kube-apiserver's 3 MiB + 1 MiB */

/* ---- lookups -------------------------------------------------------------------------- */

typedef enum webhook_lookup_result {
    WEBHOOK_LOOKUP_FOUND = 0, /* *out holds a new reference */
    WEBHOOK_LOOKUP_NOT_FOUND, /* authoritative: no live GET follows */
    WEBHOOK_LOOKUP_UNKNOWN,   /* cannot tell (cache not synced, or a miss): ask the API */
} webhook_lookup_result_t;

/* namespace is NULL for templates (cluster-scoped). Called from handler threads. */
typedef webhook_lookup_result_t (*webhook_lookup_fn)(void *data, const char *namespace,
                                                     const char *name, json_object **out);

typedef struct webhook_lookup {
    webhook_lookup_fn get_builder;  /* NULL: always ask the API */
    webhook_lookup_fn get_template; /* NULL: always ask the API */
    void *data;
} webhook_lookup_t;

/* Fills lookup from the manager's caches: a hit is FOUND; a miss, or caches not synced yet,
 * is UNKNOWN — a builder created a moment before its first run may not be cached yet, so
 * only the API server can say it does not exist. The manager must outlive the webhook. */
void webhook_lookup_from_manager(webhook_lookup_t *lookup, controller_manager_t *manager);

/* ---- options -------------------------------------------------------------------------- */

typedef enum webhook_cert_source {
    WEBHOOK_CERTS_GENERATE = 0,
    WEBHOOK_CERTS_SECRET,
    WEBHOOK_CERTS_FILES,
} webhook_cert_source_t;

/* Zero fields take the defaults in brackets. */
typedef struct webhook_options {
    const char *address;         /* the HTTPS listener [WEBHOOK_DEFAULT_ADDRESS] */
    kube_client_t *client;       /* required unless FILES; also for live lookups. Use one with
                                    a short request timeout (3 s): a lookup must answer
                                    within the webhook's timeoutSeconds */
    metrics_registry_t *metrics; /* optional */
    webhook_lookup_t lookup;     /* optional: caches to read first */
    webhook_cert_source_t cert_source;
    const char *namespace;              /* the operator's namespace; required unless FILES */
    const char *service_name;           /* [WEBHOOK_DEFAULT_SERVICE] */
    const char *const *extra_dns_names; /* more SANs (NULL-terminated); IP addresses too */
    const char *cert_secret;            /* [WEBHOOK_DEFAULT_SECRET] */
    const char *cert_dir;               /* FILES: directory of tls.crt, tls.key, ca.crt */
    const char *mutating_config;   /* caBundle target [WEBHOOK_DEFAULT_MUTATING_CONFIG]; "" none */
    const char *validating_config; /* [WEBHOOK_DEFAULT_VALIDATING_CONFIG]; "" none */
    double ca_validity;            /* seconds [10 years] */
    double cert_validity;          /* seconds [1 year]; capped at the CA's end */
    double check_interval;         /* seconds between certificate checks [60] */
    double ca_propagation_delay;   /* seconds between writing a new CA into caBundle and serving
                                      a certificate it signed [5]; < 0: none */
    double startup_timeout;        /* seconds webhook_attach retries the API [60] */
    int workers;                   /* handler threads [4] */
} webhook_options_t;

typedef struct webhook webhook_t;

/* Checks the options (names, extra DNS names) and registers the metrics. Nothing is sent. */
int webhook_new(const webhook_options_t *opts, webhook_t **out);
/* Before server_start: obtains the serving certificate (reading, creating or renewing the
 * Secret and writing caBundle; retried for up to startup_timeout), adds the HTTPS listener
 * "webhook" to srv and routes the five paths on it. */
int webhook_attach(webhook_t *wh, server_t *srv);
/* Routes the five paths on a listener the caller made (no certificate handling): behind a
 * TLS-terminating proxy, or in tests. */
int webhook_route(webhook_t *wh, server_listener_t *listener);
/* The listener webhook_attach added (its port once the server runs), or NULL. */
server_listener_t *webhook_listener(webhook_t *wh);
/* After server_start: starts the thread that checks (and rotates) the certificate every
 * check_interval. */
int webhook_start(webhook_t *wh);

typedef enum webhook_rotation {
    WEBHOOK_ROTATE_CHECK = 0, /* check now; rotate only if due */
    WEBHOOK_ROTATE_SERVING,   /* renew the serving certificate now (GENERATE only) */
    WEBHOOK_ROTATE_CA,        /* renew the CA and the serving certificate now (GENERATE only) */
} webhook_rotation_t;

/* Runs one certificate check now, on the calling thread, rotating as asked. Returns when
 * the result is served (after ca_propagation_delay if the CA changed). 0, or -1 when the
 * API could not be reached or the material does not load (the old certificate stays). */
int webhook_rotate(webhook_t *wh, webhook_rotation_t what);
/* Stops the rotation thread (an ongoing check is waited for). Idempotent. */
void webhook_stop(webhook_t *wh);
/* webhook_stop, then frees. Call after server_free (handlers use wh). NULL is fine. */
void webhook_free(webhook_t *wh);

#endif
