/*
 * metrics: the registry, metric families and their series, and the text exposition.
 *
 * A family keeps its series in a strmap keyed by the label values (each value
 * length-prefixed, so no value can forge another's key); a series holds either one
 * value (counter, gauge) or per-bucket counts plus sum and count (histogram). Bucket
 * counts are kept per bucket and made cumulative only when rendered.
 */
#include "metrics.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char **values; /* family->nlabels copies */
    double value;
    uint64_t *buckets; /* histogram: nbuckets + 1 counts, the last one for +Inf */
    uint64_t count;
    double sum;
} series_t;

struct metrics_family {
    char *name;
    char *help;
    metrics_type_t type;
    size_t nlabels;
    char *labels[METRICS_MAX_LABELS];
    double *bounds; /* histogram upper bounds, without +Inf */
    size_t nbounds;
    pthread_mutex_t lock; /* guards series and the collect fields */
    strmap_t *series;
    metrics_collect_fn collect;
    void *collect_data;
    double (*gauge_fn)(void *data); /* metrics_gauge_func_new */
    void *gauge_data;
};

struct metrics_registry {
    pthread_mutex_t lock; /* guards the family list */
    metrics_family_t **families;
    size_t count;
    size_t cap;
};

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

/* ---- names and keys ----------------------------------------------------- */

static bool valid_metric_name(const char *s)
{
    if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':'))
            return false;
    return true;
}

static bool valid_label_name(const char *s)
{
    if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    if (s[0] == '_' && s[1] == '_')
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

/* Builds the series key for labels into key (cleared first). -1 on a missing value
 * or out of memory. */
static int series_key(const metrics_family_t *f, const char *const *labels, buf_t *key)
{
    buf_reset(key);
    for (size_t i = 0; i < f->nlabels; i++) {
        if (!labels || !labels[i])
            return -1;
        buf_printf(key, "%zu:%s", strlen(labels[i]), labels[i]);
    }
    if (f->nlabels == 0)
        buf_puts(key, "");
    return key->oom ? -1 : 0;
}

static void series_free(void *p)
{
    series_t *s = p;
    if (!s)
        return;
    if (s->values) {
        for (size_t i = 0; s->values[i]; i++)
            free(s->values[i]);
        free(s->values);
    }
    free(s->buckets);
    free(s);
}

static series_t *series_new(const metrics_family_t *f, const char *const *labels)
{
    series_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->values = calloc(f->nlabels + 1, sizeof(char *));
    if (!s->values)
        goto fail;
    for (size_t i = 0; i < f->nlabels; i++)
        if (!(s->values[i] = strdup(labels[i])))
            goto fail;
    if (f->type == METRICS_HISTOGRAM && !(s->buckets = calloc(f->nbounds + 1, sizeof(uint64_t))))
        goto fail;
    return s;
fail:
    series_free(s);
    return NULL;
}

/* The series for labels, created if absent. Called with f->lock held. */
static series_t *series_get(metrics_family_t *f, const char *const *labels, bool create)
{
    char stack[256];
    buf_t key = BUF_INIT;
    /* Most keys are short: format into a stack buffer first and only fall back to
     * the heap when they do not fit. */
    size_t need = 0;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (!labels || !labels[i])
            return NULL;
        need += strlen(labels[i]) + 24;
    }
    const char *k;
    if (need < sizeof(stack)) {
        size_t off = 0;
        stack[0] = '\0';
        for (size_t i = 0; i < f->nlabels; i++)
            off += (size_t)snprintf(stack + off, sizeof(stack) - off, "%zu:%s", strlen(labels[i]),
                                    labels[i]);
        k = stack;
    } else {
        if (series_key(f, labels, &key) < 0) {
            buf_free(&key);
            return NULL;
        }
        k = buf_str(&key);
    }
    series_t *s = strmap_get(f->series, k);
    if (!s && create) {
        s = series_new(f, labels);
        if (s && strmap_set(f->series, k, s) < 0) {
            series_free(s);
            s = NULL;
        }
    }
    buf_free(&key);
    return s;
}

/* ---- registry and families ---------------------------------------------- */

