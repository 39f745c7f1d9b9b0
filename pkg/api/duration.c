/*
 * api/duration: Go's time.ParseDuration and Duration.String, which is how Kubernetes (and so
 * our spec.timeout and spec.pendingTimeout) spells durations: "90s", "30m", "1h30m", "1.5h".
 * Same grammar, same units, same overflow limits (int64 nanoseconds), same output.
 */
#include <string.h>

#include "api/api_internal.h"

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S  1000000000ULL
#define LIMIT     (1ULL << 63)

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", NS_PER_US},
    {"\xc2\xb5s", NS_PER_US}, /* U+00B5 micro sign */
    {"\xce\xbcs", NS_PER_US}, /* U+03BC Greek mu */
    {"ms", NS_PER_MS},
    {"s", NS_PER_S},
    {"m", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Leading [0-9]*; -1 on overflow past 2^63. */
static int leading_int(const char **s, uint64_t *out)
{
    uint64_t x = 0;
    for (; is_digit(**s); (*s)++) {
        if (x > LIMIT / 10)
            return -1;
        x = x * 10 + (uint64_t)(**s - '0');
        if (x > LIMIT)
            return -1;
    }
    *out = x;
    return 0;
}

/* Leading [0-9]* after the point; stops gaining precision instead of overflowing. */
static void leading_fraction(const char **s, uint64_t *out, double *scale)
{
    uint64_t x = 0;
    bool overflow = false;
    *scale = 1;
    for (; is_digit(**s); (*s)++) {
        if (overflow)
            continue;
        if (x > (LIMIT - 1) / 10) {
            overflow = true;
            continue;
        }
        uint64_t y = x * 10 + (uint64_t)(**s - '0');
        if (y > LIMIT) {
            overflow = true;
            continue;
        }
        x = y;
        *scale *= 10;
    }
    *out = x;
}

int api_duration_parse(const char *s, int64_t *out_ns)
{
    if (!s)
        return -1;
    bool negative = false;
    if (*s == '-' || *s == '+') {
        negative = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    if (!*s)
        return -1;
    uint64_t total = 0;
    while (*s) {
        uint64_t whole = 0, fraction = 0;
        double scale = 1;
        if (!(*s == '.' || is_digit(*s)))
            return -1;
        const char *start = s;
        if (leading_int(&s, &whole) < 0)
            return -1;
        bool pre = s != start, post = false;
        if (*s == '.') {
            s++;
            const char *fraction_start = s;
            leading_fraction(&s, &fraction, &scale);
            post = s != fraction_start;
        }
        if (!pre && !post)
            return -1;
        size_t unit_len = 0;
        while (s[unit_len] && s[unit_len] != '.' && !is_digit(s[unit_len]))
            unit_len++;
        if (unit_len == 0)
            return -1;
        uint64_t unit = 0;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(units); i++)
            if (strlen(units[i].name) == unit_len && memcmp(units[i].name, s, unit_len) == 0)
                unit = units[i].ns;
        if (unit == 0)
            return -1;
        s += unit_len;
        if (whole > LIMIT / unit)
            return -1;
        whole *= unit;
        if (fraction > 0) {
            /* As Go: float64 is exact enough for fractions of the largest unit. */
            whole += (uint64_t)((double)fraction * ((double)unit / scale));
            if (whole > LIMIT)
                return -1;
        }
        total += whole;
        if (total > LIMIT)
            return -1;
    }
    if (negative) {
        *out_ns = total == LIMIT ? INT64_MIN : -(int64_t)total;
        return 0;
    }
    if (total > LIMIT - 1)
        return -1;
    *out_ns = (int64_t)total;
    return 0;
}

/* Writes v/10^prec's fraction (".5", trailing zeros and a bare point dropped) ending at *w;
 * returns v/10^prec. */
static uint64_t format_fraction(char *buf, size_t *w, uint64_t v, int prec)
{
    bool print = false;
    for (int i = 0; i < prec; i++) {
        uint64_t digit = v % 10;
        print = print || digit != 0;
        if (print)
            buf[--*w] = (char)('0' + digit);
        v /= 10;
    }
    if (print)
        buf[--*w] = '.';
    return v;
}

static void format_int(char *buf, size_t *w, uint64_t v)
{
    if (v == 0) {
        buf[--*w] = '0';
        return;
    }
    while (v > 0) {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    }
}

void api_duration_format(int64_t ns, char out[static 40])
{
    char buf[32]; /* the longest, "-2562047h47m16.854775808s", is 25 */
    size_t w = sizeof buf;
    bool negative = ns < 0;
    uint64_t u = negative ? 0 - (uint64_t)ns : (uint64_t)ns;
    if (u < NS_PER_S) {
        int prec = 0;
        buf[--w] = 's';
        if (u == 0) {
            buf[--w] = '0';
        } else {
            if (u < NS_PER_US) {
                buf[--w] = 'n';
            } else if (u < NS_PER_MS) {
                prec = 3;
                buf[--w] = '\xb5'; /* U+00B5, as Go writes it */
                buf[--w] = '\xc2';
            } else {
                prec = 6;
                buf[--w] = 'm';
            }
            u = format_fraction(buf, &w, u, prec);
            format_int(buf, &w, u);
        }
    } else {
        buf[--w] = 's';
        u = format_fraction(buf, &w, u, 9);
        format_int(buf, &w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            format_int(buf, &w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                format_int(buf, &w, u);
            }
        }
    }
    if (negative)
        buf[--w] = '-';
    memcpy(out, buf + w, sizeof buf - w);
    out[sizeof buf - w] = '\0';
}

static int run_duration(const char *text, int64_t default_ns, int64_t *out_ns)
{
    if (!text || !*text) {
        *out_ns = default_ns;
        return 0;
    }
    return api_duration_parse(text, out_ns);
}

int api_s2irun_timeout(const api_s2irun_t *run, int64_t default_ns, int64_t *out_ns)
{
    return run_duration(run->spec.timeout, default_ns, out_ns);
}

int api_s2irun_pending_timeout(const api_s2irun_t *run, int64_t default_ns, int64_t *out_ns)
{
    return run_duration(run->spec.pending_timeout, default_ns, out_ns);
}
