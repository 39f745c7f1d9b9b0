/*
 * metrics/process: the standard process_* families, read from /proc/self at scrape
 * time, with the names and meanings of client_golang's process collector so existing
 * dashboards and alerts work unchanged.
 */
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The fields of /proc/self/stat we use (see proc(5)). */
typedef struct proc_stat {
    double utime_ticks; /* field 14 */
    double stime_ticks; /* field 15 */
    double start_ticks; /* field 22: since boot */
    double vsize_bytes; /* field 23 */
    double rss_pages;   /* field 24 */
} proc_stat_t;

static int read_proc_stat(proc_stat_t *out)
{
    char *text = util_read_file("/proc/self/stat", NULL);
    if (!text)
        return -1;
    /* The command name (field 2) is in parentheses and may itself contain spaces
     * and parentheses: fields resume after the last ')'. */
    char *p = strrchr(text, ')');
    int rc = -1;
    if (p) {
        unsigned long long f[24] = {0};
        /* Fields 3 (state) .. 24: skip the state character, then parse numbers. */
        p += 2;
        if (*p)
            p++;
        int n = 0;
        for (int field = 4; field <= 24 && *p; field++, n++) {
            char *end;
            f[field - 1] = strtoull(p, &end, 10);
            if (end == p)
                break;
            p = end;
        }
        if (n == 21) {
            out->utime_ticks = (double)f[13];
            out->stime_ticks = (double)f[14];
            out->start_ticks = (double)f[21];
            out->vsize_bytes = (double)f[22];
            out->rss_pages = (double)f[23];
            rc = 0;
        }
    }
    free(text);
    return rc;
}

static double boot_time(void)
{
    char *text = util_read_file("/proc/stat", NULL);
    double btime = 0;
    if (!text)
        return 0;
    const char *line = strstr(text, "\nbtime ");
    if (line)
        btime = strtod(line + 7, NULL);
    free(text);
    return btime;
}

typedef enum { P_CPU, P_RSS, P_VSIZE, P_START, P_OPEN_FDS, P_MAX_FDS } process_metric_t;

static const process_metric_t metric_ids[] = {P_CPU,   P_RSS,      P_VSIZE,
                                              P_START, P_OPEN_FDS, P_MAX_FDS};

static double count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    double n = 0;
    const struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    /* opendir's own descriptor is one of them. */
    return n - 1;
}

static void collect_process(metrics_family_t *f, void *data)
{
    process_metric_t which = *(const process_metric_t *)data;
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    proc_stat_t st;
    struct rlimit rl;
    double v;

    switch (which) {
    case P_OPEN_FDS:
        v = count_open_fds();
        if (v >= 0)
            metrics_gauge_set(f, NULL, v);
        return;
    case P_MAX_FDS:
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            metrics_gauge_set(f, NULL, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
        return;
    default:
        break;
    }
    if (ticks <= 0 || read_proc_stat(&st) < 0)
        return;
    switch (which) {
    case P_CPU:
        metrics_counter_set(f, NULL, (st.utime_ticks + st.stime_ticks) / (double)ticks);
        break;
    case P_RSS:
        metrics_gauge_set(f, NULL, st.rss_pages * (double)page);
        break;
    case P_VSIZE:
        metrics_gauge_set(f, NULL, st.vsize_bytes);
        break;
    case P_START:
        metrics_gauge_set(f, NULL, boot_time() + st.start_ticks / (double)ticks);
        break;
    default:
        break;
    }
}

int metrics_process_collector_register(metrics_registry_t *reg)
{
    static const struct {
        const char *name;
        const char *help;
        metrics_type_t type;
    } defs[] = {
        [P_CPU] = {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                   METRICS_COUNTER},
        [P_RSS] = {"process_resident_memory_bytes", "Resident memory size in bytes.",
                   METRICS_GAUGE},
        [P_VSIZE] = {"process_virtual_memory_bytes", "Virtual memory size in bytes.",
                     METRICS_GAUGE},
        [P_START] = {"process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.", METRICS_GAUGE},
        [P_OPEN_FDS] = {"process_open_fds", "Number of open file descriptors.", METRICS_GAUGE},
        [P_MAX_FDS] = {"process_max_fds", "Maximum number of open file descriptors.",
                       METRICS_GAUGE},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(defs); i++) {
        metrics_family_t *f = defs[i].type == METRICS_COUNTER
                                  ? metrics_counter_new(reg, defs[i].name, defs[i].help, NULL)
                                  : metrics_gauge_new(reg, defs[i].name, defs[i].help, NULL);
        if (!f)
            return -1;
        metrics_family_set_collect(f, collect_process, (void *)&metric_ids[i]);
    }
    return 0;
}
