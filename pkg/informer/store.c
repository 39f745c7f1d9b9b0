/*
 * informer/store: the cache behind an informer, sized for an operator that must idle in
 * a few MiB.
 *
 * An object is one immutable, reference-counted allocation (store_entry_t): a small
 * header, the object's projection (the few fields a reader wants often, computed by the
 * store's projection function when the object is stored, so that reading them parses
 * nothing), the key, resourceVersion and uid, the object's values for every index, and
 * its JSON text, raw-deflated against a dictionary made of the first objects stored. Objects
 * of one kind repeat the same field names, label keys and image names, so a few KiB of
 * dictionary lets each object deflate to a fraction of its text, where deflating one
 * small object alone gains little. Until the dictionary is complete (the first few
 * objects) entries keep plain JSON; the dictionary never changes after that, so every
 * deflated entry can be read with it. The deflated text leaves out the text of the
 * object's uid, which the entry keeps anyway: random, it matched nothing and cost a
 * fifth of a deflated object; it is put back at its place when the object is read.
 *
 * Entries are allocated from a pool of the store's own (util pool: chunks per size class,
 * mapped apart from the malloc heap), not from malloc: among the transient allocations of
 * list pages and reconciles they would pin most of the heap's pages once those are freed.
 *
 * The key table is open addressing over entry pointers (the key lives in the entry, so
 * it is not stored twice), linear probing with backward-shift deletion, so no tombstones
 * accumulate under churn. An index is a table of the same kind from a value to the entries
 * having it: the slot borrows the value's text from one of them and holds the only entry
 * inline (most values, owner uids, have one) or an array of them; no allocation per value.
 *
 * Writers build an entry outside the lock (index functions, serializing, deflating) and
 * swap it in under the lock; readers take a reference under the lock and inflate and
 * parse outside it, so a reader never holds up the informer and the lock is held for
 * table work only.
 */
#include "informer/informer_internal.h"

#include <malloc.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DEFAULT_DICTIONARY_BYTES 4096
#define MAX_DICTIONARY_BYTES     32768
#define MIN_TABLE_SLOTS          16
/* deflate settings: memLevel 6 keeps the transient compressor near 64 KiB; level 9 costs
 * little on objects of a few KiB and every byte saved stays saved while cached. */
#define DEFLATE_MEM_LEVEL 6
#define DEFLATE_LEVEL     Z_BEST_COMPRESSION

struct store_entry {
    atomic_uint refs;
    /* Where the uid's text was cut from the deflated JSON (its offset + 1), 0: nowhere.
     * A uid is random: it costs ~25 deflated bytes though the entry keeps it already. */
    uint32_t uid_at;
    uint32_t json_len;   /* bytes of JSON text */
    uint32_t stored_len; /* bytes kept: json_len when plain, else the deflated size */
    uint32_t values_len; /* bytes of the index values block */
    uint16_t key_len;
    uint16_t rv_len;
    uint16_t uid_len;
    uint16_t projection_len;
    uint8_t window_bits; /* 0: plain JSON; else the raw deflate window used */
    bool pooled;         /* from the store's pool, else from malloc (too large for it) */
    /* the projection (aligned as malloc's memory, so it may hold any struct); key\0 rv\0
     * uid\0, then per index its values, each NUL-terminated, and one more NUL; then the
     * JSON (plain or deflated, not NUL-terminated) */
    alignas(max_align_t) char data[];
};

/* One value of an index and the entries having it. */
typedef struct index_slot {
    const char *value; /* NULL: empty; else borrowed from the values block of an entry below */
    uint32_t hash;
    uint32_t len; /* entries; the array's capacity is len rounded up to a power of two */
    union {
        store_entry_t *one;   /* len 1 */
        store_entry_t **many; /* len > 1 */
    };
} index_slot_t;

typedef struct store_index {
    char *name;
    store_index_fn fn;
    void *data;
    index_slot_t *slots; /* open addressing, like the key table */
    size_t cap;          /* power of two */
    size_t len;          /* values */
} store_index_t;

struct store_values {
    buf_t buf;
    size_t start; /* where the current index's values begin, for de-duplication */
};

struct store_projection {
    buf_t buf;
};

struct store {
    pthread_mutex_t lock;
    pool_t *entries;       /* where entries up to POOL_MAX_OBJECT bytes live */
    store_entry_t **slots; /* NULL = empty */
    size_t cap;            /* power of two */
    size_t len;
    store_index_t *indexes;
    size_t indexes_len;
    store_projection_fn projection_fn; /* NULL: entries have no projection */
    void *projection_data;
    size_t bytes; /* entries, slots and index tables */
    bool synced;
    bool compress;
    size_t dictionary_limit;
    buf_t dictionary;            /* grows under lock until frozen, then read-only */
    atomic_bool dictionary_done; /* set (release) once dictionary is final */
};

