/*
 * text: checks of untrusted text that more than one layer makes (request
 * fields, webhook payloads, operators' arguments).
 */
#ifndef TOLLGATE_TEXT_H
#define TOLLGATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* text_printable: true when s (len bytes) has no C0 control character, NUL
 * or DEL: safe in a log line, a header field or a terminal. */
bool text_printable(const char *s, size_t len);

/* text_is_uuid: s is a UUID in its text form (8-4-4-4-12 hex digits, RFC
 * 9562 section 4), as PostgreSQL prints it; any case. */
bool text_is_uuid(const char *s);

/* text_utf8_scrub: replace in s (NUL-terminated, modified in place) every
 * byte that is not part of a well-formed UTF-8 sequence (RFC 3629 section
 * 4: no overlong forms, no surrogates, nothing above U+10FFFF; what
 * Jansson accepts) with '?', so that s is JSON text (RFC 8259 section
 * 8.1). */
void text_utf8_scrub(char *s);

#endif
