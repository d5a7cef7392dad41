/* notify: each payload type for a gate that waits, opens and is blocked (the rejected item and
 * its reason in the message, people's text escaped for each chat), the generic payload's
 * stable fields, and sending to a local receiver: 2xx, 500, a receiver that hangs, an
 * unreachable one, a webhook not concerned — the URL (its token) never in a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report/notify.h"

#include "hookserver.h"

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct uat_gate_view_item ITEMS[] = {
    {.id = "support-briefed",
     .role = "support",
     .text = "Support knows what moved <!channel> @all",
     .state = "missing",
     .reason = "nobody decided yet",
     .may_sign = "nesserine, myriam",
     .command = "uatrun signoff pb.yml --release v4.6.3 --commit 1a2b3c --role support --item "
                "support-briefed --approve --by NAME"},
    {.id = "product-ok",
     .role = "product",
     .text = "Product accepts the release",
     .state = "rejected",
     .reason = "rejected by matis",
     .signer = "matis",
     .decided_at = "2026-12-08T01:00:00Z",
     .note = "the *pager* of My Tasks is broken <http://evil|click>"},
    {.id = "qa-ok",
     .role = "qa",
     .text = "QA is happy",
     .state = "approved",
     .reason = "approved by ana",
     .signer = "ana",
     .decided_at = "2026-12-08T00:00:00Z"},
};

/* A gate with the given verdict; "blocked" keeps the rejected item, the others drop it. */
static struct uat_gate_view view_of(const char *verdict, struct uat_gate_view_item *items) {
  memcpy(items, ITEMS, sizeof ITEMS);
  size_t n = 3;
  if (strcmp(verdict, "failed") != 0) { /* no rejection: product-ok is approved */
    items[1].state = "approved";
    items[1].note = NULL;
    items[1].reason = "approved by matis";
  }
  if (strcmp(verdict, "open") == 0) {
    items[0].state = "approved";
    items[0].signer = "myriam";
    items[0].may_sign = items[0].command = NULL;
  }
  return (struct uat_gate_view){
      .verdict = verdict,
      .exit_code = strcmp(verdict, "open") == 0      ? 0
                   : strcmp(verdict, "waiting") == 0 ? 3
                                                     : 1,
      .headline = strcmp(verdict, "open") == 0      ? "GATE OPEN — release v4.6.3 may be deployed"
                  : strcmp(verdict, "waiting") == 0 ? "GATE CLOSED — waiting for 1 sign-off"
                                                    : "GATE CLOSED — rejected by matis (product)",
      .playbook = "Tasking Manager UAT",
      .release = "v4.6.3",
      .commit = "1a2b3c4d5e6f708192",
      .run_state = "passed",
      .run_reason = "3 passed (run #4)",
      .passed = 3,
      .items = items,
      .nitems = n,
      .gate_command = "uatrun gate pb.yml --release v4.6.3 --commit 1a2b3c",
  };
}

static json_t *payload(enum uat_webhook_type type, const struct uat_gate_view *g) {
  char *text = uat_notify_payload(type, g);
  assert_non_null(text);
  json_error_t e;
  json_t *o = json_loads(text, 0, &e);
  free(text);
  assert_non_null(o);
  return o;
}

/* Every string of the payload, joined: what a reader of the chat would see. */
static void collect(json_t *v, json_t *out) {
  if (json_is_string(v)) {
    json_array_append(out, v);
  } else if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) collect(x, out);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) collect(x, out);
  }
}

static char *all_text(json_t *o) {
  json_t *strings = json_array();
  collect(o, strings);
  size_t total = 1, i;
  json_t *s;
  json_array_foreach(strings, i, s) total += json_string_length(s) + 1;
  char *joined = calloc(1, total);
  json_array_foreach(strings, i, s) {
    strcat(joined, json_string_value(s));
    strcat(joined, "\n");
  }
  json_decref(strings);
  return joined;
}

static void has(const char *text, const char *want) {
  if (!strstr(text, want))
    fail_msg("payload lacks '%s' in:\n%s", want, text);
}

static void lacks(const char *text, const char *bad) {
  if (strstr(text, bad))
    fail_msg("payload has '%s' in:\n%s", bad, text);
}

