/*
 * kube/config_yaml: one kubeconfig document, read with libyaml's document API into a
 * kube_config_file_t. Only the fields we use are read; unknown ones are ignored, as kubectl
 * ignores them. Beyond types nothing is checked here: config.c validates only the entries the
 * chosen context uses, so a broken entry nobody uses stays harmless, again as in kubectl.
 *
 * The walk follows the kubeconfig shape to a fixed depth and never recurses through arbitrary
 * nodes, so aliases (even cyclic ones) cannot make it loop, whatever the input.
 */
#include "kube/config_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define YAML_MAX_DEPTH   64
#define YAML_MAX_ALIASES 100

typedef struct parser {
    yaml_document_t doc;
    kube_config_file_t *file;
    char **err;
} parser_t;

typedef int (*entry_body_fn)(parser_t *p, yaml_node_t *body, const char *where, void *entry);

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

/* Sets "<file>: line N: <where>: <message>". */
static int fail_at(parser_t *p, const yaml_node_t *n, const char *where, const char *fmt, ...)
    UTIL_PRINTF(4, 5);
static int fail_at(parser_t *p, const yaml_node_t *n, const char *where, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "kubeconfig %s: line %d: ", p->file->path, line_of(n));
    if (where)
        buf_printf(&b, "%s: ", where);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *p->err = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return -1;
}

static int yaml_error(parser_t *p, const yaml_parser_t *y)
{
    const char *problem = y->problem ? y->problem : "invalid document";
    switch (y->error) {
    case YAML_MEMORY_ERROR:
        return kube_config_fail(p->err, "kubeconfig %s: out of memory reading YAML", p->file->path);
    case YAML_READER_ERROR:
        /* The reader (encoding) knows only a byte offset, not a line. */
        return kube_config_fail(p->err, "kubeconfig %s: byte %zu: YAML syntax error: %s",
                                p->file->path, y->problem_offset, problem);
    default:
        break;
    }
    buf_t b = BUF_INIT;
    buf_printf(&b, "kubeconfig %s: line %zu, column %zu: YAML syntax error: %s", p->file->path,
               y->problem_mark.line + 1, y->problem_mark.column + 1, problem);
    if (y->context)
        buf_printf(&b, " (%s at line %zu, column %zu)", y->context, y->context_mark.line + 1,
                   y->context_mark.column + 1);
    *p->err = b.oom ? NULL : buf_steal(&b);
    buf_free(&b);
    return -1;
}

static yaml_node_t *node_at(parser_t *p, int index)
{
    return yaml_document_get_node(&p->doc, index);
}

/* The value for key in a mapping; the last one wins when a key repeats, as in JSON. */
static yaml_node_t *map_get(parser_t *p, const yaml_node_t *map, const char *key)
{
    size_t key_len = strlen(key);
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = node_at(p, pair->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == key_len &&
            memcmp(k->data.scalar.value, key, key_len) == 0)
            found = node_at(p, pair->value);
    }
    return found;
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || (len == 1 && v[0] == '~') ||
           (len == 4 &&
            (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 || memcmp(v, "NULL", 4) == 0));
}

/* Copies a scalar node's text; a null scalar gives NULL. */
static int scalar_dup(parser_t *p, const yaml_node_t *n, const char *where, const char *key,
                      char **out)
{
    *out = NULL;
    if (is_null(n))
        return 0;
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(p, n, where, "%s: expected a string", key);
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (memchr(v, '\0', len))
        return fail_at(p, n, where, "%s: contains a NUL byte", key);
    *out = strndup(v, len);
    if (!*out)
        return fail_at(p, n, where, "%s: out of memory", key);
    return 0;
}

