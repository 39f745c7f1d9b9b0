/*
 * metrics: a Prometheus registry — counters, gauges and histograms with labels,
 * rendered in the text exposition format 0.0.4.
 *
 * A metric family has a name, a help text, a type and a small fixed list of label
 * names given at creation. Each observation names the label values, in the same
 * order, as an array (METRICS_LABELS builds one in place); the first observation of
 * a label set creates its series. A family without labels takes NULL.
 *
 *     metrics_registry_t *reg = metrics_registry_new();
 *     metrics_family_t *active = metrics_gauge_new(reg, "s2i_s2irun_active",
 *         "Active S2iRuns by namespace.", METRICS_LABELS("namespace"));
 *     metrics_gauge_set(active, METRICS_LABELS("ns1"), 3);
 *     metrics_family_delete(active, METRICS_LABELS("ns1"));   // no runs left there
 *     buf_t out = BUF_INIT;
 *     metrics_registry_write(reg, &out);                       // the /metrics body
 *
 * Values that live elsewhere (process RSS, cache sizes) are read at scrape time: a
 * family's collect callback runs just before the family is rendered and sets its
 * series with the ordinary setters (metrics_gauge_set, metrics_counter_set).
 * metrics_process_collector_register adds the standard process_* families from /proc.
 *
 * Exposition: families sorted by name, series by label values; `# HELP` (with `\` and
 * newline escaped), `# TYPE`, then one line per series; label values escape `\`, `"`
 * and newline; histograms write cumulative `_bucket{le="..."}` lines ending in
 * `le="+Inf"`, then `_sum` and `_count`. Numbers are formatted as Go's
 * strconv.FormatFloat(v, 'g', -1, 64) does (what client_golang writes): shortest
 * round-trip digits, `1e+06` from a million on, `+Inf`, `-Inf`, `NaN`.
 *
 * Ownership: the registry owns its families; a family pointer stays valid until
 * metrics_registry_free. Label values and names passed in are copied.
 * Thread-safety: everything may be called from any thread. The registry has one
 * mutex (its family list), each family one (its series). Collect callbacks run on the
 * scraping thread with no lock held; they may set values but must not create
 * families.
 * Errors: creators return NULL on a bad name, label name or bucket list, on a name
 * already registered with a different type, help or labels, or out of memory (the
 * same definition twice returns the existing family: get-or-create). Observations
 * return 0, or -1 on a NULL family, a NULL label value where labels are required,
 * a negative counter increment, or out of memory (the observation is lost).
 */
#ifndef S2I_METRICS_H
#define S2I_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* A label-value (or label-name) list, in the family's label order. */
#define METRICS_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The Content-Type of metrics_registry_write's output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* At most this many labels per family. */
#define METRICS_MAX_LABELS 8

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_family metrics_family_t;

typedef enum {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_type_t;

/* Called at scrape time, before the family is rendered; see the top of this file. */
typedef void (*metrics_collect_fn)(metrics_family_t *family, void *data);

metrics_registry_t *metrics_registry_new(void);
/* Frees the registry and all its families. NULL is fine. */
void metrics_registry_free(metrics_registry_t *reg);

/* label_names: NULL-terminated list (METRICS_LABELS("a", "b")) or NULL for none.
 * Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics,
 * [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" for labels). */
metrics_family_t *metrics_counter_new(metrics_registry_t *reg, const char *name, const char *help,
                                      const char *const *label_names);
metrics_family_t *metrics_gauge_new(metrics_registry_t *reg, const char *name, const char *help,
                                    const char *const *label_names);
/* buckets: upper bounds, strictly increasing and finite; +Inf is implicit. NULL (with
 * count 0) means the Prometheus defaults .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
 * A histogram may not have a label named "le". */
metrics_family_t *metrics_histogram_new(metrics_registry_t *reg, const char *name, const char *help,
                                        const char *const *label_names, const double *buckets,
                                        size_t count);

/* count bounds start, start*factor, start*factor^2 ... into out (start > 0, factor > 1). */
int metrics_exponential_buckets(double start, double factor, size_t count, double *out);
/* count bounds start, start+width ... into out (width > 0). */
int metrics_linear_buckets(double start, double width, size_t count, double *out);

/* Counters only go up: v must be >= 0. */
int metrics_counter_add(metrics_family_t *f, const char *const *labels, double v);
int metrics_counter_inc(metrics_family_t *f, const char *const *labels);
/* Sets a counter's value outright: only for collect callbacks that mirror a total
 * kept elsewhere (process_cpu_seconds_total). */
int metrics_counter_set(metrics_family_t *f, const char *const *labels, double v);

int metrics_gauge_set(metrics_family_t *f, const char *const *labels, double v);
int metrics_gauge_add(metrics_family_t *f, const char *const *labels, double v);
int metrics_gauge_inc(metrics_family_t *f, const char *const *labels);
int metrics_gauge_dec(metrics_family_t *f, const char *const *labels);

int metrics_histogram_observe(metrics_family_t *f, const char *const *labels, double v);

/* Removes one label set's series; true if it existed. */
bool metrics_family_delete(metrics_family_t *f, const char *const *labels);
/* Removes every series of the family. */
void metrics_family_clear(metrics_family_t *f);
/* Installs (or, with fn NULL, removes) the family's collect callback. */
void metrics_family_set_collect(metrics_family_t *f, metrics_collect_fn fn, void *data);
metrics_type_t metrics_family_type(const metrics_family_t *f);

/* Reads a counter's or gauge's value; -1 if the series does not exist. */
int metrics_get(metrics_family_t *f, const char *const *labels, double *out);
/* Reads a histogram series' count and sum (either pointer may be NULL); -1 if absent. */
int metrics_histogram_get(metrics_family_t *f, const char *const *labels, uint64_t *count,
                          double *sum);

/* A gauge without labels whose value fn returns at scrape time. */
metrics_family_t *metrics_gauge_func_new(metrics_registry_t *reg, const char *name,
                                         const char *help, double (*fn)(void *data), void *data);

/* Registers process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds, read from /proc/self at scrape time (as client_golang's
 * process collector). 0, or -1 if a family could not be created. */
int metrics_process_collector_register(metrics_registry_t *reg);

/* Appends the whole registry in text format 0.0.4 to out (runs collect callbacks).
 * 0, or -1 out of memory (out then holds a truncated text). */
int metrics_registry_write(metrics_registry_t *reg, buf_t *out);

/* Appends v formatted as the exposition format wants it (see the top of this file). */
int metrics_format_value(buf_t *out, double v);

#endif
