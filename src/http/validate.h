/*
 * validate: request bodies are checked against a table of fields before a
 * handler sees them (the kcgi `struct kvalid` habit). Unknown fields are
 * refused, so a typo never passes silently.
 */
#ifndef TOLLGATE_VALIDATE_H
#define TOLLGATE_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

enum valid_type { VALID_STRING, VALID_BOOLEAN, VALID_INTEGER, VALID_METADATA };

struct valid_field {
    const char *name;
    enum valid_type type;
    bool required;
    /* VALID_STRING: length bounds in bytes; VALID_INTEGER: value bounds. */
    long long min, max;
    /* VALID_STRING: when set, the value must be one of these (NULL-ended). */
    const char *const *one_of;
};

/* Stripe's metadata limits, which users of billing APIs already know. */
#define VALID_METADATA_KEYS 50
#define VALID_METADATA_KEY_MAX 40
#define VALID_METADATA_VALUE_MAX 500

/* valid_object: check obj against fields (nfields entries). On success
 * out[i] is the borrowed value of fields[i] (NULL when absent and optional).
 * Strings must be valid UTF-8 (Jansson guarantees it) without control
 * characters. Metadata is a flat object of string values within Stripe's
 * limits. Errors: TG_EINVALID with a detail naming the field. */
enum tg_err valid_object(struct http_request *req, json_t *obj, const struct valid_field *fields,
                         size_t nfields, json_t **out) __attribute__((warn_unused_result));

#endif
