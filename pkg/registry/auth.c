/*
 * registry/auth: what a registry asks for and what we can answer with.
 *
 *   WWW-Authenticate  RFC 7235 challenges. Registries send one Bearer challenge
 *                     (realm, service, scope) or Basic; the parser still takes the full
 *                     grammar (several challenges, token68, quoted-pairs) because the
 *                     header comes from the network and must never crash or confuse us.
 *                     Unquoted values are read leniently (up to ',' or whitespace) since
 *                     some registries send realm=https://... unquoted.
 *   docker config     config.json "auths" (or a legacy .dockercfg map), looked up by
 *                     registry host the way the docker CLI does.
 */
#include "registry/registry_internal.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DOCKER_HUB_CONFIG_KEY "https://index.docker.io/v1/"

void registry_lowercase(char *s)
{
    for (; s && *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- base64 ----------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *registry_base64_encode(const char *data, size_t len)
{
    size_t out_len = 4 * ((len + 2) / 3);
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)data[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)data[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

/* Standard alphabet; padding optional; anything else is invalid. */
char *registry_base64_decode(const char *in, size_t *len_out)
{
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return NULL;
    char *out = malloc(n * 3 / 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    if (len_out)
        *len_out = o;
    return out;
}

/* ---- WWW-Authenticate -------------------------------------------------------- */

static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("-._~+/", c));
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
    while (is_ows(*p))
        p++;
    return p;
}

void registry_challenges_clear(registry_challenges_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->len; i++) {
        registry_challenge_t *ch = &c->items[i];
        free(ch->scheme);
        free(ch->token68);
        for (size_t k = 0; k < ch->params_len; k++) {
            free(ch->params[k].name);
            free(ch->params[k].value);
        }
        free(ch->params);
    }
    free(c->items);
    c->items = NULL;
    c->len = 0;
}

static int parse_fail(char **err, const char *header, const char *at, const char *what)
{
    if (err)
        *err = util_asprintf("WWW-Authenticate: %s at offset %zu", what, (size_t)(at - header));
    return -1;
}

/* A quoted-string starting at *pp (on the opening quote); the unescaped value. */
static char *parse_quoted(const char **pp, bool *oom)
{
    const char *p = *pp + 1;
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    for (;;) {
        char c = *p;
        if (c == '\0') {
            buf_free(&b);
            return NULL;
        }
        if (c == '"')
            break;
        if (c == '\\') {
            if (p[1] == '\0') {
                buf_free(&b);
                return NULL;
            }
            c = p[1];
            p++;
        }
        buf_putc(&b, c);
        p++;
    }
    *pp = p + 1;
    if (b.oom) {
        *oom = true;
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int add_param(registry_challenge_t *ch, char *name, char *value)
{
    registry_auth_param_t *p = realloc(ch->params, (ch->params_len + 1) * sizeof(*p));
    if (!p) {
        free(name);
        free(value);
        return -1;
    }
    ch->params = p;
    p[ch->params_len].name = name;
    p[ch->params_len].value = value;
    ch->params_len++;
    return 0;
}

/* Is p the start of an auth-param ("token BWS =", not followed by another '=' which would
 * make it the tail of a token68)? */
static bool at_auth_param(const char *p)
{
    const char *q = p;
    while (is_tchar(*q))
        q++;
    if (q == p)
        return false;
    q = skip_ows(q);
    return *q == '=';
}

int registry_challenges_parse(const char *header, registry_challenges_t *out, char **err)
{
    if (err)
        *err = NULL;
    if (!header)
        return parse_fail(err, "", "", "missing");
    registry_challenges_t parsed = REGISTRY_CHALLENGES_INIT;
    const char *p = header;
    int rc = -1;
    for (;;) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (is_tchar(*p))
            p++;
        if (p == start) {
            parse_fail(err, header, p, "expected an auth scheme");
            goto out;
        }
        registry_challenge_t *items =
            realloc(parsed.items, (parsed.len + 1) * sizeof(*parsed.items));
        if (!items) {
            parse_fail(err, header, p, "out of memory");
            goto out;
        }
        parsed.items = items;
        registry_challenge_t *ch = &items[parsed.len++];
        memset(ch, 0, sizeof(*ch));
        ch->scheme = strndup(start, (size_t)(p - start));
        if (!ch->scheme) {
            parse_fail(err, header, p, "out of memory");
            goto out;
        }
        registry_lowercase(ch->scheme);
        if (*p != '\0' && *p != ',' && !is_ows(*p)) {
            parse_fail(err, header, p, "expected a space after the auth scheme");
            goto out;
        }
        p = skip_ows(p);
        if (*p == '\0' || *p == ',')
            continue;
        /* token68: 1*token68char *"=" followed by the end of this challenge */
        const char *q = p;
        while (is_token68_char(*q))
            q++;
        const char *t68_end = q;
        while (*q == '=')
            q++;
        const char *after = skip_ows(q);
        if (t68_end > p && (*after == '\0' || *after == ',') &&
            (q > t68_end || !at_auth_param(p))) {
            ch->token68 = strndup(p, (size_t)(q - p));
            if (!ch->token68) {
                parse_fail(err, header, p, "out of memory");
                goto out;
            }
            p = after;
            continue;
        }
        /* #auth-param, until something that starts a new challenge */
        for (;;) {
            const char *name_start = p;
            while (is_tchar(*p))
                p++;
            if (p == name_start) {
                parse_fail(err, header, p, "expected a parameter name");
                goto out;
            }
            const char *name_end = p;
            p = skip_ows(p);
            if (*p != '=') {
                parse_fail(err, header, p, "expected '=' after a parameter name");
                goto out;
            }
            p = skip_ows(p + 1);
            char *value = NULL;
            bool oom = false;
            if (*p == '"') {
                value = parse_quoted(&p, &oom);
                if (!value) {
                    parse_fail(err, header, p,
                               oom ? "out of memory" : "unterminated quoted string");
                    goto out;
                }
            } else {
                const char *v = p;
                while (*p && *p != ',' && !is_ows(*p) && *p != '"')
                    p++;
                if (p == v) {
                    parse_fail(err, header, p, "expected a parameter value");
                    goto out;
                }
                value = strndup(v, (size_t)(p - v));
            }
            char *name = strndup(name_start, (size_t)(name_end - name_start));
            if (!value || !name) {
                free(value);
                free(name);
                parse_fail(err, header, p, "out of memory");
                goto out;
            }
            if (add_param(ch, name, value) < 0) { /* frees name and value */
                parse_fail(err, header, p, "out of memory");
                goto out;
            }
            registry_lowercase(ch->params[ch->params_len - 1].name);
            p = skip_ows(p);
            if (*p == '\0')
                break;
            if (*p != ',') {
                parse_fail(err, header, p, "expected ',' between parameters");
                goto out;
            }
            while (is_ows(*p) || *p == ',')
                p++;
            if (*p == '\0' || !at_auth_param(p))
                break; /* the end, or the next challenge's scheme */
        }
    }
    if (parsed.len == 0) {
        parse_fail(err, header, p, "no challenge");
        goto out;
    }
    registry_challenge_t *all = realloc(out->items, (out->len + parsed.len) * sizeof(*all));
    if (!all) {
        parse_fail(err, header, p, "out of memory");
        goto out;
    }
    memcpy(all + out->len, parsed.items, parsed.len * sizeof(*all));
    out->items = all;
    out->len += parsed.len;
    free(parsed.items);
    parsed.items = NULL;
    parsed.len = 0;
    rc = 0;
out:
    registry_challenges_clear(&parsed);
    return rc;
}

const registry_challenge_t *registry_challenges_find(const registry_challenges_t *c,
                                                     const char *scheme)
{
    for (size_t i = 0; c && i < c->len; i++)
        if (strcasecmp(c->items[i].scheme, scheme) == 0)
            return &c->items[i];
    return NULL;
}

const char *registry_challenge_param(const registry_challenge_t *ch, const char *name)
{
    for (size_t i = 0; ch && i < ch->params_len; i++)
        if (strcasecmp(ch->params[i].name, name) == 0)
            return ch->params[i].value;
    return NULL;
}

/* ---- credentials and docker config ------------------------------------------- */

void registry_credentials_clear(registry_credentials_t *c)
{
    if (!c)
        return;
    if (c->password)
        explicit_bzero(c->password, strlen(c->password));
    free(c->username);
    free(c->password);
    c->username = NULL;
    c->password = NULL;
}

struct registry_auth_config {
    json_object *root;
    json_object *auths; /* borrowed from root */
};

void registry_auth_config_free(registry_auth_config_t *cfg)
{
    if (!cfg)
        return;
    json_object_put(cfg->root);
    free(cfg);
}

int registry_auth_config_parse(const char *json, size_t len, registry_auth_config_t **out,
                               char **err)
{
    if (err)
        *err = NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        if (err)
            *err = util_strdup("out of memory");
        return -1;
    }
    json_object *root = json_tokener_parse_ex(tok, json, (int)(len > INT32_MAX ? INT32_MAX : len));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    /* The message names the JSON error only: the document is full of secrets. */
    if (jerr != json_tokener_success || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        if (err)
            *err = util_asprintf("docker config: %s", jerr != json_tokener_success
                                                          ? json_tokener_error_desc(jerr)
                                                          : "not a JSON object");
        return -1;
    }
    json_object *auths = NULL;
    if (json_object_object_get_ex(root, "auths", &auths)) {
        if (!json_object_is_type(auths, json_type_object)) {
            json_object_put(root);
            if (err)
                *err = util_strdup("docker config: \"auths\" is not an object");
            return -1;
        }
    } else {
        auths = root; /* legacy .dockercfg: the map itself */
    }
    registry_auth_config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        json_object_put(root);
        if (err)
            *err = util_strdup("out of memory");
        return -1;
    }
    cfg->root = root;
    cfg->auths = auths;
    *out = cfg;
    return 0;
}

