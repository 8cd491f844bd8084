/*
 * Unit tests for src/http/validate.c, table-driven body validation: each
 * type (string, boolean, integer, metadata) accepts its values and refuses
 * the others; string length bounds count bytes; one_of; integer bounds;
 * unknown fields are refused (with a printable name in the detail);
 * required fields may be neither absent nor null, optional ones may be both;
 * control characters and NUL are refused in strings and metadata; metadata
 * holds Stripe's limits (50 keys, 40-byte keys, 500-byte values, strings
 * only); out[] borrows the values; and valid_text itself.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ctx.h"
#include "http/validate.h"
#include "unit.h"

static struct arena *arena;
static struct config cfg;
static struct service svc;
static struct tg_ctx ctx;
static struct http_request req;

static void setup(void)
{
    arena = arena_new(4096);
    cr_assert_not_null(arena);
    svc.cfg = &cfg;
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
}

static void teardown(void)
{
    arena_free(arena);
    leak_check();
}

TestSuite(validate, .init = setup, .fini = teardown);

static const char *const kinds[] = {"fix_deployed", "fix_reverted", NULL};

enum { F_NAME, F_KIND, F_ACTIVE, F_COUNT, F_METADATA, NFIELDS };

static const struct valid_field fields[NFIELDS] = {
    [F_NAME] = {"name", VALID_STRING, true, 1, 10, NULL},
    [F_KIND] = {"kind", VALID_STRING, false, 0, 64, kinds},
    [F_ACTIVE] = {"active", VALID_BOOLEAN, false, 0, 0, NULL},
    [F_COUNT] = {"count", VALID_INTEGER, false, -5, 100, NULL},
    [F_METADATA] = {"metadata", VALID_METADATA, false, 0, 0, NULL},
};

static json_t *out[NFIELDS];

static void free_json(void *j)
{
    json_decref(j);
}

/* check: validate obj (stolen: the arena releases it, so out[] stays valid
 * for the rest of the test). */
static enum tg_err check(json_t *obj)
{
    cr_assert_not_null(obj, "test object did not build");
    cr_assert_eq(arena_defer(arena, free_json, obj), 0);
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    for (int i = 0; i < NFIELDS; i++)
        out[i] = (json_t *)&out; /* a sentinel valid_object must overwrite */
    return valid_object(&req, obj, fields, NFIELDS, out);
}

/* check_text: validate the JSON text (which must parse). */
static enum tg_err check_text(const char *text)
{
    json_error_t e;
    json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(obj, "bad test JSON %s: %s", text, e.text);
    return check(obj);
}

/* expect_invalid: text is refused with TG_EINVALID and a detail holding word. */
static void expect_invalid(const char *text, const char *word)
{
    cr_assert_eq(check_text(text), TG_EINVALID, "accepted: %s", text);
    cr_assert_not_null(req.ctx->error.detail, "%s: no detail", text);
    if (word != NULL)
        cr_assert_not_null(strstr(req.ctx->error.detail, word), "%s: detail \"%s\" lacks \"%s\"", text,
                           req.ctx->error.detail, word);
}

Test(validate, all_fields_valid_and_borrowed)
{
    const char *text = "{\"name\":\"Ada\",\"kind\":\"fix_deployed\",\"active\":true,"
                       "\"count\":7,\"metadata\":{\"team\":\"core\"}}";
    cr_assert_eq(check_text(text), TG_OK, "%s", req.ctx->error.detail);
    cr_assert_str_eq(json_string_value(out[F_NAME]), "Ada");
    cr_assert_str_eq(json_string_value(out[F_KIND]), "fix_deployed");
    cr_assert(json_is_true(out[F_ACTIVE]));
    cr_assert_eq(json_integer_value(out[F_COUNT]), 7);
    cr_assert(json_is_object(out[F_METADATA]));
}

Test(validate, optional_fields_absent_or_null_are_null)
{
    cr_assert_eq(check_text("{\"name\":\"Ada\"}"), TG_OK);
    for (int i = F_KIND; i < NFIELDS; i++)
        cr_assert_null(out[i], "field %s", fields[i].name);
    cr_assert_eq(check_text("{\"name\":\"Ada\",\"kind\":null,\"active\":null,\"count\":null,"
                            "\"metadata\":null}"),
                 TG_OK);
    for (int i = F_KIND; i < NFIELDS; i++)
        cr_assert_null(out[i], "field %s", fields[i].name);
}

