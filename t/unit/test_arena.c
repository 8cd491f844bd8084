/*
 * Unit tests for src/core/arena.c, the per-request memory pool: allocations
 * are aligned for any type and zero-filled (also when memory is reused after
 * a reset), size 0 and impossible sizes give NULL, allocations larger than a
 * chunk work and do not disturb the current block, many allocations do not
 * overlap, strndup/strdup/printf copy exactly, cleanups run last-deferred
 * first, exactly once, on reset and on free, and a reset keeps the first
 * block for the next request. Leaks show in the sanitizer build.
 */
#include <criterion/criterion.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "unit.h"

#define ALIGN alignof(max_align_t)

TestSuite(arena, .fini = leak_check);

static bool aligned(const void *p)
{
    return (uintptr_t)p % ALIGN == 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

Test(arena, alloc_is_aligned_for_any_type)
{
    struct arena *a = arena_new(1024);
    cr_assert_not_null(a);
    for (size_t size = 1; size <= 200; size++) {
        void *p = arena_alloc(a, size);
        cr_assert_not_null(p);
        cr_assert(aligned(p), "size %zu gave %p", size, p);
    }
    arena_free(a);
}

Test(arena, alloc_is_zero_filled)
{
    struct arena *a = arena_new(4096);
    cr_assert_not_null(a);
    for (size_t size = 1; size < 3000; size += 97) {
        unsigned char *p = arena_alloc(a, size);
        cr_assert_not_null(p);
        cr_assert(all_zero(p, size), "size %zu not zeroed", size);
        memset(p, 0xa5, size);
    }
    arena_free(a);
}

Test(arena, memory_reused_after_reset_is_zeroed_again)
{
    struct arena *a = arena_new(1024);
    cr_assert_not_null(a);
    unsigned char *p = arena_alloc(a, 200);
    cr_assert_not_null(p);
    memset(p, 0xff, 200);
    arena_reset(a);
    unsigned char *q = arena_alloc(a, 200);
    cr_assert_eq(q, p, "a reset arena starts again at the first block");
    cr_assert(all_zero(q, 200));
    arena_free(a);
}

Test(arena, size_zero_and_impossible_sizes_give_null)
{
    struct arena *a = arena_new(1024);
    cr_assert_not_null(a);
    cr_assert_null(arena_alloc(a, 0));
    cr_assert_null(arena_alloc(a, SIZE_MAX));
    cr_assert_null(arena_alloc(a, SIZE_MAX - 8));
    cr_assert_null(arena_strndup(a, "x", SIZE_MAX));
    /* the arena is still usable */
    cr_assert_not_null(arena_alloc(a, 1));
    arena_free(a);
}

Test(arena, tiny_chunk_size_still_works)
{
    struct arena *a = arena_new(0);
    cr_assert_not_null(a);
    for (int i = 0; i < 100; i++) {
        char *p = arena_alloc(a, 100);
        cr_assert_not_null(p);
        memset(p, 'x', 100);
    }
    arena_free(a);
}

Test(arena, large_allocations_are_whole_aligned_and_zeroed)
{
    struct arena *a = arena_new(512);
    cr_assert_not_null(a);
    static const size_t sizes[] = {129, 512, 513, 4096, 100000, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = arena_alloc(a, sizes[i]);
        cr_assert_not_null(p, "size %zu", sizes[i]);
        cr_assert(aligned(p));
        cr_assert(all_zero(p, sizes[i]), "size %zu not zeroed", sizes[i]);
        memset(p, (int)i + 1, sizes[i]); /* ASan: all of it must be ours */
    }
    arena_free(a);
}

Test(arena, large_allocation_leaves_current_block_in_use)
{
    struct arena *a = arena_new(1024);
    cr_assert_not_null(a);
    char *before = arena_alloc(a, 16);
    char *big = arena_alloc(a, 5000);
    char *after = arena_alloc(a, 16);
    cr_assert(before != NULL && big != NULL && after != NULL);
    cr_assert_eq(after, before + 16 + (ALIGN > 16 ? ALIGN - 16 : 0),
                 "the small allocation after a large one comes from the same block");
    arena_free(a);
}

Test(arena, many_allocations_do_not_overlap)
{
    enum { N = 2000 };
    static unsigned char *ptrs[N];
    struct arena *a = arena_new(1000);
    cr_assert_not_null(a);
    for (size_t i = 0; i < N; i++) {
        size_t size = 1 + (i * 37) % 300;
        ptrs[i] = arena_alloc(a, size);
        cr_assert_not_null(ptrs[i]);
        memset(ptrs[i], (int)(i & 0xff), size);
    }
    for (size_t i = 0; i < N; i++) {
        size_t size = 1 + (i * 37) % 300;
        for (size_t j = 0; j < size; j++)
            cr_assert_eq(ptrs[i][j], (unsigned char)(i & 0xff), "allocation %zu overwritten", i);
    }
    arena_free(a);
}

Test(arena, strndup_copies_exactly_n_bytes)
{
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    const char *src = "hello, world";
    char *s = arena_strndup(a, src, 5);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "hello");
    cr_assert_neq(s, src);
    char *e = arena_strndup(a, src, 0);
    cr_assert_not_null(e);
    cr_assert_str_eq(e, "");
    /* bytes after a NUL inside n are copied too */
    char *z = arena_strndup(a, "ab\0cd", 5);
    cr_assert_not_null(z);
    cr_assert_eq(memcmp(z, "ab\0cd", 6), 0);
    arena_free(a);
}

