/*
 * service: what every handler of one process shares -- configuration, the
 * database connection and loaded data files. Built once per worker; handlers
 * borrow it through req->svc.
 */
#ifndef TOLLGATE_SERVICE_H
#define TOLLGATE_SERVICE_H

#include "core/config.h"
#include "domain/email.h"
#include "integration/stripe.h"
#include "store/db.h"

struct service {
    const struct config *cfg;
    struct db *db;
    const struct email_blocklist *blocklist;
    struct stripe *stripe; /* NULL when Stripe is not configured */
};

#endif
