/* The gate's verdict as chat messages and as plain JSON, sent to the webhooks of notify:.
 * Each payload says the same things: what the gate decided, for which release and commit,
 * who must still sign what (with the page link or the command), and who rejected what and
 * why. Text from people (item texts, notes) is escaped for each chat's markup, so a note
 * cannot ping a channel or forge a link. */
#include "report/notify.h"

#include "net/http.h"
#include "report/report_text.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Slack cuts a header at 150 characters and a section at 3000: stay below both. */
#define SLACK_HEADER_MAX 150
#define SECTION_MAX 2900
/* A receiver's answer is read only to quote its first line in a warning. */
#define ANSWER_MAX ((size_t)64 * 1024)
#define ANSWER_QUOTE_MAX 120

unsigned uat_notify_event_of(const struct uat_gate_view *g) {
  if (strcmp(g->verdict, "open") == 0)
    return UAT_NOTIFY_OPEN;
  if (strcmp(g->verdict, "waiting") == 0)
    return UAT_NOTIFY_WAITING;
  for (size_t i = 0; i < g->nitems; i++)
    if (strcmp(g->items[i].state, "rejected") == 0)
      return UAT_NOTIFY_BLOCKED;
  return UAT_NOTIFY_FAILED;
}

const char *uat_notify_event_name(unsigned event) {
  switch (event) {
  case UAT_NOTIFY_WAITING:
    return "waiting";
  case UAT_NOTIFY_OPEN:
    return "open";
  case UAT_NOTIFY_BLOCKED:
    return "blocked";
  default:
    return "failed";
  }
}

static bool is_waiting(const struct uat_gate_view_item *it) {
  return strcmp(it->state, "approved") != 0 && strcmp(it->state, "rejected") != 0;
}

static bool is_rejected(const struct uat_gate_view_item *it) {
  return strcmp(it->state, "rejected") == 0;
}

/* ---------- text in each chat's markup ---------- */

enum dialect {
  SLACK,    /* Slack mrkdwn: only & < > are special (<!channel>, <url|text>) */
  MARKDOWN, /* Mattermost: Markdown, and @name mentions */
  PLAIN,    /* Teams TextBlocks: shown as written */
};

/* Appends s so the chat shows it as written: no markup, link or mention from it. */
static int add_text(struct uat_strbuf *sb, enum dialect d, const char *s) {
  int rc = 0;
  for (const char *p = s ? s : ""; *p && rc == 0; p++) {
    if (d == SLACK && (*p == '&' || *p == '<' || *p == '>'))
      rc = uat_strbuf_adds(sb, *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : "&gt;");
    else if (d == MARKDOWN && strchr("\\`*_~[]()<>#|!", *p))
      rc = uat_strbuf_addf(sb, "\\%c", *p);
    else if (d == MARKDOWN && *p == '@') /* a zero-width space: "@all" no longer mentions */
      rc = uat_strbuf_adds(sb, "@\xe2\x80\x8b");
    else
      rc = uat_strbuf_add(sb, p, 1);
  }
  return rc;
}

static int add_bold(struct uat_strbuf *sb, enum dialect d, const char *s) {
  const char *mark = d == SLACK ? "*" : d == MARKDOWN ? "**" : "";
  if (uat_strbuf_adds(sb, mark) != 0 || add_text(sb, d, s) != 0)
    return -1;
  return uat_strbuf_adds(sb, mark);
}

/* A command or a commit, in a code span. Backquotes cannot be escaped inside one. */
static int add_code(struct uat_strbuf *sb, enum dialect d, const char *s) {
  if (d == PLAIN)
    return uat_strbuf_adds(sb, s);
  int rc = uat_strbuf_adds(sb, "`");
  for (const char *p = s; *p && rc == 0; p++) {
    if (*p == '`')
      rc = uat_strbuf_adds(sb, "'");
    else if (d == SLACK && (*p == '&' || *p == '<' || *p == '>'))
      rc = uat_strbuf_adds(sb, *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : "&gt;");
    else
      rc = uat_strbuf_add(sb, p, 1);
  }
  return rc ? rc : uat_strbuf_adds(sb, "`");
}

static int add_link(struct uat_strbuf *sb, enum dialect d, const char *url, const char *label) {
  if (d == SLACK)
    return uat_strbuf_addf(sb, "<%s|%s>", url, label);
  if (d == MARKDOWN)
    return uat_strbuf_addf(sb, "[%s](%s)", label, url);
  return uat_strbuf_addf(sb, "%s: %s", label, url);
}

