/*
 * registry/reference: image references as docker reads them.
 *
 * The grammar is distribution's reference package; the normalisation (docker.io,
 * library/, :latest) is docker's ParseNormalizedNamed + TagNameOnly, so that a user's
 * "nginx" means here what it means on their laptop.
 */
#include "registry/registry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define NAME_MAX_TOTAL 255
#define TAG_MAX        128

static int fail(char **err, const char *fmt, const char *s)
{
    if (err)
        *err = util_asprintf(fmt, s);
    return -1;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )* */
static bool path_component_valid(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || !is_lower_alnum(s[0]))
        return false;
    while (i < len) {
        while (i < len && is_lower_alnum(s[i]))
            i++;
        if (i == len)
            return true;
        size_t sep = i;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < len && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < len && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == len || !is_lower_alnum(s[i]) || i == sep)
            return false;
    }
    return true;
}

static bool path_valid(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (!path_component_valid(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9] */
static bool domain_name_valid(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t n = i - start;
            if (n == 0 || !isalnum((unsigned char)s[start]) || !isalnum((unsigned char)s[i - 1]))
                return false;
            for (size_t k = start; k < i; k++)
                if (!isalnum((unsigned char)s[k]) && s[k] != '-')
                    return false;
            start = i + 1;
        }
    }
    return true;
}

/* host [":" port], host a domain name, an IPv4 address (a domain name syntactically) or
 * "[" IPv6 "]". */
static bool domain_valid(const char *s, size_t len)
{
    size_t host_len = len;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || close == s + 1)
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return false;
        host_len = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon)
            host_len = (size_t)(colon - s);
        if (!domain_name_valid(s, host_len))
            return false;
    }
    if (host_len == len)
        return true;
    if (s[host_len] != ':' || host_len + 1 == len)
        return false;
    for (size_t i = host_len + 1; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool tag_valid(const char *s, size_t len)
{
    if (len == 0 || len > TAG_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool word = isalnum((unsigned char)c) || c == '_';
        if (!word && (i == 0 || (c != '.' && c != '-')))
            return false;
    }
    return true;
}

bool registry_digest_valid(const char *digest)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0)
        return false;
    const char *hex = digest + 7;
    size_t n = 0;
    for (; hex[n]; n++)
        if (!((hex[n] >= '0' && hex[n] <= '9') || (hex[n] >= 'a' && hex[n] <= 'f')))
            return false;
    return n == 64;
}

