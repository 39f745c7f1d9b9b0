/*
 * api/values: small editors for the values in api.h — strings, string lists and maps,
 * status conditions (meta.SetStatusCondition), and template parameters turned into
 * environment variables (upstream Parameter.ToEnvironment).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

int api_set_string(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

/* ---- lists and maps ------------------------------------------------------------------------ */

int api_strings_append(api_strings_t *list, const char *value)
{
    char *copy = strdup(value ? value : "");
    char **items = copy ? realloc(list->items, (list->len + 1) * sizeof *items) : NULL;
    if (!items) {
        free(copy);
        return -1;
    }
    items[list->len++] = copy;
    list->items = items;
    return 0;
}

bool api_strings_contains(const api_strings_t *list, const char *value)
{
    for (size_t i = 0; i < list->len; i++)
        if (util_streq(list->items[i], value))
            return true;
    return false;
}

bool api_strings_remove(api_strings_t *list, const char *value)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->len; i++) {
        if (util_streq(list->items[i], value))
            free(list->items[i]);
        else
            list->items[kept++] = list->items[i];
    }
    bool removed = kept != list->len;
    list->len = kept;
    if (kept == 0) {
        free(list->items);
        list->items = NULL;
    }
    return removed;
}

static api_pair_t *map_find(const api_map_t *map, const char *key)
{
    for (size_t i = 0; i < map->len; i++)
        if (util_streq(map->items[i].key, key))
            return &map->items[i];
    return NULL;
}

const char *api_map_get(const api_map_t *map, const char *key)
{
    const api_pair_t *pair = map_find(map, key);
    return pair ? (pair->value ? pair->value : "") : NULL;
}

int api_map_set(api_map_t *map, const char *key, const char *value)
{
    api_pair_t *pair = map_find(map, key);
    if (pair)
        return api_set_string(&pair->value, value ? value : "");
    char *k = strdup(key);
    char *v = strdup(value ? value : "");
    api_pair_t *items = k && v ? realloc(map->items, (map->len + 1) * sizeof *items) : NULL;
    if (!items) {
        free(k);
        free(v);
        return -1;
    }
    items[map->len].key = k;
    items[map->len].value = v;
    map->items = items;
    map->len++;
    return 0;
}

bool api_map_delete(api_map_t *map, const char *key)
{
    api_pair_t *pair = map_find(map, key);
    if (!pair)
        return false;
    free(pair->key);
    free(pair->value);
    size_t index = (size_t)(pair - map->items);
    memmove(pair, pair + 1, (map->len - index - 1) * sizeof *pair);
    if (--map->len == 0) {
        free(map->items);
        map->items = NULL;
    }
    return true;
}

/* ---- conditions ---------------------------------------------------------------------------- */

api_condition_t *api_condition_find(api_condition_t *conditions, size_t len, const char *type)
{
    for (size_t i = 0; i < len; i++)
        if (util_streq(conditions[i].type, type))
            return &conditions[i];
    return NULL;
}

/* Sets *field to value when they differ; 1 changed, 0 equal, -1 out of memory. */
static int update_string(char **field, const char *value)
{
    if (util_streq(*field ? *field : "", value ? value : ""))
        return 0;
    return api_set_string(field, value) < 0 ? -1 : 1;
}

int api_condition_set(api_condition_t **conditions, size_t *len, const api_condition_t *cond,
                      time_t now)
{
    if (!cond->type || !*cond->type)
        return -1;
    api_time_t transition = cond->last_transition_time;
    if (!transition.set) {
        transition.seconds = now;
        transition.set = true;
    }
    api_condition_t *existing = api_condition_find(*conditions, *len, cond->type);
    if (!existing) {
        api_condition_t *items = realloc(*conditions, (*len + 1) * sizeof *items);
        if (!items)
            return -1;
        *conditions = items;
        api_condition_t *added = &items[*len];
        api_struct_init(&api_type_condition, added);
        if (api_set_string(&added->type, cond->type) < 0 ||
            api_set_string(&added->status, cond->status) < 0 ||
            api_set_string(&added->reason, cond->reason) < 0 ||
            api_set_string(&added->message, cond->message) < 0) {
            api_struct_clear(&api_type_condition, added);
            return -1;
        }
        added->observed_generation = cond->observed_generation;
        added->last_transition_time = transition;
        (*len)++;
        return 1;
    }
    int changed = 0, rc;
    if ((rc = update_string(&existing->status, cond->status)) != 0) {
        if (rc < 0)
            return -1;
        existing->last_transition_time = transition;
        changed = 1;
    }
    if ((rc = update_string(&existing->reason, cond->reason)) < 0)
        return -1;
    changed |= rc;
    if ((rc = update_string(&existing->message, cond->message)) < 0)
        return -1;
    changed |= rc;
    if (existing->observed_generation != cond->observed_generation) {
        existing->observed_generation = cond->observed_generation;
        changed = 1;
    }
    return changed;
}

/* ---- template parameters -------------------------------------------------------------------- */

void api_environment_spec_clear(api_environment_spec_t *env)
{
    api_struct_clear(&api_type_environment_spec, env);
}

int api_parameter_to_environment(const api_parameter_t *param, api_environment_spec_t *out)
{
    const char *value = NULL;
    if (param->value && *param->value)
        value = param->value;
    else if (param->default_value && *param->default_value)
        value = param->default_value;
    if (!value)
        return 0;
    api_environment_spec_t env;
    api_struct_init(&api_type_environment_spec, &env);
    if (api_set_string(&env.name, param->key ? param->key : "") < 0 ||
        api_set_string(&env.value, value) < 0) {
        api_environment_spec_clear(&env);
        return -1;
    }
    *out = env;
    return 1;
}

int api_s2i_config_append_parameters(api_s2i_config_t *config, const api_parameter_t *params,
                                     size_t len)
{
    if (len == 0)
        return 0;
    api_environment_spec_t *env =
        realloc(config->environment, (config->environment_len + len) * sizeof *env);
    if (!env)
        return -1;
    config->environment = env;
    size_t added = 0;
    for (size_t i = 0; i < len; i++) {
        int rc = api_parameter_to_environment(&params[i], &env[config->environment_len + added]);
        if (rc < 0) {
            while (added > 0)
                api_environment_spec_clear(&env[config->environment_len + --added]);
            return -1;
        }
        added += (size_t)rc;
    }
    config->environment_len += added;
    return 0;
}