/* ---- keys and metadata ------------------------------------------------------ */

static const char *meta_string(json_object *meta, const char *field)
{
    json_object *v;
    if (!meta || !json_object_object_get_ex(meta, field, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *metadata_of(json_object *obj)
{
    json_object *meta;
    if (!obj || !json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_is_type(meta, json_type_object))
        return NULL;
    return meta;
}

char *store_object_key(json_object *obj)
{
    json_object *meta = metadata_of(obj);
    const char *name = meta_string(meta, "name");
    if (!name || !*name)
        return NULL;
    const char *ns = meta_string(meta, "namespace");
    if (ns && *ns)
        return util_asprintf("%s/%s", ns, name);
    return strdup(name);
}

int informer_object_meta(json_object *obj, char **key_out, const char **rv_out,
                         const char **uid_out)
{
    char *key = store_object_key(obj);
    if (!key)
        return -1;
    json_object *meta = metadata_of(obj);
    const char *rv = meta_string(meta, "resourceVersion");
    const char *uid = meta_string(meta, "uid");
    *key_out = key;
    *rv_out = rv ? rv : "";
    *uid_out = uid ? uid : "";
    return 0;
}

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* ---- entries ------------------------------------------------------------------ */

static const char *entry_key(const store_entry_t *e)
{
    return e->data + e->projection_len;
}

static const char *entry_rv(const store_entry_t *e)
{
    return entry_key(e) + e->key_len + 1;
}

static const char *entry_uid(const store_entry_t *e)
{
    return entry_rv(e) + e->rv_len + 1;
}

static const char *entry_values(const store_entry_t *e)
{
    return entry_uid(e) + e->uid_len + 1;
}

static const char *entry_json(const store_entry_t *e)
{
    return entry_values(e) + e->values_len;
}

/* The values of index i in e's block: a run of NUL-terminated strings ended by "". */
static const char *entry_index_values(const store_entry_t *e, size_t i)
{
    const char *p = entry_values(e);
    for (; i > 0; i--) {
        while (*p)
            p += strlen(p) + 1;
        p++;
    }
    return p;
}

void store_entry_ref(store_entry_t *entry)
{
    atomic_fetch_add_explicit(&entry->refs, 1, memory_order_relaxed);
}

void store_entry_unref(store_entry_t *entry)
{
    if (!entry || atomic_fetch_sub_explicit(&entry->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (entry->pooled)
        pool_release(entry);
    else
        free(entry);
}

void store_entry_meta(const store_entry_t *entry, informer_meta_t *out)
{
    out->key = entry_key(entry);
    out->resource_version = entry_rv(entry);
    out->uid = entry_uid(entry);
}

size_t store_entry_bytes(const store_entry_t *entry)
{
    return entry->pooled ? pool_object_size(entry) : malloc_usable_size((void *)entry);
}

int store_projection_add(store_projection_t *projection, const void *bytes, size_t len)
{
    return len ? buf_append(&projection->buf, bytes, len) : 0;
}

int store_values_add(store_values_t *values, const char *value)
{
    if (!value || !*value)
        return 0;
    for (const char *p = values->buf.data ? values->buf.data + values->start : NULL;
         p && p < values->buf.data + values->buf.len; p += strlen(p) + 1)
        if (strcmp(p, value) == 0)
            return 0;
    return buf_append(&values->buf, value, strlen(value) + 1);
}

/* Adds json to the dictionary while it is being collected. */
static void dictionary_feed(store_t *s, const char *json, size_t len)
{
    if (atomic_load_explicit(&s->dictionary_done, memory_order_acquire))
        return;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load_explicit(&s->dictionary_done, memory_order_relaxed)) {
        size_t room = s->dictionary_limit - s->dictionary.len;
        if (buf_append(&s->dictionary, json, len < room ? len : room) < 0 ||
            s->dictionary.len >= s->dictionary_limit) {
            /* Out of memory means a shorter dictionary, not a failure. */
            s->bytes += malloc_usable_size(s->dictionary.data);
            atomic_store_explicit(&s->dictionary_done, true, memory_order_release);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Smallest raw deflate window covering the dictionary and the text, so matches reach
 * back into the dictionary without a larger compressor than needed. */
static int window_bits_for(size_t bytes)
{
    int bits = 9;
    while (bits < 15 && ((size_t)1 << bits) < bytes)
        bits++;
    return bits;
}

/* Deflates json without its bytes [cut, cut + cut_len) against the dictionary into a
 * malloc'd buffer. NULL when it does not pay (or out of memory: the entry is then kept
 * plain, which is still correct). */
static unsigned char *deflate_json(const store_t *s, const char *json, size_t len, size_t cut,
                                   size_t cut_len, int bits, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, DEFLATE_LEVEL, Z_DEFLATED, -bits, DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return NULL;
    unsigned char *out = NULL;
    uLong bound = deflateBound(&z, (uLong)len);
    if (deflateSetDictionary(&z, (const Bytef *)s->dictionary.data, (uInt)s->dictionary.len) !=
            Z_OK ||
        !(out = malloc(bound)))
        goto fail;
    z.next_in = (Bytef *)(uintptr_t)json;
    z.avail_in = (uInt)cut;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_NO_FLUSH) != Z_OK || z.avail_in != 0)
        goto fail;
    z.next_in = (Bytef *)(uintptr_t)(json + cut + cut_len);
    z.avail_in = (uInt)(len - cut - cut_len);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out >= len)
        goto fail;
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
fail:
    deflateEnd(&z);
    free(out);
    return NULL;
}

/* Runs every index function on obj; the values block ends up in values->buf. */
static int collect_index_values(store_t *s, json_object *obj, store_values_t *values)
{
    for (size_t i = 0; i < s->indexes_len; i++) {
        values->start = values->buf.len;
        if (s->indexes[i].fn(obj, s->indexes[i].data, values) < 0) {
            log_warn("index function failed", "index", s->indexes[i].name, NULL);
            return -1;
        }
        if (buf_putc(&values->buf, '\0') < 0)
            return -1;
    }
    return values->buf.oom ? -1 : 0;
}

/* Runs the projection function, if any, on obj; the bytes end up in out->buf. */
static int collect_projection(store_t *s, json_object *obj, const char *key,
                              store_projection_t *out)
{
    if (!s->projection_fn)
        return 0;
    if (s->projection_fn(obj, s->projection_data, out) < 0) {
        log_warn("projection function failed", "key", key, NULL);
        return -1;
    }
    if (out->buf.len > UINT16_MAX) {
        log_warn("object projection too long to cache", "key", key, NULL);
        return -1;
    }
    return out->buf.oom ? -1 : 0;
}

/* Where the text of uid starts in json, as the value of a "uid" field; SIZE_MAX if it
 * is not there. The first such field is metadata's, but any will do: the same bytes go
 * back at the same place. */
static size_t uid_cut(const char *json, size_t json_len, const char *uid, size_t uid_len)
{
    static const char field[] = "\"uid\":\"";
    size_t field_len = sizeof(field) - 1;
    if (uid_len == 0 || json_len > UINT32_MAX - 1)
        return SIZE_MAX;
    for (const char *p = memmem(json, json_len, field, field_len); p;
         p = memmem(p + 1, json_len - (size_t)(p + 1 - json), field, field_len)) {
        size_t at = (size_t)(p - json) + field_len;
        if (at + uid_len < json_len && memcmp(json + at, uid, uid_len) == 0 &&
            json[at + uid_len] == '"')
            return at;
    }
    return SIZE_MAX;
}

store_entry_t *store_entry_build(store_t *store, json_object *obj, const informer_meta_t *meta)
{
    size_t key_len = strlen(meta->key), rv_len = strlen(meta->resource_version),
           uid_len = strlen(meta->uid);
    if (key_len > UINT16_MAX || rv_len > UINT16_MAX || uid_len > UINT16_MAX) {
        log_warn("object metadata too long to cache", "key", meta->key, NULL);
        return NULL;
    }
    store_values_t values = {BUF_INIT, 0};
    store_projection_t projection = {BUF_INIT};
    if (collect_index_values(store, obj, &values) < 0 ||
        collect_projection(store, obj, meta->key, &projection) < 0) {
        buf_free(&values.buf);
        buf_free(&projection.buf);
        return NULL;
    }
    size_t json_len = 0;
    const char *json = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &json_len);
    if (!json || json_len > UINT32_MAX || values.buf.len > UINT32_MAX) {
        buf_free(&values.buf);
        buf_free(&projection.buf);
        return NULL;
    }

    unsigned char *deflated = NULL;
    size_t deflated_len = 0, cut = uid_cut(json, json_len, meta->uid, uid_len);
    int bits = 0;
    if (store->compress) {
        dictionary_feed(store, json, json_len);
        if (atomic_load_explicit(&store->dictionary_done, memory_order_acquire)) {
            bits = window_bits_for(store->dictionary.len + json_len);
            deflated = deflate_json(store, json, json_len, cut == SIZE_MAX ? json_len : cut,
                                    cut == SIZE_MAX ? 0 : uid_len, bits, &deflated_len);
        }
    }
    uint32_t uid_at = deflated && cut != SIZE_MAX ? (uint32_t)cut + 1 : 0;
    size_t stored_len = deflated ? deflated_len : json_len;
    size_t size = sizeof(store_entry_t) + projection.buf.len + key_len + rv_len + uid_len + 3 +
                  values.buf.len + stored_len;
    store_entry_t *e = pool_alloc(store->entries, size);
    bool pooled = e != NULL;
    if (!e)
        e = malloc(size);
    if (!e) {
        free(deflated);
        buf_free(&values.buf);
        buf_free(&projection.buf);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->uid_at = uid_at;
    e->json_len = (uint32_t)json_len;
    e->stored_len = (uint32_t)stored_len;
    e->values_len = (uint32_t)values.buf.len;
    e->key_len = (uint16_t)key_len;
    e->rv_len = (uint16_t)rv_len;
    e->uid_len = (uint16_t)uid_len;
    e->projection_len = (uint16_t)projection.buf.len;
    e->window_bits = deflated ? (uint8_t)bits : 0;
    e->pooled = pooled;
    char *p = e->data;
    if (projection.buf.len)
        memcpy(p, projection.buf.data, projection.buf.len);
    p += projection.buf.len;
    memcpy(p, meta->key, key_len + 1);
    p += key_len + 1;
    memcpy(p, meta->resource_version, rv_len + 1);
    p += rv_len + 1;
    memcpy(p, meta->uid, uid_len + 1);
    p += uid_len + 1;
    if (values.buf.len)
        memcpy(p, values.buf.data, values.buf.len);
    p += values.buf.len;
    memcpy(p, deflated ? (const char *)deflated : json, stored_len);
    free(deflated);
    buf_free(&values.buf);
    buf_free(&projection.buf);
    return e;
}

json_object *store_entry_object(store_t *store, const store_entry_t *entry)
{
    if (!entry->window_bits)
        return kube_json_parse(entry_json(entry), entry->json_len);
    char *json = malloc(entry->json_len ? entry->json_len : 1);
    if (!json)
        return NULL;
    z_stream z = {0};
    json_object *obj = NULL;
    if (inflateInit2(&z, -(int)entry->window_bits) != Z_OK) {
        free(json);
        return NULL;
    }
    /* The uid's text, when it was cut, goes back where it was. */
    size_t cut = entry->uid_at ? entry->uid_at - 1 : entry->json_len;
    size_t cut_len = entry->uid_at ? entry->uid_len : 0;
    z.next_in = (Bytef *)(uintptr_t)entry_json(entry);
    z.avail_in = entry->stored_len;
    z.next_out = (Bytef *)json;
    z.avail_out = (uInt)(entry->json_len - cut_len);
    if (inflateSetDictionary(&z, (const Bytef *)store->dictionary.data,
                             (uInt)store->dictionary.len) == Z_OK &&
        inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == entry->json_len - cut_len &&
        cut <= z.total_out) {
        memmove(json + cut + cut_len, json + cut, z.total_out - cut);
        memcpy(json + cut, entry_uid(entry), cut_len);
        obj = kube_json_parse(json, entry->json_len);
    } else
        log_error("cached object does not inflate", "key", entry_key(entry), NULL);
    inflateEnd(&z);
    free(json);
    return obj;
}

/* ---- the key table -------------------------------------------------------------- */

/* The home slot of an entry (its key's hash is not kept: 4 bytes an entry). */
static size_t home_of(const store_entry_t *e, size_t mask)
{
    return hash_key(entry_key(e)) & mask;
}

/* Slot holding key, or the empty slot where it would go. Called with the lock held. */
static size_t find_slot(const store_t *s, const char *key, uint32_t h)
{
    size_t mask = s->cap - 1;
    size_t i = h & mask;
    while (s->slots[i] && strcmp(entry_key(s->slots[i]), key) != 0)
        i = (i + 1) & mask;
    return i;
}

static int resize(store_t *s, size_t cap)
{
    store_entry_t **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        store_entry_t *e = s->slots[i];
        if (!e)
            continue;
        size_t j = home_of(e, cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = e;
    }
    s->bytes -= malloc_usable_size(s->slots);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->bytes += malloc_usable_size(s->slots);
    return 0;
}

/* Empties slot i, moving later entries of its probe run back (no tombstones). */
static void remove_slot(store_t *s, size_t i)
{
    size_t mask = s->cap - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!s->slots[j])
            break;
        size_t home = home_of(s->slots[j], mask);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i] = NULL;
    s->len--;
    if (s->cap > MIN_TABLE_SLOTS && s->len * 8 < s->cap)
        resize(s, s->cap / 2); /* failing to shrink only wastes memory */
}

/* ---- indexes --------------------------------------------------------------------- */

/* The value of index ix that e has equal to value: the copy in e's own block. */
static const char *entry_value_copy(const store_t *s, const store_index_t *ix,
                                    const store_entry_t *e, const char *value)
{
    for (const char *v = entry_index_values(e, (size_t)(ix - s->indexes)); *v; v += strlen(v) + 1)
        if (strcmp(v, value) == 0)
            return v;
    return NULL; /* not reached: e is in value's slot only if it has the value */
}

/* A slot's entries: the one inline, or its array. */
static store_entry_t **slot_entries(index_slot_t *slot)
{
    return slot->len == 1 ? &slot->one : slot->many;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p *= 2;
    return p;
}

/* The slot holding value, or the empty slot where it would go. */
static size_t index_find(const store_index_t *ix, const char *value, uint32_t hash)
{
    size_t mask = ix->cap - 1;
    size_t i = hash & mask;
    while (ix->slots[i].value &&
           (ix->slots[i].hash != hash || strcmp(ix->slots[i].value, value) != 0))
        i = (i + 1) & mask;
    return i;
}

static int index_resize(store_t *s, store_index_t *ix, size_t cap)
{
    index_slot_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->slots[i].value)
            continue;
        size_t j = ix->slots[i].hash & (cap - 1);
        while (slots[j].value)
            j = (j + 1) & (cap - 1);
        slots[j] = ix->slots[i];
    }
    s->bytes -= malloc_usable_size(ix->slots);
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    s->bytes += malloc_usable_size(ix->slots);
    return 0;
}

