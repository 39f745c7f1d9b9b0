/*
 * api/codec: the table-driven JSON codec behind every api_* struct.
 *
 * Decoding follows Go's encoding/json: each key of the object is matched to a field, exactly
 * or else case-insensitively with Go's folding; later keys win; null empties pointers, lists
 * and maps and leaves other values alone; a wrong JSON type fails with the field path.
 * Encoding rebuilds the object from the struct's `raw` (the object it was decoded from):
 * unknown keys are deep-copied in place, known fields are written from the struct under their
 * canonical names where their key stood, the rest are appended in table order. See api.h for
 * the rules on omitted zero values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

/* ---- field access ----------------------------------------------------------------------- */

static void *field_ptr(const api_field_t *f, void *value)
{
    return (char *)value + f->offset;
}

static const void *field_cptr(const api_field_t *f, const void *value)
{
    return (const char *)value + f->offset;
}

static json_object **raw_ptr(const api_type_t *type, void *value)
{
    return (json_object **)((char *)value + type->raw_offset);
}

static json_object *raw_of(const api_type_t *type, const void *value)
{
    json_object *raw;
    memcpy(&raw, (const char *)value + type->raw_offset, sizeof(json_object *));
    return raw;
}

/* The array pointer and count of a list field, read and written through memcpy so that any
 * `T *` member can be handled as a `void *`. */
static void *list_items(const api_field_t *f, const void *value)
{
    void *items;
    memcpy(&items, (const char *)value + f->offset, sizeof items);
    return items;
}

static size_t list_len(const api_field_t *f, const void *value)
{
    size_t len;
    memcpy(&len, (const char *)value + f->len_offset, sizeof len);
    return len;
}

static void list_set(const api_field_t *f, void *value, void *items, size_t len)
{
    memcpy((char *)value + f->offset, &items, sizeof items);
    memcpy((char *)value + f->len_offset, &len, sizeof len);
}

static void *struct_ptr_get(const api_field_t *f, const void *value)
{
    void *p;
    memcpy(&p, (const char *)value + f->offset, sizeof p);
    return p;
}

static void struct_ptr_set(const api_field_t *f, void *value, void *p)
{
    memcpy((char *)value + f->offset, &p, sizeof p);
}

static void *element(const api_type_t *type, void *items, size_t i)
{
    return (char *)items + i * type->size;
}

static const void *celement(const api_type_t *type, const void *items, size_t i)
{
    return (const char *)items + i * type->size;
}

/* ---- lifetimes -------------------------------------------------------------------------- */

void api_struct_init(const api_type_t *type, void *value)
{
    memset(value, 0, type->size);
    for (size_t i = 0; i < type->nfields; i++) {
        const api_field_t *f = &type->fields[i];
        if (f->kind == API_F_INT32_OPT)
            *(int32_t *)field_ptr(f, value) = -1;
        else if (f->kind == API_F_STRUCT)
            api_struct_init(f->type, field_ptr(f, value));
    }
}

static void strings_free(api_strings_t *s)
{
    for (size_t i = 0; i < s->len; i++)
        free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->len = 0;
}

