/*
 * log: one JSON object a line on stderr (journald under systemd). Messages
 * never contain secrets: callers pass API key prefixes, never keys.
 *
 * Under journald (stderr is the stream JOURNAL_STREAM names, systemd.exec(5))
 * each line opens with its syslog priority as sd-daemon(3) spells it --
 * "<3>" error, "<4>" warn, "<6>" info, "<7>" debug -- which journald strips
 * and records, so `journalctl -p err` lists only errors. Elsewhere the line
 * is the bare JSON object.
 */
#ifndef TOLLGATE_LOG_H
#define TOLLGATE_LOG_H

#include <jansson.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_init: name the program in every line (static string, borrowed), and
 * decide whether lines carry a journald priority prefix: yes when the
 * environment's JOURNAL_STREAM ("<device>:<inode>", decimal) is the file
 * stderr is now (systemd.exec(5), "$JOURNAL_STREAM"). */
void log_init(const char *program);

/* log_priority: the syslog priority of level (sd-daemon(3): SD_ERR 3,
 * SD_WARNING 4, SD_INFO 6, SD_DEBUG 7). */
int log_priority(enum log_level level);

/* log_forked: call in a child after fork(), so lines carry its pid. */
void log_forked(void);

/* log_msg: a line {"ts","level","program","pid","msg"}; printf-style. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_text: a plain-text line (printf-style, newline added) for messages
 * people read at start-up (a configuration error), prefixed like every
 * line with its priority under journald. Cut to 1 KiB. */
void log_text(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_json: a line with fields taken from obj (stolen: the caller gives up
 * its reference) plus ts, level, program and pid. */
void log_json(enum log_level level, json_t *obj);

#endif