static int index_value_add(store_t *s, store_index_t *ix, const char *value, store_entry_t *e)
{
    if ((ix->len + 1) * 4 > ix->cap * 3 && index_resize(s, ix, ix->cap * 2) < 0)
        return -1;
    uint32_t hash = hash_key(value);
    index_slot_t *slot = &ix->slots[index_find(ix, value, hash)];
    if (!slot->value) {
        *slot = (index_slot_t){.value = value, .hash = hash, .len = 1, .one = e};
        ix->len++;
        return 0;
    }
    if (slot->len == 1) {
        store_entry_t **many = malloc(2 * sizeof(*many));
        if (!many)
            return -1;
        many[0] = slot->one;
        slot->many = many;
        s->bytes += malloc_usable_size(many);
    } else if (slot->len == pow2_at_least(slot->len)) {
        size_t before = malloc_usable_size(slot->many);
        store_entry_t **many = realloc(slot->many, (size_t)slot->len * 2 * sizeof(*many));
        if (!many)
            return -1;
        s->bytes -= before;
        slot->many = many;
        s->bytes += malloc_usable_size(many);
    }
    slot->many[slot->len++] = e;
    return 0;
}

/* Empties slot i, moving later slots of its probe run back (no tombstones). */
static void index_slot_clear(store_t *s, store_index_t *ix, size_t i)
{
    size_t mask = ix->cap - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!ix->slots[j].value)
            break;
        size_t home = ix->slots[j].hash & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            ix->slots[i] = ix->slots[j];
            i = j;
        }
    }
    ix->slots[i] = (index_slot_t){0};
    ix->len--;
    if (ix->cap > MIN_TABLE_SLOTS && ix->len * 8 < ix->cap)
        index_resize(s, ix, ix->cap / 2); /* failing to shrink only wastes memory */
}