Test(validate, required_field_absent_or_null)
{
    expect_invalid("{}", "name");
    expect_invalid("{\"kind\":\"fix_deployed\"}", "name");
    expect_invalid("{\"name\":null}", "name");
}

Test(validate, unknown_field_is_refused)
{
    expect_invalid("{\"name\":\"Ada\",\"nmae\":\"Ada\"}", "nmae");
    expect_invalid("{\"Name\":\"Ada\"}", "Name");
}

Test(validate, unknown_field_name_is_not_echoed_raw)
{
    expect_invalid("{\"name\":\"Ada\",\"a\\u001b[2Jb\":1}", NULL);
    cr_assert_null(strchr(req.ctx->error.detail, '\x1b'), "control character in the detail");
    char text[400] = "{\"";
    memset(text + 2, 'k', 300);
    memcpy(text + 302, "\":1}", 5);
    expect_invalid(text, NULL);
    cr_assert_lt(strlen(req.ctx->error.detail), 200, "long names are cut");
}

/* The name is cut at 64 bytes, which may split a character: the detail
 * must stay valid UTF-8, or the problem answer loses it (found by
 * t/fuzz/fuzz_json_fields). */
Test(validate, unknown_field_name_cut_inside_a_character)
{
    char text[128] = "{\"";
    memset(text + 2, 'a', 63);
    memcpy(text + 65, "\xc3\xa9\":1}", 7); /* e-acute at bytes 64 and 65 */
    expect_invalid(text, NULL);
    json_t *s = json_string(req.ctx->error.detail);
    cr_assert_not_null(s, "detail is not valid UTF-8: %s", req.ctx->error.detail);
    json_decref(s);
}

Test(validate, string_type_is_checked)
{
    static const char *const bad[] = {"1", "true", "[]", "{}", "1.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"name\":%s}", bad[i]);
        expect_invalid(text, "name");
    }
}

Test(validate, string_length_bounds_in_bytes)
{
    expect_invalid("{\"name\":\"\"}", "name");                    /* min 1 */
    cr_assert_eq(check_text("{\"name\":\"a\"}"), TG_OK);          /* 1 */
    cr_assert_eq(check_text("{\"name\":\"abcdefghij\"}"), TG_OK); /* 10 */
    expect_invalid("{\"name\":\"abcdefghijk\"}", "name");         /* 11 */
    /* five two-byte characters are 10 bytes; six are 12 */
    cr_assert_eq(check_text("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"), TG_OK);
    expect_invalid("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", "name");
}

Test(validate, string_control_characters_are_refused)
{
    static const char *const bad[] = {"a\\tb",    "a\\nb",   "a\\rb",     "\\u0001",
                                      "a\\u001f", "\\u007f", "\\u001b[0m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"name\":\"%s\"}", bad[i]);
        expect_invalid(text, "name");
    }
    cr_assert_eq(check_text("{\"name\":\"a b-c_d\"}"), TG_OK, "spaces are printable");
}

Test(validate, string_with_nul_is_refused)
{
    json_t *obj = json_pack("{s:o}", "name", json_stringn("a\0b", 3));
    cr_assert_eq(check(obj), TG_EINVALID);
    cr_assert_not_null(strstr(req.ctx->error.detail, "name"));
}

Test(validate, one_of)
{
    cr_assert_eq(check_text("{\"name\":\"x\",\"kind\":\"fix_reverted\"}"), TG_OK);
    expect_invalid("{\"name\":\"x\",\"kind\":\"fix\"}", "kind");
    expect_invalid("{\"name\":\"x\",\"kind\":\"FIX_DEPLOYED\"}", "kind");
    expect_invalid("{\"name\":\"x\",\"kind\":\"fix_deployed \"}", "kind");
    expect_invalid("{\"name\":\"x\",\"kind\":\"\"}", "kind");
}

Test(validate, boolean)
{
    cr_assert_eq(check_text("{\"name\":\"x\",\"active\":false}"), TG_OK);
    cr_assert(json_is_false(out[F_ACTIVE]));
    static const char *const bad[] = {"1", "0", "\"true\"", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"name\":\"x\",\"active\":%s}", bad[i]);
        expect_invalid(text, "active");
    }
}

