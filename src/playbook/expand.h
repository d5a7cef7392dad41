/* ${VAR} and ${VAR:-default} in playbook values, from the environment.
 * "$$" stands for a literal "$". An unset ${VAR} without default is an error
 * naming VAR. The result is the caller's. */
#ifndef UAT_EXPAND_H
#define UAT_EXPAND_H

#include "util/error.h"

typedef const char *(*uat_getenv_fn)(const char *name, void *ctx);

/* Returns the expanded text, or NULL with err holding a message without position
 * (the caller prefixes FILE:LINE:COL). getenv_fn NULL means getenv. */
char *uat_expand(const char *text, uat_getenv_fn getenv_fn, void *ctx, struct uat_error *err);

#endif