static void map_free(api_map_t *m)
{
    for (size_t i = 0; i < m->len; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    free(m->items);
    m->items = NULL;
    m->len = 0;
}

void api_list_free(const api_type_t *type, void *items, size_t len)
{
    for (size_t i = 0; i < len; i++)
        api_struct_clear(type, element(type, items, i));
    free(items);
}

/* Frees one field's content and leaves it at its initial value. */
static void field_clear(const api_field_t *f, void *value)
{
    void *p = field_ptr(f, value);
    switch (f->kind) {
    case API_F_STRING:
    case API_F_STRING_PTR:
        free(*(char **)p);
        *(char **)p = NULL;
        break;
    case API_F_BOOL:
        *(bool *)p = false;
        break;
    case API_F_INT32:
        *(int32_t *)p = 0;
        break;
    case API_F_INT32_OPT:
        *(int32_t *)p = -1;
        break;
    case API_F_INT64:
        *(int64_t *)p = 0;
        break;
    case API_F_UINT64:
        *(uint64_t *)p = 0;
        break;
    case API_F_TIME:
        memset(p, 0, sizeof(api_time_t));
        break;
    case API_F_STRINGS:
        strings_free(p);
        break;
    case API_F_MAP:
        map_free(p);
        break;
    case API_F_STRUCT:
        api_struct_clear(f->type, p);
        break;
    case API_F_STRUCT_PTR:
        api_struct_free(f->type, struct_ptr_get(f, value));
        struct_ptr_set(f, value, NULL);
        break;
    case API_F_STRUCT_LIST:
        api_list_free(f->type, list_items(f, value), list_len(f, value));
        list_set(f, value, NULL, 0);
        break;
    }
}

void api_struct_clear(const api_type_t *type, void *value)
{
    if (!value)
        return;
    for (size_t i = 0; i < type->nfields; i++)
        field_clear(&type->fields[i], value);
    json_object **raw = raw_ptr(type, value);
    json_object_put(*raw);
    *raw = NULL;
}

void *api_struct_new(const api_type_t *type)
{
    void *value = malloc(type->size);
    if (value)
        api_struct_init(type, value);
    return value;
}

void api_struct_free(const api_type_t *type, void *value)
{
    if (!value)
        return;
    api_struct_clear(type, value);
    free(value);
}

/* ---- key matching ------------------------------------------------------------------------ */

static unsigned char ascii_upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Go folds a key rune r to ToUpper(ToLower(r)) (encoding/json foldName). Besides ASCII, four
 * runes fold onto ASCII letters: KELVIN SIGN and LATIN SMALL LETTER LONG S (the k and s of
 * bytes.EqualFold) and the dotted and dotless I. Returns the bytes consumed and the folded
 * byte, or 0 when the character folds to no ASCII byte. */
static size_t fold_next(const unsigned char *s, unsigned char *out)
{
    if (s[0] < 0x80) {
        *out = ascii_upper(s[0]);
        return 1;
    }
    if (s[0] == 0xE2 && s[1] == 0x84 && s[2] == 0xAA) { /* U+212A */
        *out = 'K';
        return 3;
    }
    if (s[0] == 0xC5 && s[1] == 0xBF) { /* U+017F */
        *out = 'S';
        return 2;
    }
    if (s[0] == 0xC4 && (s[1] == 0xB0 || s[1] == 0xB1)) { /* U+0130, U+0131 */
        *out = 'I';
        return 2;
    }
    return 0;
}

static bool fold_equal(const char *key, const char *name)
{
    const unsigned char *k = (const unsigned char *)key;
    const unsigned char *n = (const unsigned char *)name;
    while (*k && *n) {
        unsigned char c;
        size_t used = fold_next(k, &c);
        if (!used || c != ascii_upper(*n))
            return false;
        k += used;
        n++;
    }
    return *k == '\0' && *n == '\0';
}

/* The index of the field a key decodes into, -1 for an unknown key. */
static int find_field(const api_type_t *type, const char *key)
{
    for (size_t i = 0; i < type->nfields; i++)
        if (strcmp(type->fields[i].name, key) == 0)
            return (int)i;
    for (size_t i = 0; i < type->nfields; i++)
        if (fold_equal(key, type->fields[i].name))
            return (int)i;
    return -1;
}

/* ---- decode ------------------------------------------------------------------------------ */

static int fail(api_decode_error_t *e, const char *message)
{
    e->message = message;
    return -1;
}

static int fail_oom(api_decode_error_t *e)
{
    e->oom = true;
    e->message = "out of memory";
    return -1;
}

/* Adds a segment in front of the path as the error travels up: a field name ("spec"), an
 * index ("[3]") or a map key ("[app]"). */
static void prepend(api_decode_error_t *e, const char *segment)
{
    if (e->oom)
        return;
    char *path;
    if (!e->path)
        path = strdup(segment);
    else
        path = util_asprintf("%s%s%s", segment, e->path[0] == '[' ? "" : ".", e->path);
    if (!path) {
        free(e->path);
        e->path = NULL;
        fail_oom(e);
        return;
    }
    free(e->path);
    e->path = path;
}

static void prepend_index(api_decode_error_t *e, size_t i)
{
    char segment[32];
    snprintf(segment, sizeof segment, "[%zu]", i);
    prepend(e, segment);
}

static void prepend_key(api_decode_error_t *e, const char *key)
{
    char *segment = util_asprintf("[%s]", key);
    if (!segment) {
        free(e->path);
        e->path = NULL;
        fail_oom(e);
        return;
    }
    prepend(e, segment);
    free(segment);
}

char *api_decode_error_take(api_decode_error_t *e)
{
    char *message;
    if (e->path && !e->oom)
        message = util_asprintf("%s: %s", e->path, e->message);
    else
        message = strdup(e->message ? e->message : "decode failed");
    free(e->path);
    e->path = NULL;
    return message;
}

/* An integer in [min, max]: 0; -1 not a JSON integer; -2 out of range. json-c keeps integers
 * above INT64_MAX as uint64, which json_object_get_int64 clamps. */
static int read_int(json_object *v, int64_t min, int64_t max, int64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return -1;
    int64_t i = json_object_get_int64(v);
    if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
        return -2;
    if (i < min || i > max)
        return -2;
    *out = i;
    return 0;
}

static int decode_int(json_object *v, int64_t min, int64_t max, int64_t *out, api_decode_error_t *e)
{
    int rc = read_int(v, min, max, out);
    if (rc == -1)
        return fail(e, "expected integer");
    if (rc == -2)
        return fail(e, "integer out of range");
    return 0;
}

/* metav1.Time: RFC 3339, kept to years 0000-9999 so that it can be written back as such. */
static int decode_time(json_object *v, api_time_t *out, api_decode_error_t *e)
{
    time_t t;
    struct tm tm;
    if (!json_object_is_type(v, json_type_string) ||
        util_parse_rfc3339(json_object_get_string(v), &t) != 0 || !gmtime_r(&t, &tm) ||
        tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return fail(e, "expected RFC 3339 time");
    out->seconds = t;
    out->set = true;
    return 0;
}

static int decode_strings(json_object *v, api_strings_t *out, api_decode_error_t *e)
{
    if (!json_object_is_type(v, json_type_array))
        return fail(e, "expected array");
    size_t n = json_object_array_length(v);
    if (n == 0)
        return 0;
    out->items = calloc(n, sizeof *out->items);
    if (!out->items)
        return fail_oom(e);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(v, i);
        if (item && !json_object_is_type(item, json_type_string)) {
            fail(e, "expected string");
            prepend_index(e, i);
            return -1;
        }
        out->items[i] = strdup(item ? json_object_get_string(item) : "");
        if (!out->items[i])
            return fail_oom(e);
        out->len = i + 1;
    }
    return 0;
}

static int decode_map(json_object *v, api_map_t *out, api_decode_error_t *e)
{
    if (!json_object_is_type(v, json_type_object))
        return fail(e, "expected object");
    size_t n = (size_t)json_object_object_length(v);
    if (n == 0)
        return 0;
    out->items = calloc(n, sizeof *out->items);
    if (!out->items)
        return fail_oom(e);
    json_object_object_foreach(v, key, item)
    {
        if (item && !json_object_is_type(item, json_type_string)) {
            fail(e, "expected string");
            prepend_key(e, key);
            return -1;
        }
        api_pair_t *pair = &out->items[out->len];
        pair->key = strdup(key);
        pair->value = strdup(item ? json_object_get_string(item) : "");
        out->len++;
        if (!pair->key || !pair->value)
            return fail_oom(e);
    }
    return 0;
}

int api_list_decode(const api_type_t *type, json_object *array, void **items, size_t *len,
                    api_decode_error_t *e)
{
    if (!json_object_is_type(array, json_type_array))
        return fail(e, "expected array");
    size_t n = json_object_array_length(array);
    if (n == 0)
        return 0;
    void *list = calloc(n, type->size);
    if (!list)
        return fail_oom(e);
    for (size_t i = 0; i < n; i++)
        api_struct_init(type, element(type, list, i));
    *items = list;
    *len = n;
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(array, i);
        if (!item)
            continue; /* null: a zero element, as in Go */
        if (!json_object_is_type(item, json_type_object) ||
            api_struct_decode(type, element(type, list, i), item, e) < 0) {
            if (!json_object_is_type(item, json_type_object))
                fail(e, "expected object");
            prepend_index(e, i);
            return -1;
        }
    }
    return 0;
}

