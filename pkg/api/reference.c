/*
 * api/reference: docker image references as github.com/docker/distribution/reference parses
 * them (the library upstream's webhooks validate builder images and tags with), and the
 * docker.io normalisation of ParseNormalizedNamed.
 *
 * The grammar, from the library's regexp.go:
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] component ( "/" component )*
 *   domain     := domain-component ( "." domain-component )* [ ":" [0-9]+ ]
 *   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [\w][\w.-]{0,127}
 *   digest     := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )* ":" [0-9a-fA-F]{32,}
 * Matching is done by hand rather than with regex(3): a tag can only follow the last '/', a
 * digest only the first '@', and the optional domain is taken whenever the rest still parses
 * (the leftmost-first preference of Go's regexp), so every split is unambiguous.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define NAME_TOTAL_LENGTH_MAX 255
#define DEFAULT_DOMAIN        "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_REPO_NAME    "library"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* component: lower-case alphanumeric runs joined by ".", "_", "__" or one or more "-". */
static bool match_component(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        if (i >= n || !is_lower_alnum(s[i]))
            return false;
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
    }
}

static bool match_path(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (!match_component(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

static bool match_domain_component(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool match_domain(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t host = colon ? (size_t)(colon - s) : n;
    if (colon) {
        size_t port = n - host - 1;
        if (port == 0)
            return false;
        for (size_t i = host + 1; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= host; i++) {
        if (i == host || s[i] == '.') {
            if (!match_domain_component(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* The name, with the length of its domain (0 when it has none). */
static bool match_name(const char *s, size_t n, size_t *domain_len)
{
    const char *slash = memchr(s, '/', n);
    if (slash) {
        size_t d = (size_t)(slash - s);
        if (match_domain(s, d) && match_path(slash + 1, n - d - 1)) {
            *domain_len = d;
            return true;
        }
    }
    *domain_len = 0;
    return match_path(s, n);
}

static bool match_tag(const char *s, size_t n)
{
    if (n == 0 || n > 128 || !is_word(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool match_digest(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return false;
    size_t i = 0, n = (size_t)(colon - s);
    for (;;) {
        if (i >= n || !is_alpha(s[i]))
            return false;
        i++;
        while (i < n && is_alnum(s[i]))
            i++;
        if (i == n)
            break;
        if (!strchr("-_+.", s[i]))
            return false;
        i++;
    }
    size_t hex = strlen(colon + 1);
    if (hex < 32)
        return false;
    for (size_t k = 1; k <= hex; k++)
        if (!is_hex(colon[k]))
            return false;
    return true;
}

/* Where the parts of a reference are, when s matches the grammar. */
typedef struct parts {
    size_t name_len, domain_len;
    const char *tag;
    size_t tag_len;
    const char *digest;
} parts_t;

static bool match_reference(const char *s, parts_t *p)
{
    memset(p, 0, sizeof *p);
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    if (at) {
        p->digest = at + 1;
        if (!match_digest(p->digest))
            return false;
    }
    const char *last_slash = NULL, *last_colon = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/')
            last_slash = s + i;
        else if (s[i] == ':')
            last_colon = s + i;
    }
    p->name_len = n;
    if (last_colon && (!last_slash || last_colon > last_slash)) {
        p->name_len = (size_t)(last_colon - s);
        p->tag = last_colon + 1;
        p->tag_len = n - p->name_len - 1;
        if (!match_tag(p->tag, p->tag_len))
            return false;
    }
    return match_name(s, p->name_len, &p->domain_len);
}

/* go-digest's Digest.Validate on a digest the grammar accepted. */
static api_reference_error_t validate_digest(const char *digest)
{
    static const struct {
        const char *name;
        size_t hex_len;
    } algorithms[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};
    const char *colon = strchr(digest, ':');
    size_t alg_len = (size_t)(colon - digest);
    const char *encoded = colon + 1;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(algorithms); i++) {
        if (strlen(algorithms[i].name) != alg_len ||
            memcmp(algorithms[i].name, digest, alg_len) != 0)
            continue;
        if (strlen(encoded) != algorithms[i].hex_len)
            return API_REF_ERR_DIGEST_LENGTH;
        for (const char *c = encoded; *c; c++)
            if (*c >= 'A' && *c <= 'F')
                return API_REF_ERR_DIGEST_FORMAT;
        return API_REF_OK;
    }
    /* Unknown algorithm: go-digest's own digest pattern wants it lower-case. */
    for (size_t i = 0; i < alg_len; i++)
        if (digest[i] >= 'A' && digest[i] <= 'Z')
            return API_REF_ERR_DIGEST_FORMAT;
    return API_REF_ERR_DIGEST_ALGORITHM;
}

static char *dup_range(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

api_reference_error_t api_reference_parse(const char *s, api_reference_t *out)
{
    parts_t p;
    if (!s)
        s = "";
    if (!match_reference(s, &p)) {
        if (!*s)
            return API_REF_ERR_NAME_EMPTY;
        char *lower = strdup(s);
        if (!lower)
            return API_REF_ERR_NO_MEMORY;
        for (char *c = lower; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        parts_t lower_parts;
        bool upper_only = match_reference(lower, &lower_parts);
        free(lower);
        return upper_only ? API_REF_ERR_NAME_UPPERCASE : API_REF_ERR_FORMAT;
    }
    if (p.name_len > NAME_TOTAL_LENGTH_MAX)
        return API_REF_ERR_NAME_TOO_LONG;
    if (p.digest) {
        api_reference_error_t err = validate_digest(p.digest);
        if (err != API_REF_OK)
            return err;
    }
    api_reference_t ref = {NULL, NULL, NULL, NULL};
    const char *path = p.domain_len ? s + p.domain_len + 1 : s;
    size_t path_len = p.domain_len ? p.name_len - p.domain_len - 1 : p.name_len;
    if ((p.domain_len && !(ref.domain = dup_range(s, p.domain_len))) ||
        !(ref.path = dup_range(path, path_len)) ||
        (p.tag && !(ref.tag = dup_range(p.tag, p.tag_len))) ||
        (p.digest && !(ref.digest = strdup(p.digest)))) {
        api_reference_clear(&ref);
        return API_REF_ERR_NO_MEMORY;
    }
    *out = ref;
    return API_REF_OK;
}

static bool is_identifier(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static bool has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return true;
    return false;
}

api_reference_error_t api_reference_parse_normalized(const char *s, api_reference_t *out)
{
    if (!s)
        s = "";
    if (is_identifier(s))
        return API_REF_ERR_IDENTIFIER;
    /* splitDockerDomain: the first component is a domain only when it looks like one. */
    const char *slash = strchr(s, '/');
    const char *domain = DEFAULT_DOMAIN, *remainder = s;
    size_t domain_len = strlen(DEFAULT_DOMAIN);
    if (slash) {
        size_t first = (size_t)(slash - s);
        bool looks_like_domain = memchr(s, '.', first) || memchr(s, ':', first) ||
                                 (first == 9 && memcmp(s, "localhost", 9) == 0) ||
                                 has_upper(s, first);
        if (looks_like_domain) {
            domain = s;
            domain_len = first;
            remainder = slash + 1;
        }
    }
    if (domain_len == strlen(LEGACY_DEFAULT_DOMAIN) &&
        memcmp(domain, LEGACY_DEFAULT_DOMAIN, domain_len) == 0) {
        domain = DEFAULT_DOMAIN;
        domain_len = strlen(DEFAULT_DOMAIN);
    }
    bool official = domain_len == strlen(DEFAULT_DOMAIN) &&
                    memcmp(domain, DEFAULT_DOMAIN, domain_len) == 0 && !strchr(remainder, '/');
    const char *tag_sep = strchr(remainder, ':');
    size_t remote_len = tag_sep ? (size_t)(tag_sep - remainder) : strlen(remainder);
    if (has_upper(remainder, remote_len))
        return API_REF_ERR_NORMALIZED_UPPER;
    char *full = util_asprintf("%.*s/%s%s", (int)domain_len, domain,
                               official ? OFFICIAL_REPO_NAME "/" : "", remainder);
    if (!full)
        return API_REF_ERR_NO_MEMORY;
    api_reference_error_t err = api_reference_parse(full, out);
    free(full);
    return err;
}

const char *api_reference_strerror(api_reference_error_t err)
{
    switch (err) {
    case API_REF_OK:
        return "ok";
    case API_REF_ERR_FORMAT:
        return "invalid reference format";
    case API_REF_ERR_NAME_EMPTY:
        return "repository name must have at least one component";
    case API_REF_ERR_NAME_UPPERCASE:
        return "repository name must be lowercase";
    case API_REF_ERR_NAME_TOO_LONG:
        return "repository name must not be more than 255 characters";
    case API_REF_ERR_DIGEST_FORMAT:
        return "invalid checksum digest format";
    case API_REF_ERR_DIGEST_LENGTH:
        return "invalid checksum digest length";
    case API_REF_ERR_DIGEST_ALGORITHM:
        return "unsupported digest algorithm";
    case API_REF_ERR_NORMALIZED_UPPER:
        return "invalid reference format: repository name must be lowercase";
    case API_REF_ERR_IDENTIFIER:
        return "invalid repository name, cannot specify 64-byte hexadecimal strings";
    case API_REF_ERR_NO_MEMORY:
        return "out of memory";
    }
    return "invalid reference";
}

int api_reference_default_tag(api_reference_t *ref)
{
    if (ref->tag || ref->digest)
        return 0;
    ref->tag = strdup("latest");
    return ref->tag ? 0 : -1;
}

static char *format_reference(const char *domain, const char *path, const api_reference_t *ref)
{
    return util_asprintf("%s%s%s%s%s%s%s", domain ? domain : "", domain ? "/" : "",
                         path ? path : "", ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                         ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

char *api_reference_string(const api_reference_t *ref)
{
    return format_reference(ref->domain, ref->path, ref);
}

char *api_reference_familiar_string(const api_reference_t *ref)
{
    const char *domain = ref->domain, *path = ref->path ? ref->path : "";
    if (domain && strcmp(domain, DEFAULT_DOMAIN) == 0) {
        domain = NULL;
        if (util_has_prefix(path, OFFICIAL_REPO_NAME "/") &&
            !strchr(path + strlen(OFFICIAL_REPO_NAME "/"), '/'))
            path += strlen(OFFICIAL_REPO_NAME "/");
    }
    return format_reference(domain, path, ref);
}

void api_reference_clear(api_reference_t *ref)
{
    if (!ref)
        return;
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof *ref);
}