/* "Tasking Manager UAT — release v4.6.2, commit 1a2b3c4d5e6f" */
static int add_context(struct uat_strbuf *sb, enum dialect d, const struct uat_gate_view *g) {
  char commit[13];
  snprintf(commit, sizeof commit, "%s", g->commit);
  int rc = add_bold(sb, d, g->playbook);
  rc = rc ? rc : uat_strbuf_adds(sb, " — release ");
  rc = rc ? rc : add_code(sb, d, g->release);
  rc = rc ? rc : uat_strbuf_adds(sb, ", commit ");
  rc = rc ? rc : add_code(sb, d, commit);
  rc = rc ? rc : uat_strbuf_adds(sb, "\nChecks: ");
  return rc ? rc : add_text(sb, d, g->run_reason);
}

/* "• support-briefed (support): Support knows what moved — nesserine or myriam may sign" and,
 * without a sign-off page, the command that signs it. */
static int add_waiting(struct uat_strbuf *sb, enum dialect d, const struct uat_gate_view *g) {
  int rc = 0;
  for (size_t i = 0; i < g->nitems && rc == 0; i++) {
    const struct uat_gate_view_item *it = &g->items[i];
    if (!is_waiting(it))
      continue;
    rc = uat_strbuf_adds(sb, sb->len ? "\n• " : "• ");
    rc = rc ? rc : add_bold(sb, d, it->id);
    rc = rc ? rc : uat_strbuf_adds(sb, " (");
    rc = rc ? rc : add_text(sb, d, it->role);
    rc = rc ? rc : uat_strbuf_adds(sb, "): ");
    rc = rc ? rc : add_text(sb, d, it->text ? it->text : it->reason);
    if (rc == 0 && it->may_sign) {
      rc = uat_strbuf_adds(sb, " — may sign: ");
      rc = rc ? rc : add_text(sb, d, it->may_sign);
    }
    if (rc == 0 && strcmp(it->state, "missing") != 0) { /* expired, signer not allowed, ... */
      rc = uat_strbuf_adds(sb, " (");
      rc = rc ? rc : add_text(sb, d, it->reason);
      rc = rc ? rc : uat_strbuf_adds(sb, ")");
    }
    if (rc == 0 && !g->page_url && it->command) {
      rc = uat_strbuf_adds(sb, "\n    ");
      rc = rc ? rc : add_code(sb, d, it->command);
    }
  }
  return rc;
}

/* "• product-ok (product) rejected by matis: the pager is broken" */
static int add_rejections(struct uat_strbuf *sb, enum dialect d, const struct uat_gate_view *g) {
  int rc = 0;
  for (size_t i = 0; i < g->nitems && rc == 0; i++) {
    const struct uat_gate_view_item *it = &g->items[i];
    if (!is_rejected(it))
      continue;
    rc = uat_strbuf_adds(sb, sb->len ? "\n• " : "• ");
    rc = rc ? rc : add_bold(sb, d, it->id);
    rc = rc ? rc : uat_strbuf_adds(sb, " (");
    rc = rc ? rc : add_text(sb, d, it->role);
    rc = rc ? rc : uat_strbuf_adds(sb, ") rejected by ");
    rc = rc ? rc : add_text(sb, d, it->signer ? it->signer : "?");
    if (rc == 0 && it->note && *it->note) {
      rc = uat_strbuf_adds(sb, ": ");
      rc = rc ? rc : add_text(sb, d, it->note);
    }
  }
  return rc;
}

/* What to do next: the sign-off page, or the gate to ask again. */
static int add_action(struct uat_strbuf *sb, enum dialect d, const struct uat_gate_view *g,
                      unsigned event) {
  if (event == UAT_NOTIFY_OPEN)
    return uat_strbuf_adds(sb, "Every check passed and every sign-off is given.");
  int rc = 0;
  if (g->page_url)
    rc = add_link(sb, d, g->page_url,
                  event == UAT_NOTIFY_WAITING ? "Sign on the sign-off page"
                                              : "Open the sign-off page");
  if (rc == 0 && g->gate_command) {
    rc = uat_strbuf_adds(sb, g->page_url ? "\nThen ask the gate again: " : "Ask the gate again: ");
    rc = rc ? rc : add_code(sb, d, g->gate_command);
  }
  return rc;
}

typedef int (*section_fn)(struct uat_strbuf *, enum dialect, const struct uat_gate_view *);

/* A section's text, cut to what a chat shows; "" when it has nothing; NULL out of memory. */
static char *section(section_fn fn, enum dialect d, const struct uat_gate_view *g) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (fn(&sb, d, g) != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_text_cut(uat_strbuf_take(&sb), SECTION_MAX, " …");
}