/* Decodes one key's value into its field. The field is emptied first, so of two keys that
 * land in one field the later wins whole. */
static int decode_field(const api_field_t *f, void *value, json_object *v, api_decode_error_t *e)
{
    void *p = field_ptr(f, value);
    int64_t i;
    if (!v) {
        /* null: Go leaves value types alone and sets pointers, slices and maps to nil;
         * metav1.Time's UnmarshalJSON makes it the zero time. */
        switch (f->kind) {
        case API_F_STRING_PTR:
        case API_F_TIME:
        case API_F_STRINGS:
        case API_F_MAP:
        case API_F_STRUCT_PTR:
        case API_F_STRUCT_LIST:
            field_clear(f, value);
            break;
        default:
            break;
        }
        return 0;
    }
    field_clear(f, value);
    switch (f->kind) {
    case API_F_STRING:
    case API_F_STRING_PTR:
        if (!json_object_is_type(v, json_type_string))
            return fail(e, "expected string");
        *(char **)p = strdup(json_object_get_string(v));
        return *(char **)p ? 0 : fail_oom(e);
    case API_F_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail(e, "expected boolean");
        *(bool *)p = json_object_get_boolean(v);
        return 0;
    case API_F_INT32:
    case API_F_INT32_OPT:
        if (decode_int(v, INT32_MIN, INT32_MAX, &i, e) < 0)
            return -1;
        *(int32_t *)p = (int32_t)i;
        return 0;
    case API_F_INT64:
        if (decode_int(v, INT64_MIN, INT64_MAX, &i, e) < 0)
            return -1;
        *(int64_t *)p = i;
        return 0;
    case API_F_UINT64:
        if (!json_object_is_type(v, json_type_int))
            return fail(e, "expected integer");
        if (json_object_get_int64(v) < 0)
            return fail(e, "expected non-negative integer");
        *(uint64_t *)p = json_object_get_uint64(v);
        return 0;
    case API_F_TIME:
        return decode_time(v, p, e);
    case API_F_STRINGS:
        return decode_strings(v, p, e);
    case API_F_MAP:
        return decode_map(v, p, e);
    case API_F_STRUCT:
        if (!json_object_is_type(v, json_type_object))
            return fail(e, "expected object");
        return api_struct_decode(f->type, p, v, e);
    case API_F_STRUCT_PTR: {
        if (!json_object_is_type(v, json_type_object))
            return fail(e, "expected object");
        void *sub = api_struct_new(f->type);
        if (!sub)
            return fail_oom(e);
        struct_ptr_set(f, value, sub);
        return api_struct_decode(f->type, sub, v, e);
    }
    case API_F_STRUCT_LIST: {
        void *items = NULL;
        size_t len = 0;
        int rc = api_list_decode(f->type, v, &items, &len, e);
        list_set(f, value, items, len);
        return rc;
    }
    }
    return fail(e, "unsupported field kind");
}

