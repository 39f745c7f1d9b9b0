/*
 * build/proc: running the programs a build needs (git, assemble, save-artifacts), with
 * their output streaming to ours (the container log) or captured.
 *
 * A child runs in its own process group so that a SIGTERM to the build (the pod being
 * deleted, a timeout) reaches the whole script and what it started. The one piece of
 * global state here is the pid the signal handler forwards to: handlers take no data.
 */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t forward_pgid;

static void forward_signal(int sig)
{
    if (forward_pgid > 0)
        kill(-(pid_t)forward_pgid, sig);
}

char **build_env_merge(char *const *base, char *const *overrides, const char *const *unset)
{
    char **out = calloc(1, sizeof(char *));
    size_t len = 0;
    if (!out)
        return NULL;
    char *const *sources[2] = {base ? base : environ, overrides};
    for (size_t s = 0; s < 2; s++) {
        for (char *const *kv = sources[s]; kv && *kv; kv++) {
            const char *eq = strchr(*kv, '=');
            if (!eq)
                continue;
            size_t n = (size_t)(eq - *kv);
            bool dropped = false;
            for (const char *const *u = s == 0 ? unset : NULL; u && *u && !dropped; u++)
                dropped = strlen(*u) == n && strncmp(*u, *kv, n) == 0;
            if (dropped)
                continue;
            size_t i = 0;
            for (; i < len; i++)
                if (strncmp(out[i], *kv, n + 1) == 0)
                    break;
            if (i < len) {
                char *copy = util_strdup(*kv);
                if (!copy) {
                    build_strv_free(out);
                    return NULL;
                }
                free(out[i]);
                out[i] = copy;
            } else if (build_strv_push(&out, &len, *kv) < 0) {
                build_strv_free(out);
                return NULL;
            }
        }
    }
    return out;
}

static void child(const build_cmd_t *cmd, int out_fd)
{
    setpgid(0, 0);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0)
        dup2(null, 0);
    if (out_fd > 2)
        dup2(out_fd, 1);
    if (cmd->quiet_stderr && null >= 0)
        dup2(null, 2);
    if (cmd->cwd && chdir(cmd->cwd) < 0) {
        dprintf(2, "s2i-builder: chdir %s: %s\n", cmd->cwd, strerror(errno));
        _exit(127);
    }
    char *const *env = cmd->env ? cmd->env : environ;
    execvpe(cmd->argv[0], (char *const *)cmd->argv, env);
    int e = errno;
    if (e == ENOEXEC || e == EACCES) {
        /* A script without a #! line (or not executable): what S2I does, sh runs it. */
        size_t n = 0;
        while (cmd->argv[n])
            n++;
        const char **argv = calloc(n + 2, sizeof(char *));
        if (argv) {
            argv[0] = "/bin/sh";
            for (size_t i = 0; i < n; i++)
                argv[i + 1] = cmd->argv[i];
            execve("/bin/sh", (char *const *)argv, env);
        }
    }
    dprintf(2, "s2i-builder: cannot run %s: %s\n", cmd->argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

int build_cmd_run(const build_cmd_t *cmd, char **out)
{
    int pipefd[2] = {-1, -1};
    if (out)
        *out = NULL;
    if (cmd->capture && pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    struct sigaction sa = {0}, old_term, old_int;
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGINT, &old_int, NULL);
        if (cmd->capture) {
            close(pipefd[0]);
            close(pipefd[1]);
        }
        errno = e;
        return -1;
    }
    if (pid == 0)
        child(cmd, cmd->capture ? pipefd[1] : cmd->stdout_fd);
    setpgid(pid, pid);
    forward_pgid = pid;
    buf_t b = BUF_INIT;
    if (cmd->capture) {
        close(pipefd[1]);
        char chunk[4096];
        for (;;) {
            ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            buf_append(&b, chunk, (size_t)n);
        }
        close(pipefd[0]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    forward_pgid = 0;
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    if (cmd->capture && out) {
        buf_puts(&b, "");
        while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.data[--b.len] = '\0';
        *out = buf_steal(&b);
    }
    buf_free(&b);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
