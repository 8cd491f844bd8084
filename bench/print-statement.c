/*
 * print-statement: print the SQL text of one of tollgate's prepared
 * statements, looked up by its prepared name in the statement registry of the
 * build it is linked with (libtollgate.a). bench/run turns that text into the
 * pgbench script of its sql phase, so the benchmark runs exactly what a
 * worker prepares, never a hand copy.
 *
 *   print-statement NAME       the SQL text, followed by a newline
 *   print-statement -n NAME    the number of parameters ($1..$n)
 *
 * Exit status 0; 2 when NAME is not a statement (or on a usage error).
 * Not part of `make`: bench/run builds it against the build directory.
 */
#include <stdio.h>
#include <string.h>

#include "store/db.h"

int main(int argc, char **argv)
{
    int count_only = argc == 3 && strcmp(argv[1], "-n") == 0;
    if (argc != 2 + count_only || argv[argc - 1][0] == '-') {
        fprintf(stderr, "usage: print-statement [-n] NAME\n");
        return 2;
    }
    const struct db_statement *s = db_statement_find(argv[argc - 1]);
    if (s == NULL || s->sql == NULL) {
        fprintf(stderr, "print-statement: no statement is prepared as \"%s\"\n", argv[argc - 1]);
        return 2;
    }
    if (count_only)
        printf("%d\n", s->nparams);
    else
        printf("%s\n", s->sql);
    return 0;
}