int api_struct_decode(const api_type_t *type, void *value, json_object *obj, api_decode_error_t *e)
{
    json_object **raw = raw_ptr(type, value);
    json_object_put(*raw);
    *raw = json_object_get(obj);
    json_object_object_foreach(obj, key, v)
    {
        int index = find_field(type, key);
        if (index < 0)
            continue;
        const api_field_t *f = &type->fields[index];
        if (decode_field(f, value, v, e) < 0) {
            prepend(e, f->name);
            return -1;
        }
    }
    return 0;
}

void *api_struct_decode_root(const api_type_t *type, json_object *obj, char **err)
{
    api_decode_error_t e = {0};
    if (!json_object_is_type(obj, json_type_object)) {
        if (err)
            *err = strdup("expected object");
        return NULL;
    }
    json_object *copy = NULL;
    void *value = NULL;
    if (json_object_deep_copy(obj, &copy, NULL) != 0 || !(value = api_struct_new(type))) {
        fail_oom(&e);
    } else if (api_struct_decode(type, value, copy, &e) < 0) {
        api_struct_free(type, value);
        value = NULL;
    }
    json_object_put(copy);
    if (!value && err)
        *err = api_decode_error_take(&e);
    else
        free(e.path);
    return value;
}

/* ---- encode ------------------------------------------------------------------------------- */