static bool is_64_hex(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

void registry_ref_clear(registry_ref_t *r)
{
    if (!r)
        return;
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

int registry_ref_parse(const char *s, registry_ref_t *out, char **err)
{
    if (err)
        *err = NULL;
    if (!s || !*s)
        return fail(err, "invalid reference %s: empty", "\"\"");
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return fail(err,
                        "invalid reference \"%s\": contains whitespace or a control or "
                        "non-ASCII character",
                        s);
    size_t total = strlen(s);
    const char *at = strchr(s, '@');
    size_t name_end = at ? (size_t)(at - s) : total;
    const char *digest = NULL;
    if (at) {
        digest = at + 1;
        if (strncmp(digest, "sha256:", 7) != 0 && strchr(digest, ':'))
            return fail(err,
                        "invalid reference \"%s\": unsupported digest algorithm "
                        "(only sha256)",
                        s);
        if (!registry_digest_valid(digest))
            return fail(err,
                        "invalid reference \"%s\": digest must be sha256: followed by "
                        "64 lower-case hex digits",
                        s);
    }
    /* A ':' after the last '/' of the name separates the tag. */
    const char *tag_colon = NULL;
    for (size_t i = 0; i < name_end; i++) {
        if (s[i] == '/') {
            tag_colon = NULL;
        } else if (s[i] == ':') {
            tag_colon = s + i;
        }
    }
    size_t repo_end = tag_colon ? (size_t)(tag_colon - s) : name_end;
    if (tag_colon && !tag_valid(tag_colon + 1, name_end - repo_end - 1))
        return fail(err,
                    "invalid reference \"%s\": invalid tag (1-128 of [A-Za-z0-9_.-], "
                    "not starting with '.' or '-')",
                    s);
    if (repo_end == 0)
        return fail(err, "invalid reference \"%s\": no repository name", s);
    if (repo_end > NAME_MAX_TOTAL)
        return fail(err, "invalid reference \"%.80s...\": name longer than 255 characters", s);

    /* docker's splitDockerDomain */
    const char *slash = memchr(s, '/', repo_end);
    size_t domain_len = 0;
    bool explicit_domain = false;
    if (slash) {
        domain_len = (size_t)(slash - s);
        bool has_dot_colon =
            memchr(s, '.', domain_len) || memchr(s, ':', domain_len) || s[0] == '[';
        bool localhost = domain_len == 9 && strncmp(s, "localhost", 9) == 0;
        bool upper = false;
        for (size_t i = 0; i < domain_len; i++)
            upper |= isupper((unsigned char)s[i]) != 0;
        explicit_domain = has_dot_colon || localhost || upper;
    }
    const char *path = explicit_domain && slash ? slash + 1 : s;
    size_t path_len = repo_end - (size_t)(path - s);
    if (explicit_domain && !domain_valid(s, domain_len))
        return fail(err, "invalid reference \"%s\": invalid registry host", s);
    if (!explicit_domain && !slash && is_64_hex(path, path_len))
        return fail(err,
                    "invalid reference \"%s\": a 64-character hexadecimal string is an "
                    "image ID, not a repository name",
                    s);
    for (size_t i = 0; i < path_len; i++)
        if (isupper((unsigned char)path[i]))
            return fail(err, "invalid reference \"%s\": repository name must be lowercase", s);
    if (!path_valid(path, path_len))
        return fail(err,
                    "invalid reference \"%s\": invalid repository name (components of "
                    "[a-z0-9] separated by '.', '_', '__' or '-', joined by '/')",
                    s);

    registry_ref_t r = REGISTRY_REF_INIT;
    buf_t b = BUF_INIT;
    if (explicit_domain) {
        /* kept as written: lower-casing "Host/x" would turn it into docker.io/host/x */
        r.registry = strndup(s, domain_len);
        if (r.registry && strcmp(r.registry, "index.docker.io") == 0) {
            free(r.registry);
            r.registry = util_strdup(REGISTRY_DOCKER_HUB);
        }
    } else {
        r.registry = util_strdup(REGISTRY_DOCKER_HUB);
    }
    if (r.registry && strcmp(r.registry, REGISTRY_DOCKER_HUB) == 0 && !memchr(path, '/', path_len))
        buf_puts(&b, "library/");
    buf_append(&b, path, path_len);
    r.repository = buf_steal(&b);
    if (tag_colon)
        r.tag = strndup(tag_colon + 1, name_end - repo_end - 1);
    else if (!digest)
        r.tag = util_strdup("latest");
    if (digest)
        r.digest = util_strdup(digest);
    if (!r.registry || !r.repository || ((tag_colon || !digest) && !r.tag) ||
        (digest && !r.digest)) {
        registry_ref_clear(&r);
        return fail(err, "%s", "out of memory");
    }
    /* as docker: the limit applies to the normalised name, "docker.io/library/..." */
    if (strlen(r.registry) + 1 + strlen(r.repository) > NAME_MAX_TOTAL) {
        registry_ref_clear(&r);
        return fail(err, "invalid reference \"%.80s...\": name longer than 255 characters", s);
    }
    *out = r;
    return 0;
}

int registry_ref_copy(registry_ref_t *dst, const registry_ref_t *src)
{
    registry_ref_t r = REGISTRY_REF_INIT;
    r.registry = util_strdup(src->registry);
    r.repository = util_strdup(src->repository);
    r.tag = util_strdup(src->tag);
    r.digest = util_strdup(src->digest);
    if ((src->registry && !r.registry) || (src->repository && !r.repository) ||
        (src->tag && !r.tag) || (src->digest && !r.digest)) {
        registry_ref_clear(&r);
        return -1;
    }
    *dst = r;
    return 0;
}

char *registry_ref_string(const registry_ref_t *r)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s/%s", r->registry ? r->registry : REGISTRY_DOCKER_HUB,
               r->repository ? r->repository : "");
    if (r->tag)
        buf_printf(&b, ":%s", r->tag);
    if (r->digest)
        buf_printf(&b, "@%s", r->digest);
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

const char *registry_ref_api_host(const registry_ref_t *r)
{
    if (!r->registry || strcmp(r->registry, REGISTRY_DOCKER_HUB) == 0)
        return REGISTRY_DOCKER_HUB_API;
    return r->registry;
}

const char *registry_ref_reference(const registry_ref_t *r)
{
    return r->digest ? r->digest : r->tag;
}
