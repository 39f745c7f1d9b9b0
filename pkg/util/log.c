/*
 * log: klog-like leveled logging. Text lines look like klog's
 *   I1126 06:33:38.123456   1234 msg key="value" key2="value"
 * and JSON lines like controller-runtime's zap output
 *   {"ts":"2026-11-26T06:33:38.123Z","level":"info","msg":"...","key":"value"}
 * Each line is written with a single write(2) so concurrent threads never interleave.
 */
#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static atomic_int log_verbosity = 0;
static atomic_int log_format = LOG_FORMAT_TEXT;
static atomic_int log_fd = 2;

void log_set_verbosity(int v)
{
    atomic_store(&log_verbosity, v);
}

int log_get_verbosity(void)
{
    return atomic_load(&log_verbosity);
}

void log_set_format(log_format_t f)
{
    atomic_store(&log_format, (int)f);
}

void log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

bool log_enabled(int v)
{
    return v <= atomic_load(&log_verbosity);
}

static void put_value(buf_t *b, const char *v)
{
    buf_putc(b, '"');
    buf_put_json_escaped(b, v ? v : "<nil>");
    buf_putc(b, '"');
}

static void emit(char level, int v, const char *msg, va_list ap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    buf_t b = BUF_INIT;
    if (atomic_load(&log_format) == LOG_FORMAT_JSON) {
        const char *name = level == 'E' ? "error" : level == 'W' ? "warn" : "info";
        buf_printf(&b, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (long)(tv.tv_usec / 1000), name);
        if (v > 0)
            buf_printf(&b, ",\"v\":%d", v);
        buf_puts(&b, ",\"msg\":");
        put_value(&b, msg);
        for (;;) {
            const char *k = va_arg(ap, const char *);
            if (!k)
                break;
            const char *val = va_arg(ap, const char *);
            buf_putc(&b, ',');
            put_value(&b, k);
            buf_putc(&b, ':');
            put_value(&b, val);
        }
        buf_puts(&b, "}\n");
    } else {
        buf_printf(&b, "%c%02d%02d %02d:%02d:%02d.%06ld %7ld %s", level, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, (long)syscall(SYS_gettid),
                   msg);
        for (;;) {
            const char *k = va_arg(ap, const char *);
            if (!k)
                break;
            const char *val = va_arg(ap, const char *);
            buf_printf(&b, " %s=", k);
            put_value(&b, val);
        }
        buf_putc(&b, '\n');
    }
    if (!b.oom) {
        const char *p = b.data;
        size_t left = b.len;
        while (left > 0) {
            ssize_t n = write(atomic_load(&log_fd), p, left);
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
    }
    buf_free(&b);
}

void log_error(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit('E', 0, msg, ap);
    va_end(ap);
}

void log_warn(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit('W', 0, msg, ap);
    va_end(ap);
}

void log_info(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit('I', 0, msg, ap);
    va_end(ap);
}

void log_v(int v, const char *msg, ...)
{
    if (!log_enabled(v))
        return;
    va_list ap;
    va_start(ap, msg);
    emit('I', v, msg, ap);
    va_end(ap);
}
