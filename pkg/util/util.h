/*
 * util: the small pieces every other module leans on.
 *
 *   buf      growable byte buffer (always NUL-terminated), the only way strings are built
 *   log      klog-like leveled logger, text or JSON lines on stderr
 *   time     RFC 3339 formatting and parsing, monotonic clock
 *   backoff  exponential backoff with jitter
 *   strmap   string-keyed hash map (open addressing)
 *   pool     size-class allocator keeping small long-lived objects out of the malloc heap
 *
 * Ownership: every *_new has a *_free that accepts NULL. Nothing here is thread-safe
 * unless said so; the logger is (one write(2) per line).
 * Errors: functions that can fail return 0 on success and -1 on failure (out of memory
 * or bad input), leaving their outputs untouched.
 */
#ifndef S2I_UTIL_H
#define S2I_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifndef S2I_VERSION
#define S2I_VERSION "0.0.0-dev"
#endif

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UTIL_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- buf ---------------------------------------------------------------- */

/* A growable buffer. `data` is NULL until the first append and then always
 * NUL-terminated, so it can be used as a C string. Embed it by value. */
typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom; /* sticky: set when an append could not allocate */
} buf_t;

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

void buf_init(buf_t *b);
int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *data, size_t len);
int buf_puts(buf_t *b, const char *s);
int buf_putc(buf_t *b, char c);
int buf_printf(buf_t *b, const char *fmt, ...) UTIL_PRINTF(2, 3);
int buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Appends s with JSON string escaping (no surrounding quotes). */
int buf_put_json_escaped(buf_t *b, const char *s);
/* Appends s percent-encoded for a URL query value or path segment. */
int buf_put_url_escaped(buf_t *b, const char *s);
void buf_reset(buf_t *b);
/* Drops the first n bytes, keeping the rest. */
void buf_consume(buf_t *b, size_t n);
/* Hands the string to the caller (never NULL unless out of memory) and empties b. */
char *buf_steal(buf_t *b);
void buf_free(buf_t *b);
/* The contents as a C string; "" for an empty buffer. */
const char *buf_str(const buf_t *b);

/* ---- strings ------------------------------------------------------------ */

/* strdup that accepts NULL (returns NULL). */
char *util_strdup(const char *s);
/* Formatted allocation; NULL when out of memory. */
char *util_asprintf(const char *fmt, ...) UTIL_PRINTF(1, 2);
bool util_streq(const char *a, const char *b); /* NULL-safe */
bool util_has_prefix(const char *s, const char *prefix);
bool util_has_suffix(const char *s, const char *suffix);
/* "https://user:pass@host/x.git" -> "https://host/x.git"; scp-like "user@host:x" is kept
 * (a user name, not a secret). malloc'd; NULL only when out of memory. */
char *util_url_without_credentials(const char *url);
/* Reads a whole file; NULL with errno set on failure. *len_out may be NULL. */
char *util_read_file(const char *path, size_t *len_out);
/* Constant-time comparison of two strings (length leaks, content does not).
 * An empty or NULL string never matches: an unset secret must not open a door. */
bool util_secure_streq(const char *a, const char *b);

/* ---- log ---------------------------------------------------------------- */

typedef enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format_t;

/* Verbosity as klog's -v: 0 = always, higher = chattier. */
void log_set_verbosity(int v);
int log_get_verbosity(void);
void log_set_format(log_format_t f);
/* Redirect output (default: stderr). Used by tests. */
void log_set_fd(int fd);
bool log_enabled(int v);

/* key/value pairs follow the message, NULL-terminated:
 *   log_info("created job", "run", "ns/r1", "job", name, NULL); */
void log_error(const char *msg, ...) __attribute__((sentinel));
void log_warn(const char *msg, ...) __attribute__((sentinel));
void log_info(const char *msg, ...) __attribute__((sentinel));
void log_v(int v, const char *msg, ...) __attribute__((sentinel));

/* ---- time --------------------------------------------------------------- */

/* Seconds since an arbitrary point, monotonic. */
double util_monotonic(void);
/* Wall clock in seconds (with fraction). */
double util_now(void);
/* "2006-01-02T15:04:05Z" (seconds precision, UTC) into out (>= 21 bytes). */
void util_format_rfc3339(time_t t, char out[static 32]);
/* Parses RFC 3339 (Z or offset, optional fraction). 0 on success. */
int util_parse_rfc3339(const char *s, time_t *out);
/* Sleeps the whole duration, resuming after signals. */
void util_sleep(double seconds);

/* ---- backoff ------------------------------------------------------------ */

typedef struct backoff {
    double initial; /* seconds */
    double max;     /* seconds */
    double factor;
    double jitter; /* 0..1: fraction of the delay added at random */
    double current;
    unsigned int seed;
} backoff_t;

void backoff_init(backoff_t *b, double initial, double max, double factor, double jitter);
/* The next delay in seconds; grows by factor up to max. */
double backoff_next(backoff_t *b);
void backoff_reset(backoff_t *b);

/* ---- strmap ------------------------------------------------------------- */

/* String -> pointer map. Keys are copied; values are owned by the caller unless
 * a value destructor is given. */
typedef struct strmap strmap_t;
typedef void (*strmap_free_fn)(void *value);

strmap_t *strmap_new(strmap_free_fn free_value);
void strmap_free(strmap_t *m);
/* Inserts or replaces (the old value is destroyed). 0 on success. */
int strmap_set(strmap_t *m, const char *key, void *value);
void *strmap_get(const strmap_t *m, const char *key);
/* Removes and returns the value without destroying it; NULL if absent. */
void *strmap_take(strmap_t *m, const char *key);
/* Removes and destroys; returns true if it was present. */
bool strmap_del(strmap_t *m, const char *key);
size_t strmap_len(const strmap_t *m);

typedef struct strmap_iter {
    const strmap_t *m;
    size_t pos;
} strmap_iter_t;

void strmap_iter_init(strmap_iter_t *it, const strmap_t *m);
/* Returns false at the end. Do not modify the map while iterating. */
bool strmap_iter_next(strmap_iter_t *it, const char **key, void **value);

/* ---- pool --------------------------------------------------------------- */

/* Objects of up to POOL_MAX_OBJECT bytes in chunks of POOL_CHUNK_BYTES mapped apart from
 * the malloc heap, one size class per 16 bytes (see pool.c for why). Thread-safe: one
 * mutex per pool; an object may be released from any thread. */
typedef struct pool pool_t;

#define POOL_CHUNK_BYTES ((size_t)65536)
#define POOL_MAX_OBJECT  ((size_t)2048)

typedef struct pool_stats {
    size_t chunks;  /* mapped */
    size_t objects; /* allocated and not released */
} pool_stats_t;

pool_t *pool_new(void);
/* Frees the pool once its last object is released (now if none is out). Accepts NULL. */
void pool_free(pool_t *pool);
/* An object of size bytes, aligned as malloc's memory; NULL when size is 0 or above
 * POOL_MAX_OBJECT (use malloc then), or out of memory. */
void *pool_alloc(pool_t *pool, size_t size);
/* Releases an object from pool_alloc (its pool is found from its address). Accepts NULL. */
void pool_release(void *ptr);
/* The usable size of an object from pool_alloc (its size rounded up to 16). */
size_t pool_object_size(const void *ptr);
void pool_stats(pool_t *pool, pool_stats_t *out);

#endif
