/*
 * registry: a client of the OCI distribution API (what `docker push/pull` speak), on
 * libcurl, with OpenSSL for sha256.
 *
 *   reference  "[registry[:port]/]repo[:tag][@sha256:…]" parsed and normalised as docker
 *              does ("nginx" -> docker.io/library/nginx:latest)
 *   digest     streaming sha256 in the "sha256:<hex>" form the API uses
 *   auth       WWW-Authenticate challenges, docker config.json credentials, the bearer
 *              token flow with a per-scope cache, Basic
 *   errors     typed errors carrying the registry's {"errors":[{"code","message"}]}
 *   client     ping, manifests (content negotiation, index -> platform, digest checks,
 *              push), blobs (exists, streamed download with verification, monolithic and
 *              chunked upload, cross-repository mount, streamed copy between registries)
 *
 * Ownership
 *   Structs filled by a call (registry_ref_t, registry_manifest_t, registry_error_t, ...)
 *   are caller-owned and released with their *_clear function; they must start zeroed
 *   (the *_INIT macros, or memset). Strings passed in are borrowed and copied when kept.
 *
 * Thread-safety
 *   A registry_client_t may be shared by threads once configured: configuration calls
 *   (registry_client_set_*) must happen before the first request. Requests take an easy
 *   handle from a pool; host state and the token cache sit behind one mutex. Everything
 *   else here (parsers, digesters, results) belongs to one thread at a time.
 *
 * Errors
 *   Calls that talk to a registry return a registry_err_t and, when `error` is not NULL,
 *   fill it with the HTTP status, the registry's error code and message (first entry of
 *   its JSON errors, or a one-line excerpt of a non-JSON body), or our own explanation.
 *   Transport errors and 5xx/429 answers are retried with exponential backoff when the
 *   request can be replayed. Credentials, tokens and Authorization headers are never
 *   logged nor put into error messages.
 */
#ifndef S2I_REGISTRY_H
#define S2I_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- media types ---------------------------------------------------------- */

#define REGISTRY_MEDIA_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define REGISTRY_MEDIA_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define REGISTRY_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REGISTRY_MEDIA_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"

/* Manifests larger than this are refused (the distribution spec's limit is 4 MiB). */
#define REGISTRY_MANIFEST_MAX (4u << 20)

bool registry_media_type_is_index(const char *media_type);
bool registry_media_type_is_manifest(const char *media_type);

/* ---- errors --------------------------------------------------------------- */

typedef enum registry_err {
    REGISTRY_OK = 0,
    REGISTRY_ERR_INVALID_REFERENCE, /* the reference string does not parse */
    REGISTRY_ERR_UNAUTHORIZED,      /* 401 after authenticating, or no usable credentials */
    REGISTRY_ERR_DENIED,            /* 403, or code DENIED: authenticated but not allowed */
    REGISTRY_ERR_NOT_FOUND,         /* 404: MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN */
    REGISTRY_ERR_MANIFEST_INVALID,  /* MANIFEST_INVALID/_BLOB_UNKNOWN, or unusable JSON */
    REGISTRY_ERR_DIGEST_MISMATCH,   /* bytes do not match the expected digest (either side) */
    REGISTRY_ERR_INVALID,           /* 400: NAME_INVALID, TAG_INVALID, SIZE_INVALID, ... */
    REGISTRY_ERR_UNSUPPORTED,       /* 405/UNSUPPORTED, or no manifest for the platform */
    REGISTRY_ERR_TOO_MANY_REQUESTS, /* 429 after the retries */
    REGISTRY_ERR_SERVER,            /* 5xx after the retries */
    REGISTRY_ERR_TRANSPORT,         /* no HTTP answer: DNS, connect, TLS, timeout */
    REGISTRY_ERR_PROTOCOL,          /* an answer we cannot use: no Location, bad header */
    REGISTRY_ERR_IO,                /* local file or callback failure */
    REGISTRY_ERR_CLIENT,            /* bad arguments, out of memory */
    REGISTRY_ERR_UNKNOWN,           /* any other status */
} registry_err_t;