/* Reads map[key] into field; absent, null and "" all leave it unset. */
static int get_string(parser_t *p, const yaml_node_t *map, const char *key, const char *where,
                      kube_config_field_t *field)
{
    yaml_node_t *v = map_get(p, map, key);
    if (!v)
        return 0;
    char *s;
    if (scalar_dup(p, v, where, key, &s) < 0)
        return -1;
    kube_secret_free(field->value);
    field->value = NULL;
    if (s && !*s) {
        free(s);
        return 0;
    }
    field->value = s;
    field->line = line_of(v);
    return 0;
}

/* get_string for values that need no line. */
static int get_plain(parser_t *p, const yaml_node_t *map, const char *key, const char *where,
                     char **out)
{
    kube_config_field_t field = {0};
    if (get_string(p, map, key, where, &field) < 0)
        return -1;
    *out = field.value;
    return 0;
}

/* YAML 1.1 booleans, as kubectl's YAML decoder reads them. */
static int get_bool(parser_t *p, const yaml_node_t *map, const char *key, const char *where,
                    bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    yaml_node_t *v = map_get(p, map, key);
    if (!v || is_null(v))
        return 0;
    if (v->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)v->data.scalar.value;
        size_t len = v->data.scalar.length;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(yes); i++) {
            if (len == strlen(yes[i]) && strncasecmp(s, yes[i], len) == 0) {
                *out = true;
                return 0;
            }
            if (len == strlen(no[i]) && strncasecmp(s, no[i], len) == 0) {
                *out = false;
                return 0;
            }
        }
    }
    return fail_at(p, v, where, "%s: expected true or false", key);
}

/* A list of strings; null items become "". */
static int get_string_list(parser_t *p, const yaml_node_t *map, const char *key, const char *where,
                           char ***out)
{
    yaml_node_t *v = map_get(p, map, key);
    if (!v || is_null(v))
        return 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(p, v, where, "%s: expected a list of strings", key);
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return fail_at(p, v, where, "%s: out of memory", key);
    *out = list;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(p, v->data.sequence.items.start[i]);
        if (!item)
            return fail_at(p, v, where, "%s[%zu]: missing item", key, i);
        char item_key[64];
        snprintf(item_key, sizeof item_key, "%s[%zu]", key, i);
        if (scalar_dup(p, item, where, item_key, &list[i]) < 0)
            return -1;
        if (!list[i] && !(list[i] = strdup("")))
            return fail_at(p, item, where, "%s: out of memory", item_key);
    }
    return 0;
}

/* exec.env: a list of {name, value}, kept as "name=value". */
static int get_env_list(parser_t *p, const yaml_node_t *map, const char *where, char ***out)
{
    yaml_node_t *v = map_get(p, map, "env");
    if (!v || is_null(v))
        return 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(p, v, where, "env: expected a list of {name, value}");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return fail_at(p, v, where, "env: out of memory");
    *out = list;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(p, v->data.sequence.items.start[i]);
        if (!item || item->type != YAML_MAPPING_NODE)
            return fail_at(p, item ? item : v, where, "env[%zu]: expected {name, value}", i);
        char item_where[64];
        snprintf(item_where, sizeof item_where, "env[%zu]", i);
        char *name = NULL, *value = NULL;
        if (get_plain(p, item, "name", item_where, &name) < 0)
            return -1;
        if (!name || strchr(name, '=')) {
            free(name);
            return fail_at(p, item, where, "env[%zu].name: must be set and contain no '='", i);
        }
        if (get_plain(p, item, "value", item_where, &value) < 0) {
            free(name);
            return -1;
        }
        list[i] = util_asprintf("%s=%s", name, value ? value : "");
        free(name);
        kube_secret_free(value);
        if (!list[i])
            return fail_at(p, item, where, "env[%zu]: out of memory", i);
    }
    return 0;
}