/* Whether Go would leave the field out of the JSON. */
static bool field_omitted(const api_field_t *f, const void *value)
{
    const void *p = field_cptr(f, value);
    switch (f->kind) {
    case API_F_STRING: {
        const char *s = *(char *const *)p;
        return f->omitempty && (!s || !*s);
    }
    case API_F_STRING_PTR:
        return *(char *const *)p == NULL;
    case API_F_BOOL:
        return f->omitempty && !*(const bool *)p;
    case API_F_INT32:
        return f->omitempty && *(const int32_t *)p == 0;
    case API_F_INT32_OPT:
        return *(const int32_t *)p == -1;
    case API_F_INT64:
        return f->omitempty && *(const int64_t *)p == 0;
    case API_F_UINT64:
        return f->omitempty && *(const uint64_t *)p == 0;
    case API_F_TIME:
        return f->omitempty && !((const api_time_t *)p)->set;
    case API_F_STRINGS:
        return f->omitempty && ((const api_strings_t *)p)->len == 0;
    case API_F_MAP:
        return f->omitempty && ((const api_map_t *)p)->len == 0;
    case API_F_STRUCT:
        return false;
    case API_F_STRUCT_PTR:
        return struct_ptr_get(f, value) == NULL;
    case API_F_STRUCT_LIST:
        return f->omitempty && list_len(f, value) == 0;
    }
    return false;
}

/* Whether the original JSON value decodes to what an omitted field holds, so that writing it
 * back unchanged changes nothing ("incremental": false, "tag": "", "labels": {}). */
static bool original_is_omitted_value(const api_field_t *f, json_object *v)
{
    if (!v)
        return false;
    switch (f->kind) {
    case API_F_STRING:
        return json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0;
    case API_F_BOOL:
        return json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v);
    case API_F_INT32:
    case API_F_INT64:
    case API_F_UINT64:
        return json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0;
    case API_F_INT32_OPT:
        return json_object_is_type(v, json_type_int) && json_object_get_int64(v) == -1;
    case API_F_STRINGS:
    case API_F_STRUCT_LIST:
        return json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0;
    case API_F_MAP:
        return json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0;
    default:
        return false;
    }
}

/* "2026-11-26T06:33:38Z", four-digit year as metav1.Time writes it. */
static json_object *encode_time(time_t t)
{
    struct tm tm;
    char text[64];
    if (!gmtime_r(&t, &tm))
        return NULL;
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return json_object_new_string(text);
}

