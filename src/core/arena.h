/*
 * arena: a per-request memory pool with cleanup callbacks (the nginx
 * ngx_pool_t habit). Everything a request allocates -- strings, parsed JSON,
 * PGresults -- belongs to the request's arena and is released in one call,
 * arena_reset(), at the end of the accept loop.
 *
 * Written here rather than taken from a library: it is ~100 lines, needs no
 * hierarchy (talloc's model), and its whole contract fits in this header.
 */
#ifndef TOLLGATE_ARENA_H
#define TOLLGATE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* arena_new: a new arena whose blocks are chunk_size bytes (larger requests
 * get a block of their own). Returns NULL when out of memory. Free with
 * arena_free(). */
struct arena *arena_new(size_t chunk_size) __attribute__((warn_unused_result));

/* arena_alloc: size bytes aligned for any type, zero-filled, owned by the
 * arena. Returns NULL when out of memory or when size is 0. */
void *arena_alloc(struct arena *a, size_t size) __attribute__((warn_unused_result));

/* arena_strndup: a NUL-terminated copy of the first n bytes of s. */
char *arena_strndup(struct arena *a, const char *s, size_t n)
    __attribute__((warn_unused_result));

/* arena_strdup: a NUL-terminated copy of s; NULL when s is NULL. */
char *arena_strdup(struct arena *a, const char *s) __attribute__((warn_unused_result));

/* arena_printf: printf into a new arena string. NULL on error. */
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));

/* arena_defer: run fn(ptr) when the arena is reset or freed (last deferred
 * runs first). A NULL ptr is accepted and ignored. Returns 0, or -1 when out
 * of memory -- in which case fn(ptr) has already been run, so the caller
 * never leaks what it handed over. */
int arena_defer(struct arena *a, void (*fn)(void *), void *ptr)
    __attribute__((warn_unused_result));

/* arena_json_decref: a cleanup for arena_defer() that drops a Jansson
 * reference: arena_defer(a, arena_json_decref, json) hands json to a. */
void arena_json_decref(void *json);

/* arena_reset: run the cleanups and release every allocation except the
 * first block, ready for the next request. */
void arena_reset(struct arena *a);

/* arena_free: arena_reset() and then release the arena itself. NULL is ok. */
void arena_free(struct arena *a);

#endif
