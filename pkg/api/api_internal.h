/*
 * api internals: the field tables that describe each struct to the codec.
 *
 * Each struct that is a JSON object has an api_type_t: its size, where its `raw` is, and one
 * api_field_t per JSON field (name, Go kind, omitempty, offset). codec.c walks these tables
 * to decode, encode, copy, compare and free, so the ~130 fields of the three kinds are data,
 * not a hundred hand-written functions; types.c holds the tables.
 */
#ifndef S2I_API_INTERNAL_H
#define S2I_API_INTERNAL_H

#include "api/api.h"
#include "util/util.h"

/* The most fields one struct has (S2iConfig: 62); types.c asserts each table fits. */
#define API_MAX_FIELDS 64

typedef enum {
    API_F_STRING,      /* char *, NULL reads as "" */
    API_F_STRING_PTR,  /* char *, Go *string: NULL is nil */
    API_F_BOOL,        /* bool */
    API_F_INT32,       /* int32_t */
    API_F_INT32_OPT,   /* int32_t, -1 is unset and omitted (our optional ints, Go *int32) */
    API_F_INT64,       /* int64_t (Go int and int64) */
    API_F_UINT64,      /* uint64_t */
    API_F_TIME,        /* api_time_t */
    API_F_STRINGS,     /* api_strings_t */
    API_F_MAP,         /* api_map_t */
    API_F_STRUCT,      /* an embedded struct (Go struct value: never omitted) */
    API_F_STRUCT_PTR,  /* pointer to struct, NULL is nil */
    API_F_STRUCT_LIST, /* pointer to array of struct + size_t count at len_offset */
} api_field_kind_t;

typedef struct api_type api_type_t;

typedef struct api_field {
    const char *name; /* the JSON name */
    api_field_kind_t kind;
    bool omitempty;
    size_t offset;
    size_t len_offset;      /* API_F_STRUCT_LIST only */
    const api_type_t *type; /* the struct kinds only */
} api_field_t;

struct api_type {
    size_t size;
    size_t raw_offset;
    const api_field_t *fields;
    size_t nfields;
};

/* Type tables (types.c). */
extern const api_type_t api_type_s2ibuilder;
extern const api_type_t api_type_s2irun;
extern const api_type_t api_type_s2irun_spec;
extern const api_type_t api_type_s2ibuilder_template;
extern const api_type_t api_type_s2i_config;
extern const api_type_t api_type_s2i_build_result;
extern const api_type_t api_type_s2i_build_source;
extern const api_type_t api_type_auth_config;
extern const api_type_t api_type_user_defined_template;
extern const api_type_t api_type_environment_spec;
extern const api_type_t api_type_condition;
extern const api_type_t api_type_s2i_autoscale;

/* A decode failure on its way up: the field path is built as the error returns through
 * each level, so nothing is spent on paths when decoding succeeds. */
typedef struct api_decode_error {
    char *path;          /* malloc'd; NULL at the level that failed */
    const char *message; /* static text */
    bool oom;
} api_decode_error_t;

/* The codec (codec.c). */
void api_struct_init(const api_type_t *type, void *value);
/* Frees what the value holds and initialises it again. */
void api_struct_clear(const api_type_t *type, void *value);
void *api_struct_new(const api_type_t *type);
void api_struct_free(const api_type_t *type, void *value);
/* Decodes obj (a JSON object) into an initialised value; on failure the value may hold a
 * partial result (clear it) and *e says why. */
int api_struct_decode(const api_type_t *type, void *value, json_object *obj, api_decode_error_t *e);
json_object *api_struct_encode(const api_type_t *type, const void *value);
/* Deep copy into an initialised dst; 0 or -1 (dst then holds a partial copy: clear it). */
int api_struct_copy(const api_type_t *type, void *dst, const void *src);
/* Known fields only, as Go's reflect.DeepEqual on decoded values (raw ignored). */
bool api_struct_equal(const api_type_t *type, const void *a, const void *b);

/* A whole value from the caller's JSON object: deep-copies obj (borrowed), allocates and
 * decodes. NULL with *err set (when err is non-NULL) on failure. */
void *api_struct_decode_root(const api_type_t *type, json_object *obj, char **err);
/* A new value equal to src, NULL when out of memory. */
void *api_struct_dup(const api_type_t *type, const void *src);

/* Arrays of structs (lists and the autoscale annotation). */
int api_list_decode(const api_type_t *type, json_object *array, void **items, size_t *len,
                    api_decode_error_t *e);
json_object *api_list_encode(const api_type_t *type, const void *items, size_t len);
void api_list_free(const api_type_t *type, void *items, size_t len);

/* The error as "path: message" (or the message alone), malloc'd; frees e->path. */
char *api_decode_error_take(api_decode_error_t *e);

/* Go's %q of a string (strconv.Quote), appended to b. */
int api_put_go_quoted(buf_t *b, const char *s);

#endif