static void event_of_each_verdict(void **state) {
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("waiting", items);
  assert_int_equal(uat_notify_event_of(&g), UAT_NOTIFY_WAITING);
  g = view_of("open", items);
  assert_int_equal(uat_notify_event_of(&g), UAT_NOTIFY_OPEN);
  g = view_of("failed", items);
  assert_int_equal(uat_notify_event_of(&g), UAT_NOTIFY_BLOCKED);
  items[1].state = "approved"; /* closed by the checks alone */
  assert_int_equal(uat_notify_event_of(&g), UAT_NOTIFY_FAILED);
  assert_string_equal(uat_notify_event_name(UAT_NOTIFY_BLOCKED), "blocked");
}

static void slack_payloads(void **state) {
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("waiting", items);
  json_t *o = payload(UAT_WEBHOOK_SLACK, &g);
  assert_string_equal(json_string_value(json_object_get(o, "text")), g.headline);
  json_t *blocks = json_object_get(o, "blocks");
  assert_true(json_array_size(blocks) >= 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(blocks, 0), "type")),
                      "header");
  char *t = all_text(o);
  has(t, "*support-briefed* (support)");
  has(t, "may sign: nesserine, myriam");
  has(t, "`uatrun signoff pb.yml --release v4.6.3");
  has(t, "&lt;!channel&gt;"); /* a text cannot ping the channel */
  lacks(t, "<!channel>");
  lacks(t, "qa-ok"); /* approved items are not news */
  free(t);
  json_decref(o);

  g = view_of("failed", items);
  o = payload(UAT_WEBHOOK_SLACK, &g);
  t = all_text(o);
  has(t, "*Rejected*");
  has(t, "*product-ok* (product) rejected by matis: the *pager* of My Tasks is broken "
         "&lt;http://evil|click&gt;");
  free(t);
  json_decref(o);

  g = view_of("open", items);
  g.page_url = "https://uat.example.org/";
  o = payload(UAT_WEBHOOK_SLACK, &g);
  t = all_text(o);
  has(t, "GATE OPEN");
  has(t, "Every check passed");
  lacks(t, "Waiting on");
  free(t);
  json_decref(o);
}

static void mattermost_payloads(void **state) {
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("failed", items);
  json_t *o = payload(UAT_WEBHOOK_MATTERMOST, &g);
  json_t *att = json_array_get(json_object_get(o, "attachments"), 0);
  assert_string_equal(json_string_value(json_object_get(att, "color")), "#a30200");
  char *t = all_text(o);
  has(t, "#### GATE CLOSED — rejected by matis \\(product\\)");
  has(t, "**Rejected**");
  has(t, "**product-ok** (product)");
  has(t, "rejected by matis: the \\*pager\\* of My Tasks is broken \\<http://evil\\|click\\>");
  has(t, "@\xe2\x80\x8b"
         "all"); /* no mention of everybody */
  free(t);
  json_decref(o);

  g = view_of("waiting", items);
  g.page_url = "https://uat.example.org/";
  o = payload(UAT_WEBHOOK_MATTERMOST, &g);
  t = all_text(o);
  has(t, "[Sign on the sign-off page](https://uat.example.org/)");
  lacks(t, "uatrun signoff"); /* the page replaces the commands */
  free(t);
  json_decref(o);
}

static void teams_payloads(void **state) {
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("failed", items);
  g.page_url = "https://uat.example.org/";
  json_t *o = payload(UAT_WEBHOOK_TEAMS, &g);
  assert_string_equal(json_string_value(json_object_get(o, "type")), "message");
  json_t *att = json_array_get(json_object_get(o, "attachments"), 0);
  assert_string_equal(json_string_value(json_object_get(att, "contentType")),
                      "application/vnd.microsoft.card.adaptive");
  json_t *card = json_object_get(att, "content");
  assert_string_equal(json_string_value(json_object_get(card, "type")), "AdaptiveCard");
  json_t *action = json_array_get(json_object_get(card, "actions"), 0);
  assert_string_equal(json_string_value(json_object_get(action, "url")),
                      "https://uat.example.org/");
  char *t = all_text(o);
  has(t, "Rejected:\n• product-ok (product) rejected by matis: the *pager* of My Tasks is broken");
  free(t);
  json_decref(o);

  g = view_of("waiting", items);
  o = payload(UAT_WEBHOOK_TEAMS, &g);
  t = all_text(o);
  has(t, "Waiting on:\n• support-briefed (support)");
  has(t, "uatrun signoff pb.yml");
  free(t);
  json_decref(o);

  g = view_of("open", items);
  o = payload(UAT_WEBHOOK_TEAMS, &g);
  card = json_object_get(json_array_get(json_object_get(o, "attachments"), 0), "content");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(json_object_get(card, "body"), 0), "color")),
      "Good");
  json_decref(o);
}

