/*
 * arena: per-request memory pool; see arena.h for the contract.
 */
#include "core/arena.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

struct arena {
    struct block *head;  /* newest block first */
    struct block *first; /* the block kept across resets */
    struct cleanup *cleanups;
    size_t chunk_size;
};

static struct block *block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct block))
        return NULL;
    struct block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct arena *arena_new(size_t chunk_size)
{
    struct arena *a = malloc(sizeof(*a));
    if (a == NULL)
        return NULL;
    a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
    a->cleanups = NULL;
    a->head = a->first = block_new(a->chunk_size);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    return a;
}

void *arena_alloc(struct arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size == 0 || size > SIZE_MAX - align)
        return NULL;
    size = (size + align - 1) & ~(align - 1);

    struct block *b = a->head;
    if (b->size - b->used < size) {
        if (size > a->chunk_size / 4) {
            /* A large allocation gets its own block behind the current one,
             * so the current block's free space is not wasted. */
            struct block *big = block_new(size);
            if (big == NULL)
                return NULL;
            big->used = size;
            big->next = b->next;
            b->next = big;
            memset(big->data, 0, size);
            return big->data;
        }
        b = block_new(a->chunk_size);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int arena_defer(struct arena *a, void (*fn)(void *), void *ptr)
{
    if (ptr == NULL)
        return 0;
    /* Cleanup records come from malloc, not the arena, so that a failed
     * block allocation cannot strand them. */
    struct cleanup *c = malloc(sizeof(*c));
    if (c == NULL) {
        fn(ptr);
        return -1;
    }
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

void arena_json_decref(void *json)
{
    json_decref(json);
}

void arena_reset(struct arena *a)
{
    while (a->cleanups != NULL) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->ptr);
        free(c);
    }
    for (struct block *b = a->head, *next; b != NULL; b = next) {
        next = b->next;
        if (b != a->first)
            free(b);
    }
    a->head = a->first;
    a->head->next = NULL;
    a->head->used = 0;
}

void arena_free(struct arena *a)
{
    if (a == NULL)
        return;
    arena_reset(a);
    free(a->first);
    free(a);
}