static void index_value_remove(store_t *s, store_index_t *ix, const char *value, store_entry_t *e)
{
    size_t i = index_find(ix, value, hash_key(value));
    index_slot_t *slot = &ix->slots[i];
    if (!slot->value)
        return;
    store_entry_t **entries = slot_entries(slot);
    size_t k = 0;
    while (k < slot->len && entries[k] != e)
        k++;
    if (k == slot->len)
        return;
    if (slot->len == 1) {
        index_slot_clear(s, ix, i);
        return;
    }
    entries[k] = entries[--slot->len];
    if (slot->len == 1) {
        store_entry_t *one = entries[0];
        s->bytes -= malloc_usable_size(slot->many);
        free(slot->many);
        slot->one = one;
    } else if (slot->len == pow2_at_least(slot->len)) {
        /* Down to a power of two: the array halves (a failed realloc keeps it larger). */
        size_t before = malloc_usable_size(slot->many);
        store_entry_t **many = realloc(slot->many, (size_t)slot->len * sizeof(*many));
        if (many) {
            s->bytes -= before;
            slot->many = many;
            s->bytes += malloc_usable_size(many);
        }
    }
    /* The value's text is borrowed from the first entry: e's place went to another. */
    if (k == 0)
        slot->value = entry_value_copy(s, ix, slot_entries(slot)[0], value);
}

