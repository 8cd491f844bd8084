/*
 * harness_contract: the integration suite's record of every answer it
 * receives from the stack, for the contract test (t/contract/validate
 * checks each against docs/openapi.yaml at the end of t/integration/run).
 */
#ifndef TOLLGATE_IT_HARNESS_CONTRACT_H
#define TOLLGATE_IT_HARNESS_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

/* it_contract_record: when TOLLGATE_CONTRACT_LOG names a file, append one
 * JSON line to it: {"source":"integration","program","method","path"
 * (as sent, with its query),"raw" (true for it_raw's hand-made requests),
 * "status","headers":[[name,value],...],"body"} (body null, and
 * "body_utf8":false, when it is not UTF-8). method and path need not be
 * NUL-free or UTF-8 (method_len, path_len bytes; invalid bytes are
 * recorded as U+FFFD). r->status 0 (no answer) records nothing. One
 * write(2) on an O_APPEND descriptor per line, so that the parallel test
 * processes of a program do not interleave. Failures are reported on
 * stderr and otherwise ignored (the validator then misses the line). */
void it_contract_record(const char *method, size_t method_len, const char *path, size_t path_len,
                        bool raw, const struct it_response *r);

#endif