Test(arena, strdup_copies_and_passes_null_through)
{
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    char buf[] = "mutable";
    char *s = arena_strdup(a, buf);
    cr_assert_not_null(s);
    buf[0] = 'X';
    cr_assert_str_eq(s, "mutable");
    cr_assert_null(arena_strdup(a, NULL));
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *b = arena_strdup(a, big);
    cr_assert_not_null(b);
    cr_assert_str_eq(b, big);
    arena_free(a);
}

Test(arena, printf_formats_into_arena)
{
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    char *s = arena_printf(a, "%s-%d-%05.1f-%c", "req", 42, 3.14159, 'z');
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "req-42-003.1-z");
    char *e = arena_printf(a, "%s", "");
    cr_assert_not_null(e);
    cr_assert_str_eq(e, "");
    /* longer than a chunk */
    char *l = arena_printf(a, "%2000d|", 7);
    cr_assert_not_null(l);
    cr_assert_eq(strlen(l), 2001);
    cr_assert_eq(l[1998], ' ');
    cr_assert_str_eq(l + 1999, "7|");
    arena_free(a);
}

/* ---- cleanups -------------------------------------------------------- */

static int order[16];
static int norder;

static void record(void *p)
{
    cr_assert_lt(norder, 16);
    order[norder++] = *(int *)p;
}

static void reset_record(void)
{
    norder = 0;
    memset(order, 0, sizeof(order));
}

Test(arena, defer_runs_last_first_on_reset, .init = reset_record)
{
    static int one = 1, two = 2, three = 3;
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    cr_assert_eq(arena_defer(a, record, &one), 0);
    cr_assert_eq(arena_defer(a, record, &two), 0);
    cr_assert_eq(arena_defer(a, record, &three), 0);
    cr_assert_eq(norder, 0, "nothing runs before the reset");
    arena_reset(a);
    cr_assert_eq(norder, 3);
    cr_assert_eq(order[0], 3);
    cr_assert_eq(order[1], 2);
    cr_assert_eq(order[2], 1);
    arena_reset(a);
    cr_assert_eq(norder, 3, "cleanups run once");
    arena_free(a);
    cr_assert_eq(norder, 3, "and not again on free");
}

Test(arena, defer_runs_on_free, .init = reset_record)
{
    static int one = 1, two = 2;
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    cr_assert_eq(arena_defer(a, record, &one), 0);
    cr_assert_eq(arena_defer(a, record, &two), 0);
    arena_free(a);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 2);
    cr_assert_eq(order[1], 1);
}

Test(arena, defer_after_reset_runs_at_next_reset, .init = reset_record)
{
    static int one = 1, two = 2;
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    cr_assert_eq(arena_defer(a, record, &one), 0);
    arena_reset(a);
    cr_assert_eq(arena_defer(a, record, &two), 0);
    arena_reset(a);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 2);
    arena_free(a);
}

Test(arena, defer_null_is_ignored, .init = reset_record)
{
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    cr_assert_eq(arena_defer(a, record, NULL), 0);
    arena_reset(a);
    cr_assert_eq(norder, 0, "fn must not be called for a NULL ptr");
    arena_free(a);
}

/* The sanitizer build's leak check fails this test if free() never runs. */
Test(arena, defer_frees_heap_memory)
{
    struct arena *a = arena_new(256);
    cr_assert_not_null(a);
    for (int i = 0; i < 50; i++) {
        char *p = malloc(100);
        cr_assert_not_null(p);
        cr_assert_eq(arena_defer(a, free, p), 0);
    }
    arena_reset(a);
    char *p = malloc(100);
    cr_assert_not_null(p);
    cr_assert_eq(arena_defer(a, free, p), 0);
    arena_free(a);
}

Test(arena, reset_reuses_memory_across_requests)
{
    struct arena *a = arena_new(1024);
    cr_assert_not_null(a);
    void *first = arena_alloc(a, 64);
    cr_assert_not_null(first);
    for (int round = 0; round < 5; round++) {
        /* a request that spills into more blocks and a large allocation */
        for (int i = 0; i < 100; i++)
            cr_assert_not_null(arena_alloc(a, 200));
        cr_assert_not_null(arena_alloc(a, 50000));
        arena_reset(a);
        void *again = arena_alloc(a, 64);
        cr_assert_eq(again, first, "round %d: the first block is kept and reused", round);
    }
    arena_free(a);
}

Test(arena, free_accepts_null)
{
    arena_free(NULL);
}