static int parse_exec(parser_t *p, const yaml_node_t *n, const char *user_where,
                      kube_config_user_t *u)
{
    char *where = util_asprintf("%s: exec", user_where);
    if (!where)
        return fail_at(p, n, user_where, "exec: out of memory");
    int rc = -1;
    if (n->type != YAML_MAPPING_NODE) {
        fail_at(p, n, where, "expected a mapping");
        goto out;
    }
    kube_exec_config_t *e = calloc(1, sizeof *e);
    if (!e) {
        fail_at(p, n, where, "out of memory");
        goto out;
    }
    u->exec = e;
    u->exec_line = line_of(n);
    if (get_plain(p, n, "command", where, &e->command) < 0 ||
        get_plain(p, n, "apiVersion", where, &e->api_version) < 0 ||
        get_plain(p, n, "installHint", where, &e->install_hint) < 0 ||
        get_plain(p, n, "interactiveMode", where, &e->interactive_mode) < 0 ||
        get_bool(p, n, "provideClusterInfo", where, &e->provide_cluster_info) < 0 ||
        get_string_list(p, n, "args", where, &e->args) < 0 ||
        get_env_list(p, n, where, &e->env) < 0)
        goto out;
    rc = 0;
out:
    free(where);
    return rc;
}

static int parse_cluster(parser_t *p, yaml_node_t *body, const char *where, void *entry)
{
    kube_config_cluster_t *c = entry;
    if (get_string(p, body, "server", where, &c->server) < 0 ||
        get_string(p, body, "certificate-authority", where, &c->ca_file) < 0 ||
        get_string(p, body, "certificate-authority-data", where, &c->ca_data) < 0 ||
        get_string(p, body, "tls-server-name", where, &c->tls_server_name) < 0 ||
        get_string(p, body, "proxy-url", where, &c->proxy_url) < 0 ||
        get_bool(p, body, "insecure-skip-tls-verify", where, &c->insecure_skip_tls_verify) < 0)
        return -1;
    return 0;
}

static int parse_user(parser_t *p, yaml_node_t *body, const char *where, void *entry)
{
    static const char *const impersonation[] = {"as", "as-uid", "as-groups", "as-user-extra"};
    kube_config_user_t *u = entry;
    if (get_string(p, body, "token", where, &u->token) < 0 ||
        get_string(p, body, "tokenFile", where, &u->token_file) < 0 ||
        get_string(p, body, "client-certificate", where, &u->client_cert_file) < 0 ||
        get_string(p, body, "client-certificate-data", where, &u->client_cert_data) < 0 ||
        get_string(p, body, "client-key", where, &u->client_key_file) < 0 ||
        get_string(p, body, "client-key-data", where, &u->client_key_data) < 0 ||
        get_string(p, body, "username", where, &u->username) < 0 ||
        get_string(p, body, "password", where, &u->password) < 0)
        return -1;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(impersonation) && !u->impersonate.value; i++) {
        yaml_node_t *v = map_get(p, body, impersonation[i]);
        if (v && !is_null(v)) {
            u->impersonate.line = line_of(v);
            if (!(u->impersonate.value = strdup(impersonation[i])))
                return fail_at(p, v, where, "out of memory");
        }
    }
    yaml_node_t *provider = map_get(p, body, "auth-provider");
    if (provider && !is_null(provider)) {
        if (provider->type == YAML_MAPPING_NODE &&
            get_string(p, provider, "name", where, &u->auth_provider) < 0)
            return -1;
        u->auth_provider.line = line_of(provider);
        if (!u->auth_provider.value && !(u->auth_provider.value = strdup("(unnamed)")))
            return fail_at(p, provider, where, "out of memory");
    }
    yaml_node_t *exec = map_get(p, body, "exec");
    if (exec && !is_null(exec))
        return parse_exec(p, exec, where, u);
    return 0;
}

static int parse_context(parser_t *p, yaml_node_t *body, const char *where, void *entry)
{
    kube_config_context_t *c = entry;
    if (get_string(p, body, "cluster", where, &c->cluster) < 0 ||
        get_string(p, body, "user", where, &c->user) < 0 ||
        get_string(p, body, "namespace", where, &c->namespace) < 0)
        return -1;
    return 0;
}