static char *action_text(enum dialect d, const struct uat_gate_view *g) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (add_action(&sb, d, g, uat_notify_event_of(g)) != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

/* The texts every chat payload is made of. */
struct parts {
  char *context, *waiting, *rejections, *action;
};

static void parts_release(struct parts *p) {
  free(p->context);
  free(p->waiting);
  free(p->rejections);
  free(p->action);
}

static int parts_build(struct parts *p, enum dialect d, const struct uat_gate_view *g) {
  p->context = section(add_context, d, g);
  p->waiting = section(add_waiting, d, g);
  p->rejections = section(add_rejections, d, g);
  p->action = action_text(d, g);
  if (p->context && p->waiting && p->rejections && p->action)
    return 0;
  parts_release(p);
  return -1;
}

/* ---------- payloads ---------- */

static json_t *slack_section(const char *title, const char *body) {
  if (!*body)
    return NULL;
  json_t *text = title ? json_sprintf("*%s*\n%s", title, body) : json_string(body);
  return json_pack("{s:s, s:{s:s, s:o}}", "type", "section", "text", "type", "mrkdwn", "text",
                   text);
}

/* Appends v (which may be NULL: nothing to add); -1 only when v could not be built. */
static int append(json_t *list, json_t *v, bool may_be_empty) {
  if (!v)
    return may_be_empty ? 0 : -1;
  return json_array_append_new(list, v);
}

/* An incoming-webhook message with Block Kit blocks; text is what notifications show. */
static json_t *slack_payload(const struct uat_gate_view *g, const struct parts *p) {
  char *header = uat_text_cut(strdup(g->headline), SLACK_HEADER_MAX - 2, "…");
  json_t *blocks = json_array();
  int rc = header && blocks ? 0 : -1;
  rc = rc ? rc
          : append(blocks,
                   json_pack("{s:s, s:{s:s, s:s}}", "type", "header", "text", "type", "plain_text",
                             "text", header),
                   false);
  rc = rc ? rc : append(blocks, slack_section(NULL, p->context), false);
  rc = rc ? rc : append(blocks, slack_section("Rejected", p->rejections), *p->rejections == 0);
  rc = rc ? rc : append(blocks, slack_section("Waiting on", p->waiting), *p->waiting == 0);
  rc = rc ? rc : append(blocks, slack_section(NULL, p->action), *p->action == 0);
  json_t *o = rc == 0 ? json_pack("{s:s, s:O}", "text", g->headline, "blocks", blocks) : NULL;
  json_decref(blocks);
  free(header);
  return o;
}

static const char *colour_of(unsigned event) {
  return event == UAT_NOTIFY_OPEN ? "#2eb886" : event == UAT_NOTIFY_WAITING ? "#daa038" : "#a30200";
}

/* Mattermost takes Slack's attachments, with Markdown text. */
static json_t *mattermost_payload(const struct uat_gate_view *g, const struct parts *p) {
  struct uat_strbuf body;
  uat_strbuf_init(&body, 0);
  int rc = uat_strbuf_adds(&body, p->context);
  if (rc == 0 && *p->rejections)
    rc = uat_strbuf_addf(&body, "\n\n**Rejected**\n%s", p->rejections);
  if (rc == 0 && *p->waiting)
    rc = uat_strbuf_addf(&body, "\n\n**Waiting on**\n%s", p->waiting);
  if (rc == 0 && *p->action)
    rc = uat_strbuf_addf(&body, "\n\n%s", p->action);
  struct uat_strbuf head;
  uat_strbuf_init(&head, 0);
  rc = rc ? rc : uat_strbuf_adds(&head, "#### ");
  rc = rc ? rc : add_text(&head, MARKDOWN, g->headline);
  json_t *o =
      rc ? NULL
         : json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "text", head.buf, "attachments", "fallback",
                     g->headline, "color", colour_of(uat_notify_event_of(g)), "text", body.buf);
  uat_strbuf_release(&body);
  uat_strbuf_release(&head);
  return o;
}

static json_t *text_block(const char *text, const char *extra_key, const char *extra_value) {
  if (!*text)
    return NULL;
  json_t *b = json_pack("{s:s, s:s, s:b}", "type", "TextBlock", "text", text, "wrap", 1);
  if (b && extra_key && json_object_set_new(b, extra_key, json_string(extra_value)) != 0) {
    json_decref(b);
    return NULL;
  }
  return b;
}