static void json_payloads(void **state) {
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("failed", items);
  json_t *o = payload(UAT_WEBHOOK_JSON, &g);
  assert_int_equal(json_integer_value(json_object_get(o, "uatrun_notify_version")), 1);
  assert_string_equal(json_string_value(json_object_get(o, "event")), "blocked");
  assert_string_equal(json_string_value(json_object_get(o, "verdict")), "failed");
  assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), 1);
  assert_string_equal(json_string_value(json_object_get(o, "release")), "v4.6.3");
  assert_string_equal(json_string_value(json_object_get(o, "commit")), "1a2b3c4d5e6f708192");
  json_t *rej = json_array_get(json_object_get(o, "rejections"), 0);
  assert_string_equal(json_string_value(json_object_get(rej, "item")), "product-ok");
  assert_string_equal(json_string_value(json_object_get(rej, "signer")), "matis");
  assert_string_equal(json_string_value(json_object_get(rej, "note")), ITEMS[1].note);
  json_t *wait = json_array_get(json_object_get(o, "waiting_on"), 0);
  assert_string_equal(json_string_value(json_object_get(wait, "item")), "support-briefed");
  assert_string_equal(json_string_value(json_object_get(wait, "may_sign")), "nesserine, myriam");
  assert_int_equal(json_array_size(json_object_get(o, "waiting_on")), 1);
  assert_true(json_is_null(json_object_get(o, "page_url")));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "checks"), "passed")), 3);
  json_decref(o);

  g = view_of("open", items);
  o = payload(UAT_WEBHOOK_JSON, &g);
  assert_string_equal(json_string_value(json_object_get(o, "event")), "open");
  assert_int_equal(json_array_size(json_object_get(o, "waiting_on")), 0);
  assert_int_equal(json_array_size(json_object_get(o, "rejections")), 0);
  json_decref(o);
}

/* ---- sending ---- */

struct fixture {
  char dir[64];
  struct uat_hookserver *srv;
  struct uat_redactor redactor;
  char url[256];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uat-notify-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  char err[256];
  f->srv = uat_hookserver_start(0, f->dir, err, sizeof err);
  if (!f->srv)
    return -1;
  uat_redactor_init(&f->redactor);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_hookserver_stop(f->srv);
  uat_redactor_release(&f->redactor);
  DIR *d = opendir(f->dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
    if (e->d_name[0] != '.')
      unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(f->dir);
  free(f);
  return 0;
}

/* A webhook to route on the receiver, its URL a secret as the context makes it. */
static struct uat_webhook hook(struct fixture *f, const char *route, enum uat_webhook_type type) {
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/%s/T0KEN-s3cr3t-hook",
           uat_hookserver_port(f->srv), route);
  uat_redactor_add(&f->redactor, f->url);
  return (struct uat_webhook){.type = type, .url = f->url, .on = UAT_NOTIFY_DEFAULT_ON};
}

static char *recorded(struct fixture *f, unsigned seq, const char *route, const char *ext) {
  char path[512];
  snprintf(path, sizeof path, "%s/%03u-%s.%s", f->dir, seq, route, ext);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char *buf = calloc(1, 1 << 20);
  fread(buf, 1, (1 << 20) - 1, fp);
  fclose(fp);
  return buf;
}

