/*
 * informer/diff: what a relist must tell the handlers. After a watch was down (410 Gone,
 * a restarted API server) the new list is the truth; comparing it with the store by key
 * gives the adds, the updates, and the deletes nobody would otherwise hear of: objects
 * deleted while we were away. A pure function on keys, resourceVersions and uids, so it
 * is tested without a server.
 *
 * Both sides are sorted by key (index order breaking ties in the list, so the last copy
 * of a key listed twice wins) and merged: O((n + m) log(n + m)), no hash table.
 */
#include "informer/informer_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sorted {
    const informer_meta_t *meta;
    size_t index;
} sorted_t;

static int by_key_then_index(const void *a, const void *b)
{
    const sorted_t *x = a, *y = b;
    int c = strcmp(x->meta->key, y->meta->key);
    if (c)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

static sorted_t *sort_by_key(const informer_meta_t *meta, size_t len)
{
    sorted_t *s = malloc((len ? len : 1) * sizeof(*s));
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = (sorted_t){&meta[i], i};
    qsort(s, len, sizeof(*s), by_key_then_index);
    return s;
}

int informer_relist_diff(const informer_meta_t *stored, size_t stored_len,
                         const informer_meta_t *listed, size_t listed_len, informer_change_t **out,
                         size_t *out_len)
{
    sorted_t *old = sort_by_key(stored, stored_len);
    sorted_t *new = sort_by_key(listed, listed_len);
    /* per listed index: its change, or none (unchanged, or superseded by a later copy) */
    informer_change_t *per_listed = malloc((listed_len ? listed_len : 1) * sizeof(*per_listed));
    bool *has_change = calloc(listed_len ? listed_len : 1, sizeof(*has_change));
    informer_change_t *changes =
        malloc((stored_len + listed_len ? stored_len + listed_len : 1) * sizeof(*changes));
    if (!old || !new || !per_listed || !has_change || !changes) {
        free(old);
        free(new);
        free(per_listed);
        free(has_change);
        free(changes);
        return -1;
    }

    size_t n = 0, i = 0, j = 0;
    while (i < stored_len || j < listed_len) {
        /* the last copy of this listed key */
        size_t last = j;
        while (last + 1 < listed_len && strcmp(new[last + 1].meta->key, new[j].meta->key) == 0)
            last++;
        int c = i == stored_len   ? 1
                : j == listed_len ? -1
                                  : strcmp(old[i].meta->key, new[j].meta->key);
        if (c < 0) {
            changes[n++] = (informer_change_t){INFORMER_CHANGE_DELETE, old[i].index, SIZE_MAX};
            i++;
            continue;
        }
        const informer_meta_t *l = new[last].meta;
        size_t li = new[last].index;
        if (c > 0) {
            per_listed[li] = (informer_change_t){INFORMER_CHANGE_ADD, SIZE_MAX, li};
            has_change[li] = true;
        } else {
            const informer_meta_t *s = old[i].meta;
            if (strcmp(s->uid, l->uid) != 0) {
                per_listed[li] = (informer_change_t){INFORMER_CHANGE_REPLACE, old[i].index, li};
                has_change[li] = true;
            } else if (strcmp(s->resource_version, l->resource_version) != 0) {
                per_listed[li] = (informer_change_t){INFORMER_CHANGE_UPDATE, old[i].index, li};
                has_change[li] = true;
            }
            i++;
        }
        j = last + 1;
    }
    for (size_t k = 0; k < listed_len; k++)
        if (has_change[k])
            changes[n++] = per_listed[k];

    free(old);
    free(new);
    free(per_listed);
    free(has_change);
    if (n == 0) {
        free(changes);
        changes = NULL;
    }
    *out = changes;
    *out_len = n;
    return 0;
}
