#!/usr/bin/env python3
"""bench/sql2pgbench.py -- turn tollgate's prepared statements into pgbench.

    sql2pgbench.py PRINT_STATEMENT DEFINES_FILE < TABLE > SCRIPT_PART

Reads the request table of bench/run on stdin, one statement a line:

    NAME | EXPR EXPR ... | RESULT

NAME is a prepared statement's name; its SQL text and parameter count come
from PRINT_STATEMENT (bench/print-statement, linked with the build's
libtollgate.a), so the script runs exactly what a worker prepares. There must
be one EXPR per parameter, in order: $k becomes the k-th EXPR, either a
pgbench variable (":name") or the literal NULL. RESULT is "-" (the row is
discarded) or "gset PREFIX" (its columns become the variables :PREFIXcolumn
for the following lines). Blank lines and lines starting with "#" are
skipped.

Writes the pgbench lines (one SQL command per statement) on stdout and, to
DEFINES_FILE, the "-D" definitions they need, one NAME=VALUE a line.

pgbench reads ":word" anywhere in an SQL command as a variable (only "::"
casts are left alone). A string literal that contains such text (to_char's
'HH24:MI:SS') is therefore sent as a parameter instead: the literal becomes
the variable :sqllit_N, defined with -D to the literal's value. What cannot
be carried over that way stops the script with an error naming the
statement: ":word" outside a literal, a quoted identifier or an E'' literal
with one, dollar quoting, a ";" inside the statement, a $k without an EXPR.
"""
import re
import subprocess
import sys

VAR_RE = re.compile(r":[A-Za-z0-9_]")  # what pgbench takes for a variable
EXPR_RE = re.compile(r"^(:[A-Za-z_][A-Za-z0-9_]*|NULL)$")


class Refused(Exception):
    pass


def convert(name, sql, exprs, literals):
    """SQL text of statement NAME with $k replaced by exprs[k-1]; literals
    pgbench would misread become variables, appended to LITERALS as
    (variable, value). Returns one line of SQL."""
    out = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or (c in "eE" and sql[i + 1:i + 2] == "'" and
                        (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_"))):
            escaped = c != "'"
            j = i + 2 if escaped else i + 1
            value = []
            while True:
                if j >= n:
                    raise Refused(f"{name}: unterminated string literal")
                if escaped and sql[j] == "\\":
                    value.append(sql[j:j + 2])
                    j += 2
                    continue
                if sql[j] == "'":
                    if sql[j + 1:j + 2] == "'":
                        value.append("'")
                        j += 2
                        continue
                    break
                value.append(sql[j])
                j += 1
            text = sql[i:j + 1]
            if VAR_RE.search(text):
                if escaped:
                    raise Refused(f"{name}: E'' literal with ':' text: {text}")
                var = f"sqllit_{len(literals) + 1}"
                literals.append((var, "".join(value)))
                out.append(":" + var)
            else:
                out.append(text)
            i = j + 1
        elif c == '"':
            j = sql.find('"', i + 1)
            if j < 0:
                raise Refused(f"{name}: unterminated quoted identifier")
            if ":" in sql[i:j + 1]:
                raise Refused(f"{name}: quoted identifier with ':': {sql[i:j + 1]}")
            out.append(sql[i:j + 1])
            i = j + 1
        elif c == "$":
            m = re.match(r"\$(\d+)", sql[i:])
            if m is None:
                raise Refused(f"{name}: dollar quoting is not supported")
            k = int(m.group(1))
            if not 1 <= k <= len(exprs):
                raise Refused(f"{name}: ${k} but the table gives {len(exprs)} parameters")
            out.append(exprs[k - 1])
            i += len(m.group(0))
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise Refused(f"{name}: unterminated comment")
            out.append(" ")
            i = j + 2
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif c == ":":
            raise Refused(f"{name}: pgbench would read {sql[i:i + 12]!r} as a variable")
        elif c == ";":
            if sql[i + 1:].strip():
                raise Refused(f"{name}: more than one statement")
            i += 1
        elif c in "\r\n\t":
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out).strip()


def statement(print_statement, name):
    def run(*args):
        p = subprocess.run([print_statement, *args, name], capture_output=True, text=True)
        if p.returncode != 0:
            raise Refused(p.stderr.strip() or f"print-statement {name} failed")
        return p.stdout.rstrip("\n")
    return run(), int(run("-n"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print_statement, defines_path = sys.argv[1], sys.argv[2]
    literals, lines, count = [], [], 0
    try:
        for raw in sys.stdin:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 3:
                raise Refused(f"table line {line!r}: want NAME | EXPRS | RESULT")
            name, exprs, result = parts[0], parts[1].split(), parts[2].split()
            for e in exprs:
                if not EXPR_RE.match(e):
                    raise Refused(f"{name}: parameter {e!r} is neither :variable nor NULL")
            sql, nparams = statement(print_statement, name)
            if nparams != len(exprs):
                raise Refused(f"{name} takes {nparams} parameters; the table gives {len(exprs)}")
            text = convert(name, sql, exprs, literals)
            lines.append(f"-- {name}")
            if result == ["-"]:
                lines.append(text + ";")
            elif len(result) == 2 and result[0] == "gset" and re.match(r"^[A-Za-z_]\w*$", result[1]):
                lines.append(text)
                lines.append(f"\\gset {result[1]}")
            else:
                raise Refused(f"{name}: result {parts[2]!r}: want - or gset PREFIX")
            count += 1
        if count == 0:
            raise Refused("the request table names no statement")
    except Refused as e:
        sys.exit(f"bench: cannot generate the pgbench script: {e}")
    with open(defines_path, "w") as f:
        f.writelines(f"{var}={value}\n" for var, value in literals)
    sys.stdout.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
