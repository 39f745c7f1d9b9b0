/*
 * controller/jpath: small accessors for json-c objects by dotted path
 * ("metadata.name", "spec.config.imageName"), and builders for the objects the
 * controllers write. Paths never contain dots inside keys; for label and
 * annotation keys (which do) use jpath_child and json_object_object_get_ex.
 *
 * All getters are NULL-safe and return borrowed values (valid while the object
 * lives); setters create intermediate objects as needed and take ownership of
 * the value they are given.
 */
#ifndef S2I_CONTROLLER_JPATH_H
#define S2I_CONTROLLER_JPATH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

json_object *jpath(json_object *obj, const char *path);
/* The string at path, or NULL if absent or not a string. */
const char *jpath_str(json_object *obj, const char *path);
/* The string at path, or def. "" counts as absent. */
const char *jpath_str_or(json_object *obj, const char *path, const char *def);
int64_t jpath_int(json_object *obj, const char *path, int64_t def);
bool jpath_bool(json_object *obj, const char *path, bool def);
/* obj[key] for a key that may contain dots (labels, annotations). */
json_object *jpath_child(json_object *obj, const char *key);
const char *jpath_child_str(json_object *obj, const char *key);

/* Sets path to value (owned), creating intermediate objects. 0 or -1. */
int jpath_set(json_object *obj, const char *path, json_object *value);
int jpath_set_str(json_object *obj, const char *path, const char *value);
int jpath_del(json_object *obj, const char *path);

/* A deep copy (json_object_deep_copy with error handling); NULL when out of memory. */
json_object *jpath_copy(json_object *obj);

#endif