typedef struct registry_error {
    registry_err_t err;
    long http_code; /* 0 when there was no HTTP answer */
    char *code;     /* the registry's code ("MANIFEST_UNKNOWN"), or NULL */
    char *message;  /* the registry's message or ours; never NULL once an error is set */
} registry_error_t;

#define REGISTRY_ERROR_INIT                                                                        \
    {                                                                                              \
        REGISTRY_OK, 0, NULL, NULL                                                                 \
    }

/* Frees the strings and resets to REGISTRY_OK. Accepts NULL. */
void registry_error_clear(registry_error_t *e);
/* "NotFound", "Unauthorized", "DigestMismatch", "OK", ... */
const char *registry_err_name(registry_err_t err);
/* One line for logs: "Unauthorized (401) UNAUTHORIZED: authentication required". Writes
 * into out (truncating) and returns it. */
const char *registry_error_str(const registry_error_t *e, char *out, size_t len);
/* Decodes an HTTP error answer (body may be NULL): the type from the first JSON error
 * code when there is one, else from the status. Clears e first; returns e->err. */
registry_err_t registry_error_from_response(registry_error_t *e, long http_code, const char *body,
                                            size_t len);

/* ---- references ----------------------------------------------------------- */

#define REGISTRY_DOCKER_HUB     "docker.io"
#define REGISTRY_DOCKER_HUB_API "registry-1.docker.io"

typedef struct registry_ref {
    char *registry;   /* "docker.io", "localhost:5000", "[::1]:5000" (as written) */
    char *repository; /* "library/nginx" */
    char *tag;        /* "latest" when neither tag nor digest was given; NULL otherwise */
    char *digest;     /* "sha256:<64 hex>", or NULL */
} registry_ref_t;

#define REGISTRY_REF_INIT                                                                          \
    {                                                                                              \
        NULL, NULL, NULL, NULL                                                                     \
    }

/* Parses a reference as docker does: a first component with '.' or ':', or "localhost",
 * names a registry, else docker.io; docker.io names of one component get "library/";
 * "index.docker.io" is docker.io; no tag and no digest means ":latest". Both a tag and
 * a digest may be given (the digest wins for fetches). Components are checked against
 * the distribution grammar (lower-case path components, tags [A-Za-z0-9_][A-Za-z0-9_.-]
 * {0,127}, sha256 digests of 64 lower-case hex, name <= 255 characters).
 * 0, or -1 with *err (malloc'd, may be NULL) saying what is wrong; out is untouched
 * on failure. */
int registry_ref_parse(const char *s, registry_ref_t *out, char **err);
void registry_ref_clear(registry_ref_t *r);
/* Deep copy; 0 or -1 (out of memory). */
int registry_ref_copy(registry_ref_t *dst, const registry_ref_t *src);
/* "docker.io/library/nginx:latest", "host/repo@sha256:…", "host/repo:tag@sha256:…".
 * malloc'd; NULL when out of memory. */
char *registry_ref_string(const registry_ref_t *r);
/* The host the API is served from: registry-1.docker.io for docker.io, else registry. */
const char *registry_ref_api_host(const registry_ref_t *r);
/* The tag or digest to fetch: the digest when present, else the tag. */
const char *registry_ref_reference(const registry_ref_t *r);

/* ---- digests -------------------------------------------------------------- */

/* "sha256:" + 64 hex + NUL */
#define REGISTRY_DIGEST_LEN 72

/* Streaming sha256. Embed by value; init before use; free releases the OpenSSL context
 * (safe to call twice, and after a failed init). */
typedef struct registry_sha256 {
    void *ctx;
} registry_sha256_t;

int registry_sha256_init(registry_sha256_t *h);
void registry_sha256_update(registry_sha256_t *h, const void *data, size_t len);
/* Writes "sha256:<hex>" and resets the hash for reuse. */
void registry_sha256_final(registry_sha256_t *h, char out[static REGISTRY_DIGEST_LEN]);
void registry_sha256_free(registry_sha256_t *h);
/* One-shot digest of a buffer; 0 or -1 (out of memory). */
int registry_digest_of(const void *data, size_t len, char out[static REGISTRY_DIGEST_LEN]);
/* "sha256:" followed by exactly 64 lower-case hex digits. */
bool registry_digest_valid(const char *digest);