static void index_remove(store_t *s, store_entry_t *e)
{
    for (size_t i = 0; i < s->indexes_len; i++)
        for (const char *v = entry_index_values(e, i); *v; v += strlen(v) + 1)
            index_value_remove(s, &s->indexes[i], v, e);
}

static int index_add(store_t *s, store_entry_t *e)
{
    for (size_t i = 0; i < s->indexes_len; i++)
        for (const char *v = entry_index_values(e, i); *v; v += strlen(v) + 1)
            if (index_value_add(s, &s->indexes[i], v, e) < 0) {
                index_remove(s, e);
                return -1;
            }
    return 0;
}

static store_index_t *find_index(store_t *s, const char *name)
{
    for (size_t i = 0; i < s->indexes_len; i++)
        if (strcmp(s->indexes[i].name, name) == 0)
            return &s->indexes[i];
    return NULL;
}

/* ---- the store ---------------------------------------------------------------------- */

store_t *store_new(const store_options_t *opts)
{
    store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->slots = calloc(MIN_TABLE_SLOTS, sizeof(*s->slots));
    s->entries = pool_new();
    if (!s->slots || !s->entries) {
        free(s->slots);
        pool_free(s->entries);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->cap = MIN_TABLE_SLOTS;
    s->bytes = malloc_usable_size(s) + malloc_usable_size(s->slots);
    s->compress = !(opts && opts->uncompressed);
    s->dictionary_limit =
        opts && opts->dictionary_bytes ? opts->dictionary_bytes : DEFAULT_DICTIONARY_BYTES;
    if (s->dictionary_limit > MAX_DICTIONARY_BYTES)
        s->dictionary_limit = MAX_DICTIONARY_BYTES;
    buf_init(&s->dictionary);
    atomic_init(&s->dictionary_done, false);
    return s;
}

void store_free(store_t *store)
{
    if (!store)
        return;
    for (size_t i = 0; i < store->cap; i++)
        store_entry_unref(store->slots[i]);
    free(store->slots);
    for (size_t i = 0; i < store->indexes_len; i++) {
        free(store->indexes[i].name);
        store_index_t *ix = &store->indexes[i];
        for (size_t j = 0; j < ix->cap; j++)
            if (ix->slots[j].len > 1)
                free(ix->slots[j].many);
        free(ix->slots);
    }
    free(store->indexes);
    buf_free(&store->dictionary);
    pool_free(store->entries); /* gone with the last entry still referenced */
    pthread_mutex_destroy(&store->lock);
    free(store);
}

int store_add_index(store_t *store, const char *name, store_index_fn fn, void *data)
{
    if (!name || !fn)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&store->lock);
    if (store->len > 0 || find_index(store, name))
        goto out;
    store_index_t *indexes =
        realloc(store->indexes, (store->indexes_len + 1) * sizeof(*store->indexes));
    if (!indexes)
        goto out;
    store->indexes = indexes;
    store_index_t *ix = &indexes[store->indexes_len];
    ix->name = strdup(name);
    ix->cap = MIN_TABLE_SLOTS;
    ix->len = 0;
    ix->slots = calloc(ix->cap, sizeof(*ix->slots));
    if (!ix->name || !ix->slots) {
        free(ix->name);
        free(ix->slots);
        goto out;
    }
    ix->fn = fn;
    ix->data = data;
    store->bytes += malloc_usable_size(ix->slots);
    store->indexes_len++;
    rc = 0;
out:
    pthread_mutex_unlock(&store->lock);
    return rc;
}