static int add(json_object *obj, const char *key, json_object *v)
{
    if (json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int append(json_object *array, json_object *v)
{
    if (!v || json_object_array_add(array, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static json_object *encode_strings(const api_strings_t *s)
{
    json_object *array = json_object_new_array_ext((int)s->len);
    if (!array)
        return NULL;
    for (size_t i = 0; i < s->len; i++) {
        if (append(array, json_object_new_string(s->items[i] ? s->items[i] : "")) < 0) {
            json_object_put(array);
            return NULL;
        }
    }
    return array;
}

static json_object *encode_map(const api_map_t *m)
{
    json_object *obj = json_object_new_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < m->len; i++) {
        const api_pair_t *pair = &m->items[i];
        json_object *v = json_object_new_string(pair->value ? pair->value : "");
        if (!v || add(obj, pair->key ? pair->key : "", v) < 0) {
            json_object_put(obj);
            return NULL;
        }
    }
    return obj;
}

json_object *api_list_encode(const api_type_t *type, const void *items, size_t len)
{
    json_object *array = json_object_new_array_ext((int)len);
    if (!array)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (append(array, api_struct_encode(type, celement(type, items, i))) < 0) {
            json_object_put(array);
            return NULL;
        }
    }
    return array;
}

/* The field's JSON value into *out (NULL for JSON null); -1 when out of memory. */
static int encode_field(const api_field_t *f, const void *value, json_object **out)
{
    const void *p = field_cptr(f, value);
    json_object *v = NULL;
    switch (f->kind) {
    case API_F_STRING:
    case API_F_STRING_PTR: {
        const char *s = *(char *const *)p;
        v = json_object_new_string(s ? s : "");
        break;
    }
    case API_F_BOOL:
        v = json_object_new_boolean(*(const bool *)p);
        break;
    case API_F_INT32:
    case API_F_INT32_OPT:
        v = json_object_new_int64(*(const int32_t *)p);
        break;
    case API_F_INT64:
        v = json_object_new_int64(*(const int64_t *)p);
        break;
    case API_F_UINT64:
        v = json_object_new_uint64(*(const uint64_t *)p);
        break;
    case API_F_TIME: {
        const api_time_t *t = p;
        if (!t->set) {
            *out = NULL; /* Go writes a zero metav1.Time as null */
            return 0;
        }
        v = encode_time(t->seconds);
        break;
    }
    case API_F_STRINGS:
        v = encode_strings(p);
        break;
    case API_F_MAP:
        v = encode_map(p);
        break;
    case API_F_STRUCT:
        v = api_struct_encode(f->type, p);
        break;
    case API_F_STRUCT_PTR:
        v = api_struct_encode(f->type, struct_ptr_get(f, value));
        break;
    case API_F_STRUCT_LIST:
        v = api_list_encode(f->type, list_items(f, value), list_len(f, value));
        break;
    }
    *out = v;
    return v ? 0 : -1;
}

static int copy_json(json_object *v, json_object **out)
{
    *out = NULL;
    if (!v)
        return 0;
    return json_object_deep_copy(v, out, NULL) == 0 ? 0 : -1;
}

/* Writes one known field into obj; original is the value it was decoded from, if any. */
static int emit_field(const api_field_t *f, const void *value, json_object *original,
                      json_object *obj)
{
    json_object *v;
    if (field_omitted(f, value)) {
        if (!original_is_omitted_value(f, original))
            return 0;
        if (copy_json(original, &v) < 0)
            return -1;
    } else if (encode_field(f, value, &v) < 0) {
        return -1;
    }
    return add(obj, f->name, v);
}

json_object *api_struct_encode(const api_type_t *type, const void *value)
{
    json_object *obj = json_object_new_object();
    if (!obj)
        return NULL;
    json_object *raw = raw_of(type, value);
    json_object *original[API_MAX_FIELDS] = {0};
    bool done[API_MAX_FIELDS] = {0};
    if (raw) {
        /* The value each field was decoded from: the last key that lands in it. */
        json_object_object_foreach(raw, key, v)
        {
            int index = find_field(type, key);
            if (index >= 0)
                original[index] = v;
        }
        json_object_object_foreach(raw, key2, v2)
        {
            int index = find_field(type, key2);
            if (index < 0) {
                json_object *copy;
                if (copy_json(v2, &copy) < 0 || add(obj, key2, copy) < 0)
                    goto oom;
            } else if (!done[index]) {
                done[index] = true;
                if (emit_field(&type->fields[index], value, original[index], obj) < 0)
                    goto oom;
            }
        }
    }
    for (size_t i = 0; i < type->nfields; i++)
        if (!done[i] && emit_field(&type->fields[i], value, NULL, obj) < 0)
            goto oom;
    return obj;
oom:
    json_object_put(obj);
    return NULL;
}

/* ---- copy and compare ----------------------------------------------------------------------- */

static int copy_string(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

static int copy_strings(api_strings_t *dst, const api_strings_t *src)
{
    if (src->len == 0)
        return 0;
    dst->items = calloc(src->len, sizeof *dst->items);
    if (!dst->items)
        return -1;
    for (size_t i = 0; i < src->len; i++) {
        if (copy_string(&dst->items[i], src->items[i] ? src->items[i] : "") < 0)
            return -1;
        dst->len = i + 1;
    }
    return 0;
}

static int copy_map(api_map_t *dst, const api_map_t *src)
{
    if (src->len == 0)
        return 0;
    dst->items = calloc(src->len, sizeof *dst->items);
    if (!dst->items)
        return -1;
    for (size_t i = 0; i < src->len; i++) {
        dst->len = i + 1;
        if (copy_string(&dst->items[i].key, src->items[i].key ? src->items[i].key : "") < 0 ||
            copy_string(&dst->items[i].value, src->items[i].value ? src->items[i].value : "") < 0)
            return -1;
    }
    return 0;
}

static int copy_field(const api_field_t *f, void *dst, const void *src)
{
    void *d = field_ptr(f, dst);
    const void *s = field_cptr(f, src);
    switch (f->kind) {
    case API_F_STRING:
    case API_F_STRING_PTR:
        return copy_string(d, *(char *const *)s);
    case API_F_BOOL:
        *(bool *)d = *(const bool *)s;
        return 0;
    case API_F_INT32:
    case API_F_INT32_OPT:
        *(int32_t *)d = *(const int32_t *)s;
        return 0;
    case API_F_INT64:
        *(int64_t *)d = *(const int64_t *)s;
        return 0;
    case API_F_UINT64:
        *(uint64_t *)d = *(const uint64_t *)s;
        return 0;
    case API_F_TIME:
        *(api_time_t *)d = *(const api_time_t *)s;
        return 0;
    case API_F_STRINGS:
        return copy_strings(d, s);
    case API_F_MAP:
        return copy_map(d, s);
    case API_F_STRUCT:
        return api_struct_copy(f->type, d, s);
    case API_F_STRUCT_PTR: {
        const void *from = struct_ptr_get(f, src);
        if (!from)
            return 0;
        void *to = api_struct_new(f->type);
        if (!to)
            return -1;
        struct_ptr_set(f, dst, to);
        return api_struct_copy(f->type, to, from);
    }
    case API_F_STRUCT_LIST: {
        size_t len = list_len(f, src);
        if (len == 0)
            return 0;
        void *items = calloc(len, f->type->size);
        if (!items)
            return -1;
        for (size_t i = 0; i < len; i++)
            api_struct_init(f->type, element(f->type, items, i));
        list_set(f, dst, items, len);
        const void *from = list_items(f, src);
        for (size_t i = 0; i < len; i++)
            if (api_struct_copy(f->type, element(f->type, items, i), celement(f->type, from, i)) <
                0)
                return -1;
        return 0;
    }
    }
    return -1;
}

int api_struct_copy(const api_type_t *type, void *dst, const void *src)
{
    json_object *raw = raw_of(type, src);
    json_object **dst_raw = raw_ptr(type, dst);
    if (raw && json_object_deep_copy(raw, dst_raw, NULL) != 0)
        return -1;
    for (size_t i = 0; i < type->nfields; i++)
        if (copy_field(&type->fields[i], dst, src) < 0)
            return -1;
    return 0;
}

void *api_struct_dup(const api_type_t *type, const void *src)
{
    void *dst = api_struct_new(type);
    if (dst && api_struct_copy(type, dst, src) < 0) {
        api_struct_free(type, dst);
        return NULL;
    }
    return dst;
}

static bool str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool field_equal(const api_field_t *f, const void *a, const void *b)
{
    const void *pa = field_cptr(f, a);
    const void *pb = field_cptr(f, b);
    switch (f->kind) {
    case API_F_STRING:
        return str_equal(*(char *const *)pa, *(char *const *)pb);
    case API_F_STRING_PTR: {
        const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
        return (!sa && !sb) || (sa && sb && strcmp(sa, sb) == 0);
    }
    case API_F_BOOL:
        return *(const bool *)pa == *(const bool *)pb;
    case API_F_INT32:
    case API_F_INT32_OPT:
        return *(const int32_t *)pa == *(const int32_t *)pb;
    case API_F_INT64:
        return *(const int64_t *)pa == *(const int64_t *)pb;
    case API_F_UINT64:
        return *(const uint64_t *)pa == *(const uint64_t *)pb;
    case API_F_TIME: {
        const api_time_t *ta = pa, *tb = pb;
        return ta->set == tb->set && (!ta->set || ta->seconds == tb->seconds);
    }
    case API_F_STRINGS: {
        const api_strings_t *sa = pa, *sb = pb;
        if (sa->len != sb->len)
            return false;
        for (size_t i = 0; i < sa->len; i++)
            if (!str_equal(sa->items[i], sb->items[i]))
                return false;
        return true;
    }
    case API_F_MAP: {
        const api_map_t *ma = pa, *mb = pb;
        if (ma->len != mb->len)
            return false;
        for (size_t i = 0; i < ma->len; i++) {
            const char *other = api_map_get(mb, ma->items[i].key ? ma->items[i].key : "");
            if (!other || !str_equal(ma->items[i].value, other))
                return false;
        }
        return true;
    }
    case API_F_STRUCT:
        return api_struct_equal(f->type, pa, pb);
    case API_F_STRUCT_PTR: {
        const void *sa = struct_ptr_get(f, a), *sb = struct_ptr_get(f, b);
        return (!sa && !sb) || (sa && sb && api_struct_equal(f->type, sa, sb));
    }
    case API_F_STRUCT_LIST: {
        size_t len = list_len(f, a);
        if (len != list_len(f, b))
            return false;
        const void *ia = list_items(f, a), *ib = list_items(f, b);
        for (size_t i = 0; i < len; i++)
            if (!api_struct_equal(f->type, celement(f->type, ia, i), celement(f->type, ib, i)))
                return false;
        return true;
    }
    }
    return false;
}

bool api_struct_equal(const api_type_t *type, const void *a, const void *b)
{
    for (size_t i = 0; i < type->nfields; i++)
        if (!field_equal(&type->fields[i], a, b))
            return false;
    return true;
}

/* ---- Go's %q -------------------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_length(const unsigned char *s)
{
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, or a surrogate */
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

int api_put_go_quoted(buf_t *b, const char *s)
{
    buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = utf8_length(p);
            if (n) {
                buf_append(b, p, n);
                p += n;
            } else {
                buf_printf(b, "\\x%02x", c);
                p++;
            }
            continue;
        }
        switch (c) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\a':
            buf_puts(b, "\\a");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\v':
            buf_puts(b, "\\v");
            break;
        default:
            if (c < 0x20 || c == 0x7F)
                buf_printf(b, "\\x%02x", c);
            else
                buf_putc(b, (char)c);
        }
        p++;
    }
    buf_putc(b, '"');
    return b->oom ? -1 : 0;
}
