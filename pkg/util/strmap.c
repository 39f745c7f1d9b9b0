/*
 * strmap: open-addressing hash map from strings to pointers (FNV-1a, linear probing,
 * tombstones on delete, grown at 70% load). Small and cache friendly: the work queue
 * and the controllers' per-object state index their keys with it. A map that was large
 * and emptied (a work queue after a burst of 10,000 keys) shrinks again at a sixteenth
 * full, so its table does not stay at the size of its busiest moment.
 */
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key; /* NULL = empty; TOMBSTONE = deleted */
    void *value;
    uint32_t hash;
} slot_t;

struct strmap {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t len;
    size_t used; /* len + tombstones */
    strmap_free_fn free_value;
};

static char tombstone_marker;
#define TOMBSTONE (&tombstone_marker)

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

strmap_t *strmap_new(strmap_free_fn free_value)
{
    strmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->free_value = free_value;
    return m;
}

void strmap_free(strmap_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        slot_t *s = &m->slots[i];
        if (s->key && s->key != TOMBSTONE) {
            if (m->free_value)
                m->free_value(s->value);
            free(s->key);
        }
    }
    free(m->slots);
    free(m);
}

static slot_t *find(const strmap_t *m, const char *key, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

/* Rehashes into a table sized for len (four times it), dropping the tombstones. */
static int rehash(strmap_t *m)
{
    size_t cap = m->len * 2 < 16 ? 16 : m->len * 4;
    size_t pow2 = 16;
    while (pow2 < cap)
        pow2 *= 2;
    slot_t *slots = calloc(pow2, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        slot_t *s = &m->slots[i];
        if (!s->key || s->key == TOMBSTONE)
            continue;
        size_t j = s->hash & (pow2 - 1);
        while (slots[j].key)
            j = (j + 1) & (pow2 - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = pow2;
    m->used = m->len;
    return 0;
}

int strmap_set(strmap_t *m, const char *key, void *value)
{
    uint32_t h = hash_key(key);
    slot_t *s = find(m, key, h);
    if (s) {
        if (m->free_value && s->value != value)
            m->free_value(s->value);
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 10 >= m->cap * 7 && rehash(m) < 0)
        return -1;
    char *copy = strdup(key);
    if (!copy)
        return -1;
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = copy;
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->len++;
    return 0;
}

static void removed(strmap_t *m, slot_t *s)
{
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->len--;
    if (m->cap > 16 && m->len * 16 < m->cap)
        rehash(m); /* failing to shrink only wastes memory */
}

void *strmap_get(const strmap_t *m, const char *key)
{
    slot_t *s = find(m, key, hash_key(key));
    return s ? s->value : NULL;
}

void *strmap_take(strmap_t *m, const char *key)
{
    slot_t *s = find(m, key, hash_key(key));
    if (!s)
        return NULL;
    void *v = s->value;
    removed(m, s);
    return v;
}

bool strmap_del(strmap_t *m, const char *key)
{
    slot_t *s = find(m, key, hash_key(key));
    if (!s)
        return false;
    if (m->free_value)
        m->free_value(s->value);
    removed(m, s);
    return true;
}

size_t strmap_len(const strmap_t *m)
{
    return m->len;
}

void strmap_iter_init(strmap_iter_t *it, const strmap_t *m)
{
    it->m = m;
    it->pos = 0;
}

bool strmap_iter_next(strmap_iter_t *it, const char **key, void **value)
{
    while (it->pos < it->m->cap) {
        slot_t *s = &it->m->slots[it->pos++];
        if (s->key && s->key != TOMBSTONE) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            return true;
        }
    }
    return false;
}