int store_set_projection(store_t *store, store_projection_fn fn, void *data)
{
    if (!fn)
        return -1;
    pthread_mutex_lock(&store->lock);
    int rc = store->len > 0 || store->projection_fn ? -1 : 0;
    if (rc == 0) {
        store->projection_fn = fn;
        store->projection_data = data;
    }
    pthread_mutex_unlock(&store->lock);
    return rc;
}

store_entry_t *store_swap(store_t *store, store_entry_t *entry, int *err)
{
    store_entry_t *old = NULL;
    *err = -1;
    pthread_mutex_lock(&store->lock);
    if ((store->len + 1) * 4 > store->cap * 3 && resize(store, store->cap * 2) < 0)
        goto out;
    if (index_add(store, entry) < 0)
        goto out;
    size_t i = find_slot(store, entry_key(entry), hash_key(entry_key(entry)));
    old = store->slots[i];
    store->slots[i] = entry;
    store->bytes += store_entry_bytes(entry);
    if (old) {
        index_remove(store, old);
        store->bytes -= store_entry_bytes(old);
    } else {
        store->len++;
    }
    *err = 0;
out:
    pthread_mutex_unlock(&store->lock);
    return old;
}

store_entry_t *store_take(store_t *store, const char *key)
{
    uint32_t h = hash_key(key);
    pthread_mutex_lock(&store->lock);
    size_t i = find_slot(store, key, h);
    store_entry_t *e = store->slots[i];
    if (e) {
        index_remove(store, e);
        store->bytes -= store_entry_bytes(e);
        remove_slot(store, i);
    }
    pthread_mutex_unlock(&store->lock);
    return e;
}