metrics_registry_t *metrics_registry_new(void)
{
    metrics_registry_t *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

static void family_free(metrics_family_t *f)
{
    if (!f)
        return;
    free(f->name);
    free(f->help);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->bounds);
    strmap_free(f->series);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void metrics_registry_free(metrics_registry_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->count; i++)
        family_free(reg->families[i]);
    free(reg->families);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static bool same_definition(const metrics_family_t *f, metrics_type_t type, const char *help,
                            const char *const *label_names, size_t nlabels, const double *bounds,
                            size_t nbounds)
{
    if (f->type != type || strcmp(f->help, help) != 0 || f->nlabels != nlabels)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], label_names[i]) != 0)
            return false;
    if (type != METRICS_HISTOGRAM)
        return true;
    if (f->nbounds != nbounds)
        return false;
    for (size_t i = 0; i < nbounds; i++)
        if (f->bounds[i] != bounds[i])
            return false;
    return true;
}

static metrics_family_t *family_new(metrics_registry_t *reg, metrics_type_t type, const char *name,
                                    const char *help, const char *const *label_names,
                                    const double *bounds, size_t nbounds)
{
    if (!reg || !valid_metric_name(name))
        return NULL;
    if (!help)
        help = "";
    size_t nlabels = 0;
    for (; label_names && label_names[nlabels]; nlabels++) {
        if (nlabels == METRICS_MAX_LABELS || !valid_label_name(label_names[nlabels]))
            return NULL;
        if (type == METRICS_HISTOGRAM && strcmp(label_names[nlabels], "le") == 0)
            return NULL;
        for (size_t j = 0; j < nlabels; j++)
            if (strcmp(label_names[j], label_names[nlabels]) == 0)
                return NULL;
    }
    if (type == METRICS_HISTOGRAM) {
        if (!bounds) {
            bounds = default_buckets;
            nbounds = UTIL_ARRAY_LEN(default_buckets);
        }
        for (size_t i = 0; i < nbounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                return NULL;
    }

    pthread_mutex_lock(&reg->lock);
    metrics_family_t *f = NULL;
    for (size_t i = 0; i < reg->count; i++) {
        if (strcmp(reg->families[i]->name, name) == 0) {
            f = reg->families[i];
            if (!same_definition(f, type, help, label_names, nlabels, bounds, nbounds))
                f = NULL;
            pthread_mutex_unlock(&reg->lock);
            return f;
        }
    }
    if (reg->count == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        metrics_family_t **grown = realloc(reg->families, cap * sizeof(void *));
        if (!grown)
            goto out;
        reg->families = grown;
        reg->cap = cap;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        goto out;
    pthread_mutex_init(&f->lock, NULL);
    f->type = type;
    f->nlabels = nlabels;
    f->name = strdup(name);
    f->help = strdup(help);
    f->series = strmap_new(series_free);
    bool ok = f->name && f->help && f->series;
    for (size_t i = 0; ok && i < nlabels; i++)
        ok = (f->labels[i] = strdup(label_names[i])) != NULL;
    if (ok && type == METRICS_HISTOGRAM && nbounds) {
        ok = (f->bounds = malloc(nbounds * sizeof(double))) != NULL;
        if (ok)
            memcpy(f->bounds, bounds, nbounds * sizeof(double));
    }
    f->nbounds = nbounds;
    /* A family without labels has exactly one series, shown from the start (as
     * client_golang does for plain metrics). */
    if (ok && nlabels == 0)
        ok = series_get(f, NULL, true) != NULL;
    if (!ok) {
        family_free(f);
        f = NULL;
        goto out;
    }
    reg->families[reg->count++] = f;
out:
    pthread_mutex_unlock(&reg->lock);
    return f;
}

metrics_family_t *metrics_counter_new(metrics_registry_t *reg, const char *name, const char *help,
                                      const char *const *label_names)
{
    return family_new(reg, METRICS_COUNTER, name, help, label_names, NULL, 0);
}

metrics_family_t *metrics_gauge_new(metrics_registry_t *reg, const char *name, const char *help,
                                    const char *const *label_names)
{
    return family_new(reg, METRICS_GAUGE, name, help, label_names, NULL, 0);
}

metrics_family_t *metrics_histogram_new(metrics_registry_t *reg, const char *name, const char *help,
                                        const char *const *label_names, const double *buckets,
                                        size_t count)
{
    if (!buckets && count)
        return NULL;
    return family_new(reg, METRICS_HISTOGRAM, name, help, label_names, buckets, count);
}

int metrics_exponential_buckets(double start, double factor, size_t count, double *out)
{
    if (!(start > 0) || !(factor > 1) || !out)
        return -1;
    for (size_t i = 0; i < count; i++, start *= factor)
        out[i] = start;
    return 0;
}

int metrics_linear_buckets(double start, double width, size_t count, double *out)
{
    if (!(width > 0) || !out)
        return -1;
    for (size_t i = 0; i < count; i++)
        out[i] = start + (double)i * width;
    return 0;
}

metrics_type_t metrics_family_type(const metrics_family_t *f)
{
    return f->type;
}

/* ---- observations ------------------------------------------------------- */

typedef enum { OP_ADD, OP_SET } value_op_t;

static int update_value(metrics_family_t *f, metrics_type_t type, const char *const *labels,
                        value_op_t op, double v)
{
    if (!f || f->type != type)
        return -1;
    pthread_mutex_lock(&f->lock);
    series_t *s = series_get(f, labels, true);
    if (s) {
        if (op == OP_ADD)
            s->value += v;
        else
            s->value = v;
    }
    pthread_mutex_unlock(&f->lock);
    return s ? 0 : -1;
}

int metrics_counter_add(metrics_family_t *f, const char *const *labels, double v)
{
    if (!(v >= 0))
        return -1;
    return update_value(f, METRICS_COUNTER, labels, OP_ADD, v);
}

int metrics_counter_inc(metrics_family_t *f, const char *const *labels)
{
    return update_value(f, METRICS_COUNTER, labels, OP_ADD, 1);
}

int metrics_counter_set(metrics_family_t *f, const char *const *labels, double v)
{
    return update_value(f, METRICS_COUNTER, labels, OP_SET, v);
}

int metrics_gauge_set(metrics_family_t *f, const char *const *labels, double v)
{
    return update_value(f, METRICS_GAUGE, labels, OP_SET, v);
}

int metrics_gauge_add(metrics_family_t *f, const char *const *labels, double v)
{
    return update_value(f, METRICS_GAUGE, labels, OP_ADD, v);
}

int metrics_gauge_inc(metrics_family_t *f, const char *const *labels)
{
    return update_value(f, METRICS_GAUGE, labels, OP_ADD, 1);
}

int metrics_gauge_dec(metrics_family_t *f, const char *const *labels)
{
    return update_value(f, METRICS_GAUGE, labels, OP_ADD, -1);
}

int metrics_histogram_observe(metrics_family_t *f, const char *const *labels, double v)
{
    if (!f || f->type != METRICS_HISTOGRAM)
        return -1;
    /* The first bound v fits under (le: less or equal); NaN fits none and lands in
     * +Inf only, as in client_golang. */
    size_t b = 0;
    while (b < f->nbounds && !(v <= f->bounds[b]))
        b++;
    pthread_mutex_lock(&f->lock);
    series_t *s = series_get(f, labels, true);
    if (s) {
        s->buckets[b]++;
        s->count++;
        s->sum += v;
    }
    pthread_mutex_unlock(&f->lock);
    return s ? 0 : -1;
}

bool metrics_family_delete(metrics_family_t *f, const char *const *labels)
{
    if (!f || f->nlabels == 0)
        return false;
    buf_t key = BUF_INIT;
    bool found = false;
    if (series_key(f, labels, &key) == 0) {
        pthread_mutex_lock(&f->lock);
        found = strmap_del(f->series, buf_str(&key));
        pthread_mutex_unlock(&f->lock);
    }
    buf_free(&key);
    return found;
}

void metrics_family_clear(metrics_family_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    if (f->nlabels == 0) {
        series_t *s = series_get(f, NULL, false);
        if (s) {
            s->value = 0;
            s->count = 0;
            s->sum = 0;
            if (s->buckets)
                memset(s->buckets, 0, (f->nbounds + 1) * sizeof(uint64_t));
        }
    } else {
        strmap_t *fresh = strmap_new(series_free);
        if (fresh) {
            strmap_free(f->series);
            f->series = fresh;
        } else {
            /* Out of memory for an empty map: delete one by one instead. */
            const char *key;
            void *value;
            strmap_iter_t it;
            strmap_iter_init(&it, f->series);
            while (strmap_iter_next(&it, &key, &value)) {
                strmap_del(f->series, key);
                strmap_iter_init(&it, f->series);
            }
        }
    }
    pthread_mutex_unlock(&f->lock);
}

void metrics_family_set_collect(metrics_family_t *f, metrics_collect_fn fn, void *data)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->collect = fn;
    f->collect_data = data;
    pthread_mutex_unlock(&f->lock);
}

int metrics_get(metrics_family_t *f, const char *const *labels, double *out)
{
    if (!f || f->type == METRICS_HISTOGRAM)
        return -1;
    pthread_mutex_lock(&f->lock);
    series_t *s = series_get(f, labels, false);
    if (s && out)
        *out = s->value;
    pthread_mutex_unlock(&f->lock);
    return s ? 0 : -1;
}

int metrics_histogram_get(metrics_family_t *f, const char *const *labels, uint64_t *count,
                          double *sum)
{
    if (!f || f->type != METRICS_HISTOGRAM)
        return -1;
    pthread_mutex_lock(&f->lock);
    series_t *s = series_get(f, labels, false);
    if (s) {
        if (count)
            *count = s->count;
        if (sum)
            *sum = s->sum;
    }
    pthread_mutex_unlock(&f->lock);
    return s ? 0 : -1;
}

static void gauge_func_collect(metrics_family_t *f, void *data)
{
    (void)data;
    double (*fn)(void *);
    void *fn_data;
    pthread_mutex_lock(&f->lock);
    fn = f->gauge_fn;
    fn_data = f->gauge_data;
    pthread_mutex_unlock(&f->lock);
    if (fn)
        metrics_gauge_set(f, NULL, fn(fn_data));
}

metrics_family_t *metrics_gauge_func_new(metrics_registry_t *reg, const char *name,
                                         const char *help, double (*fn)(void *data), void *data)
{
    if (!fn)
        return NULL;
    metrics_family_t *f = metrics_gauge_new(reg, name, help, NULL);
    if (!f)
        return NULL;
    pthread_mutex_lock(&f->lock);
    f->gauge_fn = fn;
    f->gauge_data = data;
    f->collect = gauge_func_collect;
    f->collect_data = NULL;
    pthread_mutex_unlock(&f->lock);
    return f;
}

/* ---- exposition --------------------------------------------------------- */

int metrics_format_value(buf_t *out, double v)
{
    if (isnan(v))
        return buf_puts(out, "NaN");
    if (isinf(v))
        return buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return buf_puts(out, signbit(v) ? "-0" : "0");

    /* The shortest %e that reads back as v gives Go's shortest digits. */
    char e[48];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    const char *s = e;
    bool negative = *s == '-';
    if (negative)
        s++;
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s) && nd < (int)sizeof(digits) - 1)
            digits[nd++] = *s;
    int exp = atoi(*s == 'e' ? s + 1 : s);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';

    if (negative)
        buf_putc(out, '-');
    /* strconv.FormatFloat(v, 'g', -1, 64): exponent form when the decimal exponent is
     * below -4 or at least 6 (the 'shortest' precision rule). */
    if (exp < -4 || exp >= 6) {
        buf_putc(out, digits[0]);
        if (nd > 1) {
            buf_putc(out, '.');
            buf_append(out, digits + 1, (size_t)nd - 1);
        }
        return buf_printf(out, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    int point = exp + 1; /* digits before the decimal point */
    if (point <= 0) {
        buf_puts(out, "0.");
        for (int i = 0; i < -point; i++)
            buf_putc(out, '0');
        return buf_append(out, digits, (size_t)nd);
    }
    for (int i = 0; i < point; i++)
        buf_putc(out, i < nd ? digits[i] : '0');
    if (nd > point) {
        buf_putc(out, '.');
        buf_append(out, digits + point, (size_t)(nd - point));
    }
    return out->oom ? -1 : 0;
}

static void put_help_escaped(buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(out, "\\\\");
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *s);
    }
}