/* ---- authentication --------------------------------------------------------- */

/* One auth-param of a challenge; names are lower-cased, values unquoted. */
typedef struct registry_auth_param {
    char *name;
    char *value;
} registry_auth_param_t;

typedef struct registry_challenge {
    char *scheme;  /* lower-cased: "bearer", "basic", ... */
    char *token68; /* a challenge in token68 form (rare), else NULL */
    registry_auth_param_t *params;
    size_t params_len;
} registry_challenge_t;

typedef struct registry_challenges {
    registry_challenge_t *items;
    size_t len;
} registry_challenges_t;

#define REGISTRY_CHALLENGES_INIT                                                                   \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Parses a WWW-Authenticate value (RFC 7235: several comma-separated challenges, params
 * with token or quoted-string values, backslash escapes, optional whitespace). Appends
 * to out, so several header lines can be parsed into one list. 0, or -1 with *err
 * (malloc'd, may be NULL) saying where the syntax broke; out keeps what came before. */
int registry_challenges_parse(const char *header, registry_challenges_t *out, char **err);
void registry_challenges_clear(registry_challenges_t *c);
/* The first challenge of that scheme (case-insensitive), or NULL. */
const registry_challenge_t *registry_challenges_find(const registry_challenges_t *c,
                                                     const char *scheme);
/* The value of a param (case-insensitive name), or NULL. */
const char *registry_challenge_param(const registry_challenge_t *ch, const char *name);

typedef struct registry_credentials {
    char *username;
    char *password;
} registry_credentials_t;

#define REGISTRY_CREDENTIALS_INIT                                                                  \
    {                                                                                              \
        NULL, NULL                                                                                 \
    }

void registry_credentials_clear(registry_credentials_t *c); /* wipes the password */

/* A parsed docker config.json (or legacy .dockercfg: the auths map at the top level). */
typedef struct registry_auth_config registry_auth_config_t;

/* 0, or -1 with *err (malloc'd, may be NULL; never contains a secret). */
int registry_auth_config_parse(const char *json, size_t len, registry_auth_config_t **out,
                               char **err);
int registry_auth_config_load(const char *path, registry_auth_config_t **out, char **err);
void registry_auth_config_free(registry_auth_config_t *cfg);
/* Credentials for a registry as docker finds them: the key "https://index.docker.io/v1/"
 * (or any docker.io alias) for docker.io; otherwise an exact key, then any key whose host
 * part (scheme and path stripped, lower-cased) equals host[:port]. An entry's "auth"
 * (base64 user:password) wins over its username/password fields. Returns 1 when found
 * (out filled), 0 when there is none, -1 when out of memory or the entry is malformed. */
int registry_auth_config_lookup(const registry_auth_config_t *cfg, const char *registry,
                                registry_credentials_t *out);

/* ---- client ---------------------------------------------------------------- */

typedef struct registry_client registry_client_t;

/* Start from registry_client_options_default. */
typedef struct registry_client_options {
    double timeout;         /* seconds, whole request, for everything but blob data. 60 */
    double connect_timeout; /* seconds. 15 */
    double stall_timeout;   /* blob transfers abort after this long below 1 KiB/s. 60 */
    int max_retries;        /* retries of transport errors, 5xx and 429. 4 */
    double retry_initial;   /* first backoff, seconds. 0.5 (doubling, max 10, jitter) */
    size_t chunk_size;      /* chunked upload chunk. 8 MiB */
    const char *user_agent; /* default "s2i-builder/" S2I_VERSION; copied */
    const char *ca_file;    /* extra CA bundle for every TLS registry; copied; NULL = system */
    /* The platform picked from image indexes. Defaults linux/amd64/no variant. Copied. */
    const char *os;
    const char *architecture;
    const char *variant;
} registry_client_options_t;

void registry_client_options_default(registry_client_options_t *opts);

/* opts may be NULL (defaults). NULL when out of memory or libcurl cannot initialise. */
registry_client_t *registry_client_new(const registry_client_options_t *opts);
/* No request may be in flight. Accepts NULL. */
void registry_client_free(registry_client_t *c);

/* Per-registry settings; registry as in references ("127.0.0.1:5000", "docker.io").
 * insecure: plain HTTP, or HTTPS without certificate verification (HTTPS is tried first
 * and HTTP used when the TLS handshake fails). ca_file: trust this CA bundle for that
 * registry. 0, or -1 when out of memory. */
int registry_client_set_insecure(registry_client_t *c, const char *registry, bool insecure);
int registry_client_set_ca_file(registry_client_t *c, const char *registry, const char *ca_file);
/* Explicit credentials for a registry; win over the docker config. Copied. */
int registry_client_set_credentials(registry_client_t *c, const char *registry,
                                    const char *username, const char *password);
/* Credentials from a docker config; the client takes ownership (freed with it). */
void registry_client_set_auth_config(registry_client_t *c, registry_auth_config_t *cfg);

/* GET /v2/ with authentication (the token flow without a scope, as `docker login` does):
 * OK when the registry answers and accepts our credentials (or needs none). */
registry_err_t registry_ping(registry_client_t *c, const char *registry, registry_error_t *error);

/* ---- manifests ------------------------------------------------------------- */

/* What a HEAD, an index entry or a manifest reference says about content. */
typedef struct registry_descriptor {
    char *media_type;
    char *digest;
    int64_t size; /* -1 when unknown */
} registry_descriptor_t;

#define REGISTRY_DESCRIPTOR_INIT                                                                   \
    {                                                                                              \
        NULL, NULL, -1                                                                             \
    }

void registry_descriptor_clear(registry_descriptor_t *d);

typedef struct registry_manifest {
    char *media_type;                 /* the answer's Content-Type, else the document's mediaType */
    char digest[REGISTRY_DIGEST_LEN]; /* sha256 of data */
    char *data;                       /* the exact bytes (NUL-terminated) */
    size_t len;
} registry_manifest_t;

#define REGISTRY_MANIFEST_INIT                                                                     \
    {                                                                                              \
        NULL, {0}, NULL, 0                                                                         \
    }

void registry_manifest_clear(registry_manifest_t *m);

/* HEAD the manifest for ref (by digest when it has one, else tag), accepting OCI and
 * Docker manifests and indexes. out gets the media type, Docker-Content-Digest and size. */
registry_err_t registry_manifest_head(registry_client_t *c, const registry_ref_t *ref,
                                      registry_descriptor_t *out, registry_error_t *error);
/* GET the manifest or index as stored. The bytes are checked against the reference's
 * digest (if any) and the Docker-Content-Digest header (if sha256): DIGEST_MISMATCH
 * otherwise. */
registry_err_t registry_manifest_get(registry_client_t *c, const registry_ref_t *ref,
                                     registry_manifest_t *out, registry_error_t *error);
/* As registry_manifest_get, but an index is resolved to the entry for the client's
 * platform (nested indexes too), fetched by digest and verified. UNSUPPORTED when the
 * index has no entry for the platform. */
registry_err_t registry_manifest_get_image(registry_client_t *c, const registry_ref_t *ref,
                                           registry_manifest_t *out, registry_error_t *error);
/* PUT a manifest under ref's tag (or digest when it has no tag), with media_type as
 * Content-Type (OCI or Docker, as given). digest_out (may be NULL) receives the digest
 * the registry stored, checked against sha256 of data. */
registry_err_t registry_manifest_put(registry_client_t *c, const registry_ref_t *ref,
                                     const char *media_type, const char *data, size_t len,
                                     char digest_out[REGISTRY_DIGEST_LEN], registry_error_t *error);

/* Picks the manifest for a platform from an image index / manifest list document:
 * os and architecture must match; a requested variant must match the entry's (an entry
 * without variant matches any), and with no requested variant an entry without one is
 * preferred. Entries whose platform is "unknown" (attestations) never match. 0 with out
 * filled; REGISTRY_ERR_MANIFEST_INVALID (bad JSON) or REGISTRY_ERR_UNSUPPORTED (no entry)
 * with *err (malloc'd, may be NULL) otherwise. */
registry_err_t registry_index_select(const char *data, size_t len, const char *os,
                                     const char *architecture, const char *variant,
                                     registry_descriptor_t *out, char **err);

/* ---- blobs ----------------------------------------------------------------- */

/* Where upload data comes from. read returns bytes read (0 at the end, -1 on error);
 * rewind (NULL when the source cannot go back) lets a failed upload be retried from the
 * start. size is the total length, -1 when unknown (chunked uploads only). */
typedef struct registry_blob_source {
    ssize_t (*read)(void *data, char *buf, size_t len);
    int (*rewind)(void *data);
    void *data;
    int64_t size;
} registry_blob_source_t;

/* Receives downloaded blob data in order; return 0 to go on, non-zero to abort (IO). */
typedef int (*registry_blob_write_fn)(void *data, const char *buf, size_t len);

/* HEAD the blob: OK with *size_out (may be NULL) set, or NOT_FOUND. */
registry_err_t registry_blob_exists(registry_client_t *c, const registry_ref_t *repo,
                                    const char *digest, int64_t *size_out, registry_error_t *error);
/* GET the blob (redirects followed, Authorization never sent to another host), passing
 * the bytes to write as they arrive while hashing them; an interrupted transfer resumes
 * with a Range request. DIGEST_MISMATCH when the bytes do not hash to digest (the data
 * already delivered must then be discarded by the caller). */
registry_err_t registry_blob_get(registry_client_t *c, const registry_ref_t *repo,
                                 const char *digest, registry_blob_write_fn write, void *data,
                                 registry_error_t *error);
/* registry_blob_get into a file (created or truncated, mode 0644); removed on failure. */
registry_err_t registry_blob_get_file(registry_client_t *c, const registry_ref_t *repo,
                                      const char *digest, const char *path,
                                      registry_error_t *error);
/* Monolithic upload: POST a session, then PUT ?digest= with the whole body (source->size
 * must be known). Retried from the start only when the source can rewind. */
registry_err_t registry_blob_upload(registry_client_t *c, const registry_ref_t *repo,
                                    const char *digest, const registry_blob_source_t *source,
                                    registry_error_t *error);
/* Chunked upload: POST, PATCH chunks of opts.chunk_size with Content-Range (relative or
 * absolute Location followed after each), then PUT ?digest=. The digest is computed while
 * reading, so a source of unknown length (a layer being written) works; when expected
 * is not NULL the computed digest must equal it. digest_out (may be NULL) receives it. */
registry_err_t registry_blob_upload_chunked(registry_client_t *c, const registry_ref_t *repo,
                                            const registry_blob_source_t *source,
                                            const char *expected,
                                            char digest_out[REGISTRY_DIGEST_LEN],
                                            registry_error_t *error);
/* Uploads a file (monolithic below opts.chunk_size, chunked above) unless the registry
 * already has the blob. digest may be NULL (computed from the file first). */
registry_err_t registry_blob_upload_file(registry_client_t *c, const registry_ref_t *repo,
                                         const char *path, const char *digest,
                                         registry_error_t *error);
/* Cross-repository mount on one registry: POST ?mount=digest&from=from_repository.
 * *mounted is true on 201; on 202 (the registry declined and opened an upload instead)
 * it is false and the opened session is cancelled; the caller falls back to an upload. */
registry_err_t registry_blob_mount(registry_client_t *c, const registry_ref_t *repo,
                                   const char *digest, const char *from_repository, bool *mounted,
                                   registry_error_t *error);
/* Makes dst have the blob src has: nothing when it already does; a mount when both are on
 * one registry; else (or when the mount is declined) a streamed copy, GET from src piped
 * into the PUT to dst without touching the disk and never holding more than ~1 MiB.
 * size may be -1 (asked with HEAD). *how (may be NULL) says what happened. */
typedef enum registry_copy_how {
    REGISTRY_COPY_EXISTED,
    REGISTRY_COPY_MOUNTED,
    REGISTRY_COPY_STREAMED,
} registry_copy_how_t;
registry_err_t registry_blob_copy(registry_client_t *c, const registry_ref_t *src,
                                  const registry_ref_t *dst, const char *digest, int64_t size,
                                  registry_copy_how_t *how, registry_error_t *error);

#endif
