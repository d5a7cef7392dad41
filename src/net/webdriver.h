/* A W3C WebDriver client: JSON commands over HTTP to a driver on loopback (chromedriver),
 * with libcurl (through net/http.h) and jansson. One struct uat_webdriver is one session;
 * it is used by one check on one thread.
 * Ownership: returned json_t * are new references (json_decref them); bodies passed in are
 * borrowed; const char * are borrowed. Errors are sentences naming the command. */
#ifndef UAT_WEBDRIVER_H
#define UAT_WEBDRIVER_H

#include "util/error.h"

#include <jansson.h>
#include <stddef.h>

struct uat_webdriver;

/* Parses one WebDriver reply body (any HTTP status): {"value": V} gives 0 and *value = V
 * (a new reference; JSON null for an empty value); {"value": {"error": E, "message": M}} or a
 * body that is not such JSON gives -1 with err = "E: M" (the first line of each). *value is NULL
 * on error. Pure: safe to fuzz. */
int uat_webdriver_parse_reply(const char *body, size_t len, json_t **value, struct uat_error *err);

/* The W3C error code of the last failed command ("no such element", "timeout", ...), or "". */
const char *uat_webdriver_last_error(const struct uat_webdriver *wd);

/* A client for the driver at base_url ("http://127.0.0.1:PORT"). NULL with err set. */
struct uat_webdriver *uat_webdriver_new(const char *base_url, struct uat_error *err);
void uat_webdriver_free(struct uat_webdriver *wd);

/* GET /status: 0 when the driver says it is ready. */
int uat_webdriver_ready(struct uat_webdriver *wd, double timeout_s, struct uat_error *err);

/* POST /session with capabilities (borrowed). 0 and the session kept in wd. */
int uat_webdriver_new_session(struct uat_webdriver *wd, json_t *capabilities, double timeout_s,
                              struct uat_error *err);
/* DELETE /session/{id}, when there is one (errors ignored: the browser is going anyway). */
void uat_webdriver_end_session(struct uat_webdriver *wd, double timeout_s);

/* One command of the session: method "GET"/"POST"/"DELETE", path after /session/{id}
 * ("/url", "/element", ...), body (borrowed; NULL: {} for POST). 0 with *value (may be NULL
 * when the caller passes value NULL), or -1 with err = "WHAT: cause". */
int uat_webdriver_command(struct uat_webdriver *wd, const char *method, const char *path,
                          json_t *body, double timeout_s, json_t **value, const char *what,
                          struct uat_error *err);

/* The element reference of a find reply ({"element-6066-...": id}), or NULL. Borrowed. */
const char *uat_webdriver_element_id(json_t *element);

#endif