static json_t *titled_block(const char *title, const char *text) {
  if (!*text)
    return NULL;
  json_t *t = json_sprintf("%s\n%s", title, text);
  json_t *b = t ? text_block(json_string_value(t), NULL, NULL) : NULL;
  json_decref(t);
  return b;
}

/* An Adaptive Card in the message envelope that Teams Workflows webhooks take. */
static json_t *teams_payload(const struct uat_gate_view *g, const struct parts *p) {
  unsigned event = uat_notify_event_of(g);
  const char *colour = event == UAT_NOTIFY_OPEN      ? "Good"
                       : event == UAT_NOTIFY_WAITING ? "Warning"
                                                     : "Attention";
  json_t *body = json_array();
  int rc = body ? 0 : -1;
  json_t *head = text_block(g->headline, "color", colour);
  if (head && (json_object_set_new(head, "weight", json_string("Bolder")) != 0 ||
               json_object_set_new(head, "size", json_string("Medium")) != 0)) {
    json_decref(head);
    head = NULL;
  }
  rc = rc ? rc : append(body, head, false);
  rc = rc ? rc : append(body, text_block(p->context, NULL, NULL), false);
  rc = rc ? rc : append(body, titled_block("Rejected:", p->rejections), *p->rejections == 0);
  rc = rc ? rc : append(body, titled_block("Waiting on:", p->waiting), *p->waiting == 0);
  rc = rc ? rc : append(body, text_block(p->action, NULL, NULL), *p->action == 0);
  json_t *actions = json_array();
  if (rc == 0 && g->page_url)
    rc = append(actions,
                json_pack("{s:s, s:s, s:s}", "type", "Action.OpenUrl", "title",
                          "Open the sign-off page", "url", g->page_url),
                false);
  json_t *card = rc == 0 && actions
                     ? json_pack("{s:s, s:s, s:s, s:O, s:O}", "$schema",
                                 "http://adaptivecards.io/schemas/adaptive-card.json", "type",
                                 "AdaptiveCard", "version", "1.4", "body", body, "actions", actions)
                     : NULL;
  json_decref(body);
  json_decref(actions);
  return card ? json_pack("{s:s, s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "summary",
                          g->headline, "attachments", "contentType",
                          "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card)
              : NULL;
}

static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

static json_t *waiting_json(const struct uat_gate_view_item *it) {
  return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:o}", "item", it->id, "role", it->role, "text",
                   str_or_null(it->text), "state", it->state, "reason", it->reason, "may_sign",
                   str_or_null(it->may_sign), "command", str_or_null(it->command));
}

static json_t *rejection_json(const struct uat_gate_view_item *it) {
  return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "item", it->id, "role", it->role, "text",
                   str_or_null(it->text), "signer", str_or_null(it->signer), "note",
                   str_or_null(it->note), "decided_at", str_or_null(it->decided_at));
}

/* The stable generic payload of docs/notify-json.md. */
static json_t *json_payload(const struct uat_gate_view *g) {
  json_t *waiting = json_array(), *rejections = json_array();
  int rc = waiting && rejections ? 0 : -1;
  for (size_t i = 0; rc == 0 && i < g->nitems; i++) {
    if (is_waiting(&g->items[i]))
      rc = append(waiting, waiting_json(&g->items[i]), false);
    else if (is_rejected(&g->items[i]))
      rc = append(rejections, rejection_json(&g->items[i]), false);
  }
  json_t *o =
      rc ? NULL
         : json_pack("{s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:I, s:I, "
                     "s:I}, s:O, s:O, s:o, s:o}",
                     "uatrun_notify_version", UAT_NOTIFY_JSON_VERSION, "event",
                     uat_notify_event_name(uat_notify_event_of(g)), "verdict", g->verdict,
                     "exit_code", g->exit_code, "headline", g->headline, "playbook", g->playbook,
                     "release", g->release, "commit", g->commit, "checks", "state", g->run_state,
                     "reason", g->run_reason, "passed", (json_int_t)g->passed, "failed",
                     (json_int_t)g->failed, "errors", (json_int_t)g->errored, "waiting_on", waiting,
                     "rejections", rejections, "page_url", str_or_null(g->page_url), "gate_command",
                     str_or_null(g->gate_command));
  json_decref(waiting);
  json_decref(rejections);
  return o;
}

static enum dialect dialect_of(enum uat_webhook_type type) {
  return type == UAT_WEBHOOK_SLACK ? SLACK : type == UAT_WEBHOOK_MATTERMOST ? MARKDOWN : PLAIN;
}