store_entry_t *store_lookup(store_t *store, const char *key)
{
    uint32_t h = hash_key(key);
    pthread_mutex_lock(&store->lock);
    store_entry_t *e = store->slots[find_slot(store, key, h)];
    if (e)
        store_entry_ref(e);
    pthread_mutex_unlock(&store->lock);
    return e;
}

int store_snapshot(store_t *store, store_entry_t ***out, size_t *len)
{
    pthread_mutex_lock(&store->lock);
    if (store->len == 0) {
        pthread_mutex_unlock(&store->lock);
        *out = NULL;
        *len = 0;
        return 0;
    }
    store_entry_t **entries = malloc(store->len * sizeof(*entries));
    if (!entries) {
        pthread_mutex_unlock(&store->lock);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < store->cap; i++)
        if (store->slots[i]) {
            store_entry_ref(store->slots[i]);
            entries[n++] = store->slots[i];
        }
    pthread_mutex_unlock(&store->lock);
    *out = entries;
    *len = n;
    return 0;
}

void store_entries_free(store_entry_t **entries, size_t len)
{
    for (size_t i = 0; i < len; i++)
        store_entry_unref(entries[i]);
    free(entries);
}

void store_set_synced(store_t *store)
{
    pthread_mutex_lock(&store->lock);
    store->synced = true;
    pthread_mutex_unlock(&store->lock);
}

bool store_has_synced(store_t *store)
{
    pthread_mutex_lock(&store->lock);
    bool synced = store->synced;
    pthread_mutex_unlock(&store->lock);
    return synced;
}

int store_upsert(store_t *store, json_object *obj)
{
    informer_meta_t meta;
    char *key;
    if (informer_object_meta(obj, &key, &meta.resource_version, &meta.uid) < 0)
        return -1;
    meta.key = key;
    store_entry_t *e = store_entry_build(store, obj, &meta);
    free(key);
    if (!e)
        return -1;
    int err;
    store_entry_t *old = store_swap(store, e, &err);
    if (err < 0) {
        store_entry_unref(e);
        return -1;
    }
    store_entry_unref(old);
    return 0;
}

bool store_delete(store_t *store, const char *key)
{
    store_entry_t *e = store_take(store, key);
    store_entry_unref(e);
    return e != NULL;
}

json_object *store_get(store_t *store, const char *key)
{
    store_entry_t *e = store_lookup(store, key);
    if (!e)
        return NULL;
    json_object *obj = store_entry_object(store, e);
    store_entry_unref(e);
    return obj;
}

char *store_get_resource_version(store_t *store, const char *key)
{
    store_entry_t *e = store_lookup(store, key);
    if (!e)
        return NULL;
    char *rv = strdup(entry_rv(e));
    store_entry_unref(e);
    return rv;
}

bool store_contains(store_t *store, const char *key)
{
    store_entry_t *e = store_lookup(store, key);
    store_entry_unref(e);
    return e != NULL;
}

/* Parses every entry (outside the lock) into a new array; consumes the entries. */
static int objects_of(store_t *store, store_entry_t **entries, size_t n, json_object ***out,
                      size_t *len)
{
    json_object **objs = n ? calloc(n, sizeof(*objs)) : NULL;
    int rc = n && !objs ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!(objs[i] = store_entry_object(store, entries[i])))
            rc = -1;
    store_entries_free(entries, n);
    if (rc < 0) {
        store_objects_free(objs, n);
        return -1;
    }
    *out = objs;
    *len = n;
    return 0;
}

