/*
 * pool: a size-class allocator for many small objects that live long (the informer
 * store's entries), kept in chunks of their own, apart from the malloc heap.
 *
 * Why: in one malloc heap the cache's entries end up scattered among the transient
 * allocations made while they were built (the decoded list pages, reconciles). When the
 * transient memory is freed, most pages still hold an entry or two, so neither free()
 * nor malloc_trim can give them back: with 30,000 objects cached a quarter of the heap was
 * such holes. Here entries of one size share chunks with each other only, and a freed
 * slot is reused by the next entry of that size.
 *
 * A chunk is POOL_CHUNK_BYTES mapped with mmap and aligned to its size, so the chunk
 * (and its pool) of an object is found from the object's address: pool_release needs no
 * pool argument. Sizes are rounded up to 16 bytes (the objects are aligned as malloc's);
 * each size class has a list of the chunks with room, a chunk hands out its released
 * slots first, then the part never used. A chunk that empties is unmapped, except the
 * last of its class, whose pages are given back with MADV_DONTNEED instead (an update
 * that frees and allocates one object of a class does not map and unmap each time).
 * Under AddressSanitizer free slots are poisoned, so a use after release is still caught.
 */
#include "util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define GRANULE 16
#define CLASSES (POOL_MAX_OBJECT / GRANULE)

typedef struct chunk {
    pool_t *pool;
    struct chunk *prev, *next; /* in its class's list of chunks with room */
    void *free_slots;          /* released slots, linked through their first bytes */
    uint32_t size;             /* of each slot */
    uint32_t used;             /* slots handed out and not released */
    uint32_t bump;             /* offset of the part never handed out */
    bool listed;               /* in its class's list */
} chunk_t;

/* Slots start after the header, at a multiple of GRANULE. */
#define HEADER_BYTES ((sizeof(chunk_t) + GRANULE - 1) / GRANULE * GRANULE)

struct pool {
    pthread_mutex_t lock;
    chunk_t *with_room[CLASSES];
    size_t chunks;  /* mapped */
    size_t objects; /* handed out and not released */
    bool closing;   /* pool_free was called: unmap all with the last object */
};

pool_t *pool_new(void)
{
    pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    return pool;
}

static void chunk_unmap(chunk_t *c)
{
    UNPOISON(c, POOL_CHUNK_BYTES);
    munmap(c, POOL_CHUNK_BYTES);
}

static void destroy(pool_t *pool)
{
    for (size_t i = 0; i < CLASSES; i++)
        while (pool->with_room[i]) {
            chunk_t *c = pool->with_room[i];
            pool->with_room[i] = c->next;
            chunk_unmap(c);
        }
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

void pool_free(pool_t *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    bool now = pool->objects == 0;
    pool->closing = true;
    pthread_mutex_unlock(&pool->lock);
    if (now)
        destroy(pool);
}

static chunk_t *chunk_map(pool_t *pool, uint32_t size)
{
    /* Map twice the size and keep the aligned half. */
    char *p = mmap(NULL, 2 * POOL_CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + POOL_CHUNK_BYTES - 1) & ~(uintptr_t)(POOL_CHUNK_BYTES - 1);
    char *c = (char *)start;
    if (c > p)
        munmap(p, (size_t)(c - p));
    if (c + POOL_CHUNK_BYTES < p + 2 * POOL_CHUNK_BYTES)
        munmap(c + POOL_CHUNK_BYTES, (size_t)(p + 2 * POOL_CHUNK_BYTES - (c + POOL_CHUNK_BYTES)));
    chunk_t *chunk = (chunk_t *)c;
    *chunk = (chunk_t){.pool = pool, .size = size, .bump = HEADER_BYTES};
    POISON(c + HEADER_BYTES, POOL_CHUNK_BYTES - HEADER_BYTES);
    pool->chunks++;
    return chunk;
}

static void list_add(chunk_t **head, chunk_t *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
    c->listed = true;
}

static void list_remove(chunk_t **head, chunk_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->listed = false;
}

static bool chunk_full(const chunk_t *c)
{
    return !c->free_slots && c->bump + c->size > POOL_CHUNK_BYTES;
}

void *pool_alloc(pool_t *pool, size_t size)
{
    if (!pool || size == 0 || size > POOL_MAX_OBJECT)
        return NULL;
    size_t cls = (size + GRANULE - 1) / GRANULE - 1;
    uint32_t slot_size = (uint32_t)((cls + 1) * GRANULE);
    pthread_mutex_lock(&pool->lock);
    chunk_t *c = pool->with_room[cls];
    if (!c) {
        if (!(c = chunk_map(pool, slot_size))) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        list_add(&pool->with_room[cls], c);
    }
    char *slot;
    if (c->free_slots) {
        slot = c->free_slots;
        void *next;
        UNPOISON(slot, sizeof(next));
        memcpy(&next, slot, sizeof(next));
        c->free_slots = next;
    } else {
        slot = (char *)c + c->bump;
        c->bump += slot_size;
    }
    UNPOISON(slot, slot_size);
    c->used++;
    if (chunk_full(c))
        list_remove(&pool->with_room[cls], c);
    pool->objects++;
    pthread_mutex_unlock(&pool->lock);
    return slot;
}

static chunk_t *chunk_of(const void *ptr)
{
    return (chunk_t *)((uintptr_t)ptr & ~(uintptr_t)(POOL_CHUNK_BYTES - 1));
}

/* Gives an empty chunk's memory back, keeping it mapped as the class's last chunk. */
static void chunk_reset(chunk_t *c)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t keep = page > 0 ? ((HEADER_BYTES + (size_t)page - 1) / (size_t)page) * (size_t)page
                           : POOL_CHUNK_BYTES;
    if (keep < c->bump && keep < POOL_CHUNK_BYTES) {
        UNPOISON((char *)c + keep, POOL_CHUNK_BYTES - keep);
        madvise((char *)c + keep, POOL_CHUNK_BYTES - keep, MADV_DONTNEED);
    }
    POISON((char *)c + HEADER_BYTES, POOL_CHUNK_BYTES - HEADER_BYTES);
    c->free_slots = NULL;
    c->bump = HEADER_BYTES;
}

void pool_release(void *ptr)
{
    if (!ptr)
        return;
    chunk_t *c = chunk_of(ptr);
    pool_t *pool = c->pool;
    size_t cls = c->size / GRANULE - 1;
    pthread_mutex_lock(&pool->lock);
    void *next = c->free_slots;
    memcpy(ptr, &next, sizeof(next));
    c->free_slots = ptr;
    POISON(ptr, c->size);
    c->used--;
    if (!c->listed)
        list_add(&pool->with_room[cls], c);
    if (c->used == 0) {
        if (pool->with_room[cls] != c || c->next) {
            list_remove(&pool->with_room[cls], c);
            chunk_unmap(c);
            pool->chunks--;
        } else {
            chunk_reset(c);
        }
    }
    pool->objects--;
    bool last = pool->closing && pool->objects == 0;
    pthread_mutex_unlock(&pool->lock);
    if (last)
        destroy(pool);
}

size_t pool_object_size(const void *ptr)
{
    return chunk_of(ptr)->size;
}

void pool_stats(pool_t *pool, pool_stats_t *out)
{
    pthread_mutex_lock(&pool->lock);
    out->chunks = pool->chunks;
    out->objects = pool->objects;
    pthread_mutex_unlock(&pool->lock);
}