char *uat_notify_payload(enum uat_webhook_type type, const struct uat_gate_view *g) {
  json_t *o = NULL;
  struct parts p = {0};
  if (type == UAT_WEBHOOK_JSON)
    o = json_payload(g);
  else if (parts_build(&p, dialect_of(type), g) == 0) {
    o = type == UAT_WEBHOOK_SLACK        ? slack_payload(g, &p)
        : type == UAT_WEBHOOK_MATTERMOST ? mattermost_payload(g, &p)
                                         : teams_payload(g, &p);
    parts_release(&p);
  }
  char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  return text;
}

/* ---------- sending ---------- */

/* The first line of a receiver's answer ("no_service", "invalid_token"), cleaned, redacted and
 * cut: it may say why, and must not carry a secret or an escape sequence to the terminal. */
static char *answer_quote(const struct uat_http_response *resp, const struct uat_redactor *r) {
  if (!resp->body || !resp->body_len)
    return NULL;
  size_t n = strcspn(resp->body, "\r\n");
  char *line = strndup(resp->body, n);
  char *shown = line ? uat_redact(r, line) : NULL;
  char *clean = shown ? uat_report_text_clean(shown, UAT_TEXT_TERMINAL) : NULL;
  free(line);
  free(shown);
  if (clean && !*clean) {
    free(clean);
    return NULL;
  }
  return uat_text_cut(clean, ANSWER_QUOTE_MAX, "…");
}

/* "POST ***: connection refused (...); check that ..." → "connection refused (...)": the URL
 * says nothing once hidden (the webhook's number names it), and the HTTP layer's advice is
 * written for checks. Cuts text in place. */
static const char *cause_of(char *text) {
  const char *colon = strstr(text, ": ");
  char *cause = strncmp(text, "POST ", 5) == 0 && colon ? (char *)colon + 2 : text;
  char *advice = strstr(cause, "; ");
  if (advice)
    *advice = '\0';
  return cause;
}

static int post(const char *url, const char *body, double timeout_s, const struct uat_redactor *r,
                struct uat_http_response *resp, struct uat_error *err) {
  struct uat_http_client *client = uat_http_client_new(false, err);
  if (!client)
    return -1;
  static const struct uat_http_header_field headers[] = {
      {.name = "Content-Type", .value = "application/json; charset=utf-8"}};
  struct uat_http_request req = {.method = "POST",
                                 .url = url,
                                 .headers = headers,
                                 .nheaders = 1,
                                 .body = body,
                                 .body_len = strlen(body),
                                 .timeout_s = timeout_s,
                                 .follow = false,
                                 .max_body = ANSWER_MAX,
                                 .redactor = r};
  int rc = uat_http_client_send(client, &req, resp, err);
  uat_http_client_free(client);
  return rc;
}

int uat_notify_send(const struct uat_webhook *w, size_t number, const struct uat_gate_view *g,
                    double timeout_s, const struct uat_redactor *r, struct uat_error *err) {
  unsigned event = uat_notify_event_of(g);
  if (!(w->on & event) || !w->url || !*w->url)
    return 0;
  const char *type = uat_webhook_type_name(w->type);
  const char *what = uat_notify_event_name(event);
  char *body = uat_notify_payload(w->type, g);
  if (!body)
    return uat_error_set(err, "webhook %zu (%s) was not told the gate is %s: out of memory", number,
                         type, what);
  struct uat_http_response resp = {0};
  struct uat_error e;
  int rc = post(w->url, body, timeout_s, r, &resp, &e);
  free(body);
  if (rc != 0) {
    char *shown = uat_redact(r, e.text);
    uat_error_set(err, "webhook %zu (%s) was not told the gate is %s: %s; %s; the verdict stands",
                  number, type, what, shown ? cause_of(shown) : "it could not be reached",
                  resp.timed_out ? "raise notify.timeout if the chat server is only slow"
                                 : "check the variable its url: names and that the server is up");
    free(shown);
    return -1;
  }
  if (resp.status >= 200 && resp.status < 300) {
    uat_http_response_release(&resp);
    return 1;
  }
  char *quote = answer_quote(&resp, r);
  uat_error_set(err,
                "webhook %zu (%s) refused the message that the gate is %s: HTTP %ld%s%s%s; check "
                "its URL (the variable notify names) and the chat's webhook settings; the verdict "
                "stands",
                number, type, what, resp.status, quote ? " (" : "", quote ? quote : "",
                quote ? ")" : "");
  free(quote);
  uat_http_response_release(&resp);
  return -1;
}
