/* Runs one check's Lua script in a fresh, bounded Lua 5.4 state.
 * The state opens only an allow-list of libraries (base without dofile/loadfile,
 * string, table, math, utf8, os.time/clock/date), loads text chunks only,
 * `require`s only from the playbook's checklists/ then the bundled ones, is
 * stopped at its deadline by a count hook that pcall cannot swallow, and its
 * allocator refuses growth past the memory cap.
 * Nothing here prints: everything the check says lands in the result, redacted. */
#ifndef UAT_SANDBOX_H
#define UAT_SANDBOX_H

#include "check/check_env.h"
#include "util/error.h"
#include "util/result.h"

#include <stdbool.h>
#include <stddef.h>

/* Runs one attempt. Fills out->outcome, expectations, error, traceback, logs and
 * duration (out->id/title/attempts are the runner's). Returns 0; -1 only when
 * memory for the result itself ran out (err set). */
int uat_sandbox_run(const struct uat_check_env *env, struct uat_check_result *out,
                    struct uat_error *err);

/* Compiles the check's script without running it (for `lint`). Returns 0, or -1 with
 * err holding "script.lua:LINE: message". */
int uat_sandbox_compile(const struct uat_check_env *env, struct uat_error *err);

/* Compiles a Lua file as a module would be loaded (for `lint` of checklists/). */
int uat_sandbox_compile_file(const char *path, struct uat_error *err);

/* Whether the check's script, or a module it requires, opens a browser (browser.open): then
 * Chromium and chromedriver must be installed before the run starts. */
bool uat_sandbox_uses_browser(const struct uat_check_env *env);

/* The bundled checklists folder in effect for env (see bundled_checklists). */
const char *uat_sandbox_bundled_dir(const struct uat_check_env *env);

#endif