Test(validate, integer_bounds_and_type)
{
    cr_assert_eq(check_text("{\"name\":\"x\",\"count\":-5}"), TG_OK);
    cr_assert_eq(check_text("{\"name\":\"x\",\"count\":100}"), TG_OK);
    cr_assert_eq(check_text("{\"name\":\"x\",\"count\":0}"), TG_OK);
    static const char *const bad[] = {
        "-6", "101", "1.0", "1e2", "\"5\"", "true", "4611686018427387904", "[1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[96];
        snprintf(text, sizeof(text), "{\"name\":\"x\",\"count\":%s}", bad[i]);
        expect_invalid(text, "count");
    }
}

/* metadata_of: {"name":"x","metadata":{...}} with nkeys keys of klen bytes
 * and values of vlen bytes. */
static json_t *metadata_of(size_t nkeys, size_t klen, size_t vlen)
{
    json_t *md = json_object();
    char key[128], *val = malloc(vlen + 1);
    cr_assert(md != NULL && val != NULL && klen < sizeof(key) && klen >= 3);
    memset(val, 'v', vlen);
    val[vlen] = '\0';
    for (size_t i = 0; i < nkeys; i++) {
        memset(key, 'k', klen);
        key[klen] = '\0';
        key[0] = (char)('a' + i / 26);
        key[1] = (char)('a' + i % 26);
        cr_assert_eq(json_object_set_new(md, key, json_string(val)), 0);
    }
    free(val);
    cr_assert_eq(json_object_size(md), nkeys);
    return json_pack("{s:s,s:o}", "name", "x", "metadata", md);
}

Test(validate, metadata_key_count)
{
    cr_assert_eq(check(metadata_of(0, 3, 1)), TG_OK);
    cr_assert_eq(check(metadata_of(50, 3, 1)), TG_OK, "%s", req.ctx->error.detail);
    cr_assert_eq(check(metadata_of(51, 3, 1)), TG_EINVALID);
    cr_assert_not_null(strstr(req.ctx->error.detail, "metadata"));
}

Test(validate, metadata_key_length)
{
    cr_assert_eq(check(metadata_of(2, 40, 1)), TG_OK, "%s", req.ctx->error.detail);
    cr_assert_eq(check(metadata_of(2, 41, 1)), TG_EINVALID);
    expect_invalid("{\"name\":\"x\",\"metadata\":{\"\":\"v\"}}", "metadata");
}

Test(validate, metadata_value_length)
{
    cr_assert_eq(check(metadata_of(2, 3, 500)), TG_OK, "%s", req.ctx->error.detail);
    cr_assert_eq(check(metadata_of(2, 3, 501)), TG_EINVALID);
    cr_assert_eq(check(metadata_of(2, 3, 0)), TG_OK, "empty values are allowed");
}

Test(validate, metadata_values_are_strings)
{
    static const char *const bad[] = {"1", "true", "null", "{}", "[\"a\"]", "{\"x\":\"y\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[96];
        snprintf(text, sizeof(text), "{\"name\":\"x\",\"metadata\":{\"k\":%s}}", bad[i]);
        expect_invalid(text, "metadata");
    }
}

Test(validate, metadata_must_be_an_object)
{
    static const char *const bad[] = {"\"k=v\"", "[]", "1", "true"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[96];
        snprintf(text, sizeof(text), "{\"name\":\"x\",\"metadata\":%s}", bad[i]);
        expect_invalid(text, "metadata");
    }
}

Test(validate, metadata_control_characters_and_nul)
{
    expect_invalid("{\"name\":\"x\",\"metadata\":{\"k\":\"a\\nb\"}}", "metadata");
    expect_invalid("{\"name\":\"x\",\"metadata\":{\"k\\t\":\"v\"}}", "metadata");
    expect_invalid("{\"name\":\"x\",\"metadata\":{\"k\":\"\\u007f\"}}", "metadata");
    json_t *md = json_pack("{s:o}", "k", json_stringn("a\0b", 3));
    cr_assert_eq(check(json_pack("{s:s,s:o}", "name", "x", "metadata", md)), TG_EINVALID);
}