int registry_auth_config_load(const char *path, registry_auth_config_t **out, char **err)
{
    size_t len = 0;
    char *data = util_read_file(path, &len);
    if (!data) {
        if (err)
            *err = util_asprintf("docker config %s: %m", path);
        return -1;
    }
    int rc = registry_auth_config_parse(data, len, out, err);
    if (rc < 0 && err && *err) {
        char *msg = util_asprintf("%s (%s)", *err, path);
        if (msg) {
            free(*err);
            *err = msg;
        }
    }
    explicit_bzero(data, len);
    free(data);
    return rc;
}

static bool is_docker_hub(const char *host)
{
    return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
           strcmp(host, "registry-1.docker.io") == 0;
}

/* docker's ConvertToHostname: no scheme, nothing after the first '/', lower-cased. */
static char *key_host(const char *key)
{
    if (strncasecmp(key, "https://", 8) == 0)
        key += 8;
    else if (strncasecmp(key, "http://", 7) == 0)
        key += 7;
    char *h = strndup(key, strcspn(key, "/"));
    registry_lowercase(h);
    return h;
}

static const char *string_field(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static int entry_credentials(json_object *entry, registry_credentials_t *out)
{
    if (!json_object_is_type(entry, json_type_object))
        return -1;
    const char *auth = string_field(entry, "auth");
    if (auth && *auth) {
        size_t len = 0;
        char *plain = registry_base64_decode(auth, &len);
        char *colon = plain ? memchr(plain, ':', len) : NULL;
        if (!colon) {
            if (plain)
                explicit_bzero(plain, len);
            free(plain);
            return -1;
        }
        out->username = strndup(plain, (size_t)(colon - plain));
        out->password = strndup(colon + 1, len - (size_t)(colon - plain) - 1);
        explicit_bzero(plain, len);
        free(plain);
    } else {
        const char *user = string_field(entry, "username");
        const char *pass = string_field(entry, "password");
        if (!user || !*user)
            return 0;
        out->username = util_strdup(user);
        out->password = util_strdup(pass ? pass : "");
    }
    if (!out->username || !out->password) {
        registry_credentials_clear(out);
        return -1;
    }
    return 1;
}

int registry_auth_config_lookup(const registry_auth_config_t *cfg, const char *registry,
                                registry_credentials_t *out)
{
    if (!cfg || !registry)
        return 0;
    char *want = util_strdup(registry);
    if (!want)
        return -1;
    registry_lowercase(want);
    bool hub = is_docker_hub(want);
    json_object *entry = NULL;
    if (hub)
        json_object_object_get_ex(cfg->auths, DOCKER_HUB_CONFIG_KEY, &entry);
    else
        json_object_object_get_ex(cfg->auths, registry, &entry);
    if (!entry) {
        json_object_object_foreach(cfg->auths, key, value)
        {
            char *h = key_host(key);
            if (!h) {
                free(want);
                return -1;
            }
            bool match = hub ? is_docker_hub(h) : strcmp(h, want) == 0;
            free(h);
            if (match && json_object_is_type(value, json_type_object)) {
                entry = value;
                break;
            }
        }
    }
    free(want);
    if (!entry)
        return 0;
    return entry_credentials(entry, out);
}