static void send_ok_records_the_payload(void **state) {
  struct fixture *f = *state;
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("failed", items);
  struct uat_webhook w = hook(f, "ok", UAT_WEBHOOK_JSON);
  struct uat_error err;
  assert_int_equal(uat_notify_send(&w, 1, &g, 5, &f->redactor, &err), 1);
  char *body = recorded(f, 1, "ok", "json");
  char *want = uat_notify_payload(UAT_WEBHOOK_JSON, &g);
  assert_string_equal(body, want);
  char *path = recorded(f, 1, "ok", "path");
  assert_string_equal(path, "/ok/T0KEN-s3cr3t-hook");
  free(body);
  free(want);
  free(path);
}

static void webhook_not_concerned(void **state) {
  struct fixture *f = *state;
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("open", items);
  struct uat_webhook w = hook(f, "ok", UAT_WEBHOOK_SLACK);
  w.on = UAT_NOTIFY_BLOCKED | UAT_NOTIFY_WAITING;
  struct uat_error err;
  assert_int_equal(uat_notify_send(&w, 1, &g, 5, &f->redactor, &err), 0);
  w.on = UAT_NOTIFY_DEFAULT_ON;
  w.url = ""; /* url: ${SLACK_WEBHOOK_URL:-} with the variable unset: off */
  assert_int_equal(uat_notify_send(&w, 1, &g, 5, &f->redactor, &err), 0);
  assert_int_equal(uat_hookserver_count(f->srv), 0);
}

static void status_500_is_a_warning_naming_the_webhook(void **state) {
  struct fixture *f = *state;
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("waiting", items);
  struct uat_webhook w = hook(f, "fail", UAT_WEBHOOK_SLACK);
  struct uat_error err;
  assert_int_equal(uat_notify_send(&w, 2, &g, 5, &f->redactor, &err), -1);
  has(err.text, "webhook 2 (slack) refused the message that the gate is waiting: HTTP 500 "
                "(no_service)");
  has(err.text, "the verdict stands");
  lacks(err.text, "T0KEN");
  lacks(err.text, "second line");
  assert_int_equal(uat_hookserver_count(f->srv), 1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hanging_receiver_times_out(void **state) {
  struct fixture *f = *state;
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("open", items);
  struct uat_webhook w = hook(f, "hang", UAT_WEBHOOK_TEAMS);
  struct uat_error err;
  double t0 = now_s();
  assert_int_equal(uat_notify_send(&w, 3, &g, 0.5, &f->redactor, &err), -1);
  double took = now_s() - t0;
  assert_true(took < 5); /* sanitizer builds are slow; the receiver hangs 30 s */
  has(err.text, "webhook 3 (teams) was not told the gate is open: ");
  has(err.text, "timed out");
  lacks(err.text, "T0KEN");
  lacks(err.text, "127.0.0.1");
}

static void unreachable_receiver(void **state) {
  struct fixture *f = *state;
  struct uat_gate_view_item items[3];
  struct uat_gate_view g = view_of("waiting", items);
  /* Port 9 (discard) on loopback: nothing listens there on a test machine. */
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:9/services/T0KEN-s3cr3t-hook");
  uat_redactor_add(&f->redactor, f->url);
  struct uat_webhook w = {.type = UAT_WEBHOOK_MATTERMOST, .url = f->url, .on = UAT_NOTIFY_WAITING};
  struct uat_error err;
  assert_int_equal(uat_notify_send(&w, 1, &g, 2, &f->redactor, &err), -1);
  has(err.text, "webhook 1 (mattermost) was not told the gate is waiting: ");
  lacks(err.text, "T0KEN");
  lacks(err.text, "***"); /* the hidden URL is dropped, not shown as *** */
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(event_of_each_verdict),
      cmocka_unit_test(slack_payloads),
      cmocka_unit_test(mattermost_payloads),
      cmocka_unit_test(teams_payloads),
      cmocka_unit_test(json_payloads),
      cmocka_unit_test_setup_teardown(send_ok_records_the_payload, setup, teardown),
      cmocka_unit_test_setup_teardown(webhook_not_concerned, setup, teardown),
      cmocka_unit_test_setup_teardown(status_500_is_a_warning_naming_the_webhook, setup, teardown),
      cmocka_unit_test_setup_teardown(hanging_receiver_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(unreachable_receiver, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
