/* What the checks of one run share, so that each check's fresh sandbox does not redo work
 * another check already did: the compiled bytecode of the modules they `require`, and the
 * HTTP layer's DNS and TLS session caches. Nothing a script can see or change is shared:
 * each check still gets its own Lua state, its own connections and its own cookie jars.
 * The runner makes one per run; every attempt thread holds a reference (an abandoned,
 * stuck thread may outlive the run), and the last uat_run_share_unref frees it.
 * All functions are safe to call from concurrent check threads. */
#ifndef UAT_RUN_SHARE_H
#define UAT_RUN_SHARE_H

#include "util/error.h"

#include <lua.h>
#include <stdbool.h>

struct uat_run_share;
struct uat_http_share;

/* A share with one reference. NULL with err set when memory or libcurl fails. */
struct uat_run_share *uat_run_share_new(struct uat_error *err);
/* Takes one more reference; returns share (NULL stays NULL). */
struct uat_run_share *uat_run_share_ref(struct uat_run_share *share);
/* Drops one; the last frees everything. NULL is fine. */
void uat_run_share_unref(struct uat_run_share *share);

/* [-0, +(0|1), e] When a module compiled from `path` under `chunkname` was kept by an
 * earlier check, loads that bytecode into L, pushes the function and returns true; else
 * pushes nothing and returns false. Raises (like a failed load) when L cannot take it, e.g.
 * at its memory cap. */
bool uat_run_share_load_module(struct uat_run_share *share, lua_State *L, const char *path,
                               const char *chunkname);

/* [-0, +0, -] Keeps the bytecode of the function on top of L (just compiled from the text of
 * `path` under `chunkname`) for the next checks. Silently keeps nothing when memory runs out
 * or the cache is full: a later check then compiles the text itself. */
void uat_run_share_keep_module(struct uat_run_share *share, lua_State *L, const char *path,
                               const char *chunkname);

/* The HTTP caches (borrowed; lives as long as the share). */
struct uat_http_share *uat_run_share_http(struct uat_run_share *share);

#endif