/*
 * clusters/users/contexts: lists of {name, <body_key>: {...}}. A name may appear once per
 * file (kubectl refuses duplicates); entries without a name cannot be referenced and are
 * skipped. items_out is set before the first entry so a failure midway still frees all.
 */
static int parse_list(parser_t *p, const yaml_node_t *root, const char *list_key,
                      const char *body_key, size_t size, entry_body_fn parse_body, void **items_out,
                      size_t *n_out)
{
    yaml_node_t *list = map_get(p, root, list_key);
    if (!list || is_null(list))
        return 0;
    if (list->type != YAML_SEQUENCE_NODE)
        return fail_at(p, list, NULL, "%s: expected a list", list_key);
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0)
        return 0;
    char *items = calloc(n, size);
    strmap_t *seen = strmap_new(NULL);
    if (!items || !seen) {
        free(items);
        strmap_free(seen);
        return fail_at(p, list, NULL, "%s: out of memory", list_key);
    }
    *items_out = items;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        yaml_node_t *item = node_at(p, list->data.sequence.items.start[i]);
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", list_key, i);
        if (!item || item->type != YAML_MAPPING_NODE) {
            rc = fail_at(p, item ? item : list, where, "expected a mapping with name and %s",
                         body_key);
            break;
        }
        kube_config_field_t name = {0};
        if ((rc = get_string(p, item, "name", where, &name)) < 0 || !name.value)
            continue;
        if (strmap_get(seen, name.value)) {
            rc = fail_at(p, item, NULL, "%s: duplicate name \"%s\"", list_key, name.value);
            free(name.value);
            break;
        }
        if (strmap_set(seen, name.value, items) < 0) {
            rc = fail_at(p, item, where, "out of memory");
            free(name.value);
            break;
        }
        kube_config_entry_t *entry = (kube_config_entry_t *)(items + *n_out * size);
        entry->name = name.value;
        entry->line = line_of(item);
        (*n_out)++;
        yaml_node_t *body = map_get(p, item, body_key);
        if (!body || is_null(body))
            continue;
        char *body_where = util_asprintf("%s \"%s\"", body_key, name.value);
        if (!body_where)
            rc = fail_at(p, item, where, "out of memory");
        else if (body->type != YAML_MAPPING_NODE)
            rc = fail_at(p, body, body_where, "expected a mapping");
        else
            rc = parse_body(p, body, body_where, entry);
        free(body_where);
    }
    strmap_free(seen);
    return rc;
}

static int parse_root(parser_t *p)
{
    kube_config_file_t *f = p->file;
    yaml_node_t *root = yaml_document_get_root_node(&p->doc);
    if (!root || is_null(root))
        return 0; /* an empty file is an empty config, as for kubectl */
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(p, root, NULL,
                       "expected a mapping (apiVersion, clusters, users, contexts, ...)");
    if (get_string(p, root, "current-context", NULL, &f->current_context) < 0 ||
        parse_list(p, root, "clusters", "cluster", sizeof(kube_config_cluster_t), parse_cluster,
                   (void **)&f->clusters, &f->n_clusters) < 0 ||
        parse_list(p, root, "users", "user", sizeof(kube_config_user_t), parse_user,
                   (void **)&f->users, &f->n_users) < 0 ||
        parse_list(p, root, "contexts", "context", sizeof(kube_config_context_t), parse_context,
                   (void **)&f->contexts, &f->n_contexts) < 0)
        return -1;
    return 0;
}

/*
 * libyaml's scanner slows down quadratically with nesting depth (per token it revisits the
 * pending simple key of every open flow level: 200,000 '[' take minutes), and every alias
 * multiplies the work of the walk below by the size of what it points at. So a first pass over
 * the events refuses absurd nesting and alias counts, and reports syntax errors, before the
 * document is built. Real kubeconfigs nest about 7 levels deep and use no aliases.
 */