static int keys_of(store_entry_t **entries, size_t n, char ***out, size_t *len)
{
    char **keys = n ? calloc(n, sizeof(*keys)) : NULL;
    int rc = n && !keys ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!(keys[i] = strdup(entry_key(entries[i]))))
            rc = -1;
    store_entries_free(entries, n);
    if (rc < 0) {
        store_keys_free(keys, n);
        return -1;
    }
    *out = keys;
    *len = n;
    return 0;
}

int store_list(store_t *store, json_object ***out, size_t *len)
{
    store_entry_t **entries;
    size_t n;
    if (store_snapshot(store, &entries, &n) < 0)
        return -1;
    return objects_of(store, entries, n, out, len);
}

int store_list_keys(store_t *store, char ***out, size_t *len)
{
    store_entry_t **entries;
    size_t n;
    if (store_snapshot(store, &entries, &n) < 0)
        return -1;
    return keys_of(entries, n, out, len);
}

/* The entries having value for the named index, each with a reference. */
static int index_entries(store_t *store, const char *index, const char *value, store_entry_t ***out,
                         size_t *len)
{
    pthread_mutex_lock(&store->lock);
    store_index_t *ix = find_index(store, index);
    if (!ix) {
        pthread_mutex_unlock(&store->lock);
        return -1;
    }
    index_slot_t *slot = value ? &ix->slots[index_find(ix, value, hash_key(value))] : NULL;
    size_t n = slot && slot->value ? slot->len : 0;
    store_entry_t **entries = n ? malloc(n * sizeof(*entries)) : NULL;
    if (n && !entries) {
        pthread_mutex_unlock(&store->lock);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        entries[i] = slot_entries(slot)[i];
        store_entry_ref(entries[i]);
    }
    pthread_mutex_unlock(&store->lock);
    *out = entries;
    *len = n;
    return 0;
}

int store_by_index(store_t *store, const char *index, const char *value, json_object ***out,
                   size_t *len)
{
    store_entry_t **entries;
    size_t n;
    if (index_entries(store, index, value, &entries, &n) < 0)
        return -1;
    return objects_of(store, entries, n, out, len);
}

int store_index_keys(store_t *store, const char *index, const char *value, char ***out, size_t *len)
{
    store_entry_t **entries;
    size_t n;
    if (index_entries(store, index, value, &entries, &n) < 0)
        return -1;
    return keys_of(entries, n, out, len);
}

/* The projections of entries (each with a reference, which moves into the items). */
static int projected_of(store_entry_t **entries, size_t n, store_projected_t **out, size_t *len)
{
    store_projected_t *items = n ? malloc(n * sizeof(*items)) : NULL;
    if (n && !items) {
        store_entries_free(entries, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        store_entry_t *e = entries[i];
        items[i] = (store_projected_t){
            .key = entry_key(e),
            .uid = entry_uid(e),
            .resource_version = entry_rv(e),
            .projection = e->projection_len ? e->data : NULL,
            .projection_len = e->projection_len,
            .entry = e,
        };
    }
    free(entries);
    *out = items;
    *len = n;
    return 0;
}

int store_index_projections(store_t *store, const char *index, const char *value,
                            store_projected_t **out, size_t *len)
{
    store_entry_t **entries;
    size_t n;
    if (index_entries(store, index, value, &entries, &n) < 0)
        return -1;
    return projected_of(entries, n, out, len);
}

int store_list_projections(store_t *store, store_projected_t **out, size_t *len)
{
    store_entry_t **entries;
    size_t n;
    if (store_snapshot(store, &entries, &n) < 0)
        return -1;
    return projected_of(entries, n, out, len);
}

void store_projections_free(store_projected_t *items, size_t len)
{
    if (!items)
        return;
    for (size_t i = 0; i < len; i++)
        store_entry_unref(items[i].entry);
    free(items);
}

void store_objects_free(json_object **objects, size_t len)
{
    if (!objects)
        return;
    for (size_t i = 0; i < len; i++)
        json_object_put(objects[i]);
    free(objects);
}

void store_keys_free(char **keys, size_t len)
{
    if (!keys)
        return;
    for (size_t i = 0; i < len; i++)
        free(keys[i]);
    free(keys);
}

size_t store_len(store_t *store)
{
    pthread_mutex_lock(&store->lock);
    size_t n = store->len;
    pthread_mutex_unlock(&store->lock);
    return n;
}

size_t store_bytes(store_t *store)
{
    pthread_mutex_lock(&store->lock);
    size_t n = store->bytes;
    pthread_mutex_unlock(&store->lock);
    return n;
}
