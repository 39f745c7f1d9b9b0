/*
 * jpath: dotted-path access to json-c objects. See jpath.h.
 */
#include "controller/jpath.h"

#include <stdlib.h>
#include <string.h>

json_object *jpath(json_object *obj, const char *path)
{
    if (!obj || !path)
        return NULL;
    const char *p = path;
    json_object *cur = obj;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (n >= sizeof key || !json_object_is_type(cur, json_type_object))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        json_object *next;
        if (!json_object_object_get_ex(cur, key, &next))
            return NULL;
        cur = next;
        p += n;
        if (*p == '.')
            p++;
    }
    return cur;
}

const char *jpath_str(json_object *obj, const char *path)
{
    json_object *v = jpath(obj, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *jpath_str_or(json_object *obj, const char *path, const char *def)
{
    const char *s = jpath_str(obj, path);
    return s && *s ? s : def;
}

int64_t jpath_int(json_object *obj, const char *path, int64_t def)
{
    json_object *v = jpath(obj, path);
    if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return def;
    return json_object_get_int64(v);
}

bool jpath_bool(json_object *obj, const char *path, bool def)
{
    json_object *v = jpath(obj, path);
    if (!v || !json_object_is_type(v, json_type_boolean))
        return def;
    return json_object_get_boolean(v);
}

json_object *jpath_child(json_object *obj, const char *key)
{
    json_object *v;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

const char *jpath_child_str(json_object *obj, const char *key)
{
    json_object *v = jpath_child(obj, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int jpath_set(json_object *obj, const char *path, json_object *value)
{
    if (!obj || !path || !value) {
        json_object_put(value);
        return -1;
    }
    json_object *cur = obj;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (n >= sizeof key || !json_object_is_type(cur, json_type_object)) {
            json_object_put(value);
            return -1;
        }
        memcpy(key, p, n);
        key[n] = '\0';
        if (!dot)
            return json_object_object_add(cur, key, value) == 0 ? 0 : -1;
        json_object *next;
        if (!json_object_object_get_ex(cur, key, &next) ||
            !json_object_is_type(next, json_type_object)) {
            next = json_object_new_object();
            if (!next || json_object_object_add(cur, key, next) != 0) {
                json_object_put(value);
                return -1;
            }
        }
        cur = next;
        p = dot + 1;
    }
}

int jpath_set_str(json_object *obj, const char *path, const char *value)
{
    json_object *v = json_object_new_string(value ? value : "");
    if (!v)
        return -1;
    return jpath_set(obj, path, v);
}

int jpath_del(json_object *obj, const char *path)
{
    const char *dot = strrchr(path, '.');
    json_object *parent = obj;
    const char *key = path;
    if (dot) {
        char head[256];
        size_t n = (size_t)(dot - path);
        if (n >= sizeof head)
            return -1;
        memcpy(head, path, n);
        head[n] = '\0';
        parent = jpath(obj, head);
        key = dot + 1;
    }
    if (!parent || !json_object_is_type(parent, json_type_object))
        return -1;
    json_object_object_del(parent, key);
    return 0;
}

json_object *jpath_copy(json_object *obj)
{
    if (!obj)
        return NULL;
    json_object *out = NULL;
    if (json_object_deep_copy(obj, &out, NULL) != 0)
        return NULL;
    return out;
}
