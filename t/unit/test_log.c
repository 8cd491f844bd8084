/*
 * Unit tests for src/core/log.c: under journald (JOURNAL_STREAM names the
 * device and inode of stderr, systemd.exec(5)) every line opens with its
 * sd-daemon(3) priority, so `journalctl -p err` lists errors only; with
 * JOURNAL_STREAM unset, or naming another file (a child whose stderr was
 * redirected), a line is the bare JSON object as before.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* capture: run the logging in fn with stderr sent to a temporary file and
 * JOURNAL_STREAM set to journal (NULL: unset; "self": that file's
 * "dev:ino"); the file's content into out. */
static void capture(const char *journal, void (*fn)(void), char *out, size_t len)
{
    char path[] = "/tmp/tollgate-test-log.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    cr_assert_geq(saved, 0);
    cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
    if (journal == NULL) {
        unsetenv("JOURNAL_STREAM");
    } else if (strcmp(journal, "self") == 0) {
        struct stat st;
        cr_assert_eq(fstat(fd, &st), 0);
        char v[64];
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", v, 1);
    } else {
        setenv("JOURNAL_STREAM", journal, 1);
    }
    log_init("test_log");
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    unsetenv("JOURNAL_STREAM");
    log_init("test_log");
    ssize_t n = pread(fd, out, len - 1, 0);
    close(fd);
    cr_assert_geq(n, 0);
    out[n] = '\0';
}

static void four_levels(void)
{
    log_msg(LOG_ERROR, "e");
    log_msg(LOG_WARN, "w");
    log_msg(LOG_INFO, "i");
    log_msg(LOG_DEBUG, "d");
    log_text(LOG_ERROR, "plain %d", 42);
}

Test(log, journald_lines_carry_their_priority)
{
    char out[4096];
    capture("self", four_levels, out, sizeof(out));
    const char *want[] = {"<3>{", "<4>{", "<6>{", "<7>{", "<3>plain 42\n"};
    const char *line = out;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_not_null(line, "line %zu missing in %s", i, out);
        cr_assert_eq(strncmp(line, want[i], strlen(want[i])), 0, "line %zu: want %s in %s", i,
                     want[i], out);
        const char *nl = strchr(line, '\n');
        line = nl != NULL && nl[1] != '\0' ? nl + 1 : NULL;
    }
    cr_assert_null(line, "one line each: %s", out);
    cr_assert_not_null(strstr(out, "\"level\":\"error\""), "%s", out);
}

Test(log, bare_json_without_journald)
{
    char out[4096];
    capture(NULL, four_levels, out, sizeof(out));
    cr_assert_eq(strncmp(out, "{\"msg\":\"e\"", 10), 0, "%s", out);
    cr_assert_null(strchr(out, '<'), "no prefix: %s", out);
    cr_assert_not_null(strstr(out, "\nplain 42\n"), "%s", out);
}

Test(log, journal_stream_of_another_file_is_ignored)
{
    char out[4096];
    capture("1:1", four_levels, out, sizeof(out));
    cr_assert_eq(out[0], '{', "%s", out);
    capture("garbage", four_levels, out, sizeof(out));
    cr_assert_eq(out[0], '{', "%s", out);
}

Test(log, priorities_are_sd_daemon_s)
{
    cr_assert_eq(log_priority(LOG_ERROR), 3);
    cr_assert_eq(log_priority(LOG_WARN), 4);
    cr_assert_eq(log_priority(LOG_INFO), 6);
    cr_assert_eq(log_priority(LOG_DEBUG), 7);
}