static int check_nesting(parser_t *p, const char *yaml, size_t len)
{
    yaml_parser_t y;
    if (!yaml_parser_initialize(&y))
        return kube_config_fail(p->err, "kubeconfig %s: out of memory reading YAML", p->file->path);
    yaml_parser_set_input_string(&y, (const unsigned char *)yaml, len);
    int depth = 0, aliases = 0, rc = 0;
    for (bool done = false; !done;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&y, &event)) {
            rc = yaml_error(p, &y);
            break;
        }
        if (event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT)
            depth++;
        else if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT)
            depth--;
        /* Only the first document is loaded, so only it is checked. */
        done = event.type == YAML_DOCUMENT_END_EVENT || event.type == YAML_STREAM_END_EVENT;
        if (depth > YAML_MAX_DEPTH) {
            rc = kube_config_fail(p->err,
                                  "kubeconfig %s: line %zu, column %zu: nested more "
                                  "than %d levels deep",
                                  p->file->path, event.start_mark.line + 1,
                                  event.start_mark.column + 1, YAML_MAX_DEPTH);
            done = true;
        }
        if (event.type == YAML_ALIAS_EVENT && ++aliases > YAML_MAX_ALIASES) {
            rc = kube_config_fail(p->err,
                                  "kubeconfig %s: line %zu, column %zu: more than %d "
                                  "aliases",
                                  p->file->path, event.start_mark.line + 1,
                                  event.start_mark.column + 1, YAML_MAX_ALIASES);
            done = true;
        }
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&y);
    return rc;
}

int kube_config_file_parse(kube_config_file_t *f, const char *yaml, size_t len, char **err)
{
    parser_t p = {.file = f, .err = err};
    if (check_nesting(&p, yaml, len) < 0)
        return -1;
    yaml_parser_t y;
    if (!yaml_parser_initialize(&y))
        return kube_config_fail(err, "kubeconfig %s: out of memory reading YAML", f->path);
    yaml_parser_set_input_string(&y, (const unsigned char *)yaml, len);
    /* Only the first document counts; yaml_parser_load cleans up after itself on failure. */
    if (!yaml_parser_load(&y, &p.doc)) {
        int rc = yaml_error(&p, &y);
        yaml_parser_delete(&y);
        return rc;
    }
    yaml_parser_delete(&y);
    int rc = parse_root(&p);
    yaml_document_delete(&p.doc);
    return rc;
}

static void field_clear(kube_config_field_t *field)
{
    kube_secret_free(field->value);
    field->value = NULL;
}

void kube_config_file_clear(kube_config_file_t *f)
{
    for (size_t i = 0; i < f->n_clusters; i++) {
        kube_config_cluster_t *c = &f->clusters[i];
        free(c->entry.name);
        field_clear(&c->server);
        field_clear(&c->ca_file);
        field_clear(&c->ca_data);
        field_clear(&c->tls_server_name);
        field_clear(&c->proxy_url);
    }
    for (size_t i = 0; i < f->n_users; i++) {
        kube_config_user_t *u = &f->users[i];
        free(u->entry.name);
        field_clear(&u->token);
        field_clear(&u->token_file);
        field_clear(&u->client_cert_file);
        field_clear(&u->client_cert_data);
        field_clear(&u->client_key_file);
        field_clear(&u->client_key_data);
        field_clear(&u->username);
        field_clear(&u->password);
        field_clear(&u->auth_provider);
        field_clear(&u->impersonate);
        kube_exec_config_free(u->exec);
    }
    for (size_t i = 0; i < f->n_contexts; i++) {
        kube_config_context_t *c = &f->contexts[i];
        free(c->entry.name);
        field_clear(&c->cluster);
        field_clear(&c->user);
        field_clear(&c->namespace);
    }
    free(f->clusters);
    free(f->users);
    free(f->contexts);
    field_clear(&f->current_context);
    free(f->path);
    free(f->dir);
    memset(f, 0, sizeof *f);
}