static void put_label_value_escaped(buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(out, "\\\\");
        else if (*s == '"')
            buf_puts(out, "\\\"");
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *s);
    }
}

/* name{labels[,le="bound"]} value\n */
static void put_sample(buf_t *out, const metrics_family_t *f, const char *suffix, const series_t *s,
                       const char *le, double value)
{
    buf_puts(out, f->name);
    buf_puts(out, suffix);
    if (f->nlabels || le) {
        buf_putc(out, '{');
        for (size_t i = 0; i < f->nlabels; i++) {
            if (i)
                buf_putc(out, ',');
            buf_printf(out, "%s=\"", f->labels[i]);
            put_label_value_escaped(out, s->values[i]);
            buf_putc(out, '"');
        }
        if (le)
            buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
        buf_putc(out, '}');
    }
    buf_putc(out, ' ');
    metrics_format_value(out, value);
    buf_putc(out, '\n');
}

static int compare_series(const void *a, const void *b, void *nlabels)
{
    const series_t *x = *(const series_t *const *)a, *y = *(const series_t *const *)b;
    for (size_t i = 0; i < *(const size_t *)nlabels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

static int compare_families(const void *a, const void *b)
{
    const metrics_family_t *x = *(const metrics_family_t *const *)a;
    const metrics_family_t *y = *(const metrics_family_t *const *)b;
    return strcmp(x->name, y->name);
}

static const char *type_name(metrics_type_t t)
{
    switch (t) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_GAUGE:
        return "gauge";
    case METRICS_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static int write_family(metrics_family_t *f, buf_t *out)
{
    metrics_collect_fn collect;
    void *collect_data;
    pthread_mutex_lock(&f->lock);
    collect = f->collect;
    collect_data = f->collect_data;
    pthread_mutex_unlock(&f->lock);
    if (collect)
        collect(f, collect_data);

    pthread_mutex_lock(&f->lock);
    size_t n = strmap_len(f->series);
    if (n == 0) {
        pthread_mutex_unlock(&f->lock);
        return 0;
    }
    series_t **sorted = malloc(n * sizeof(void *)); /* an array of pointers */
    if (!sorted) {
        pthread_mutex_unlock(&f->lock);
        return -1;
    }
    strmap_iter_t it;
    const char *key;
    void *value;
    size_t i = 0;
    strmap_iter_init(&it, f->series);
    while (i < n && strmap_iter_next(&it, &key, &value))
        sorted[i++] = value;
    qsort_r(sorted, n, sizeof(void *), compare_series, &f->nlabels);

    buf_printf(out, "# HELP %s ", f->name);
    put_help_escaped(out, f->help);
    buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
    buf_t le = BUF_INIT;
    for (i = 0; i < n; i++) {
        const series_t *s = sorted[i];
        if (f->type != METRICS_HISTOGRAM) {
            put_sample(out, f, "", s, NULL, s->value);
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t b = 0; b < f->nbounds; b++) {
            cumulative += s->buckets[b];
            buf_reset(&le);
            metrics_format_value(&le, f->bounds[b]);
            put_sample(out, f, "_bucket", s, buf_str(&le), (double)cumulative);
        }
        put_sample(out, f, "_bucket", s, "+Inf", (double)s->count);
        put_sample(out, f, "_sum", s, NULL, s->sum);
        put_sample(out, f, "_count", s, NULL, (double)s->count);
    }
    pthread_mutex_unlock(&f->lock);
    buf_free(&le);
    free(sorted);
    return out->oom ? -1 : 0;
}

int metrics_registry_write(metrics_registry_t *reg, buf_t *out)
{
    if (!reg || !out)
        return -1;
    /* Families are never removed before the registry is freed, so a snapshot of
     * the list can be walked without the registry lock (collect callbacks may then
     * take whatever locks they need). */
    pthread_mutex_lock(&reg->lock);
    size_t n = reg->count;
    metrics_family_t **families = malloc((n ? n : 1) * sizeof(void *)); /* array of pointers */
    if (families && n)
        memcpy(families, reg->families, n * sizeof(void *));
    pthread_mutex_unlock(&reg->lock);
    if (!families)
        return -1;
    qsort(families, n, sizeof(void *), compare_families);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (write_family(families[i], out) < 0)
            rc = -1;
    free(families);
    return rc || out->oom ? -1 : 0;
}
