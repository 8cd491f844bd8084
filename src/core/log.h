/*
 * log: one JSON object a line on stderr (journald under systemd). Messages
 * never contain secrets: callers pass API key prefixes, never keys.
 */
#ifndef TOLLGATE_LOG_H
#define TOLLGATE_LOG_H

#include <jansson.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_init: name the program in every line (static string, borrowed). */
void log_init(const char *program);

/* log_forked: call in a child after fork(), so lines carry its pid. */
void log_forked(void);

/* log_msg: a line {"ts","level","program","pid","msg"}; printf-style. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_json: a line with fields taken from obj (stolen: the caller gives up
 * its reference) plus ts, level, program and pid. */
void log_json(enum log_level level, json_t *obj);

#endif
