/* The sign-off page's HTML, built with one escaping function for every text (uat_html_text)
 * and formats that only ever insert numbers or fixed words. */
#include "serve/serve_pages.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char uat_serve_css[] =
    "body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#1d2125;background:#f6f7f9}\n"
    "header{background:#243447;color:#fff;padding:.6em 1em;display:flex;gap:1em;"
    "align-items:center;flex-wrap:wrap}\n"
    "header a{color:#fff}header form{margin-left:auto}\n"
    "main{max-width:60em;margin:0 auto;padding:1em}\n"
    "section{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:1em;"
    "margin:1em 0}\n"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:0}\n"
    ".pass,.approved{color:#17692f}.fail,.error,.rejected{color:#a4161a}"
    ".waiting{color:#8a5a00}\n"
    ".flash{padding:.6em 1em;border-radius:6px}.flash.ok{background:#e3f4e8}"
    ".flash.bad{background:#fbe4e4}\n"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .5em;"
    "border-bottom:1px solid #e6e9ed;vertical-align:top}\n"
    ".item{border-top:1px solid #e6e9ed;padding:.8em 0}.item form{display:inline-block;"
    "margin:.3em 1em .3em 0}\n"
    "input[type=text],input[type=password]{padding:.35em;min-width:16em}\n"
    "button{padding:.35em .9em;cursor:pointer}pre{white-space:pre-wrap;background:#f0f2f5;"
    "padding:.8em;border-radius:4px}\n"
    "img.shot{max-width:100%;border:1px solid #d8dde3}\n"
    ".muted{color:#5b6570}code{background:#f0f2f5;padding:0 .2em}\n";

/* An appender that stops at the first failure, so page code reads top to bottom. */
struct out {
  struct uat_strbuf *sb;
  int rc;
};

static void put(struct out *o, const char *html) {
  if (o->rc == 0)
    o->rc = uat_strbuf_adds(o->sb, html);
}

/* Only for numbers and fixed words: text goes through text(). */
static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (o->rc == 0)
    o->rc = uat_strbuf_vaddf(o->sb, fmt, ap);
  va_end(ap);
}

static void text(struct out *o, const char *s) {
  if (o->rc == 0)
    o->rc = uat_html_text(o->sb, s);
}

/* Length of the UTF-8 sequence at p (1 to 4), or 0 when it is not a valid one. */
static size_t utf8_len(const unsigned char *p) {
  size_t n = p[0] < 0x80             ? 1
             : (p[0] & 0xE0) == 0xC0 ? 2
             : (p[0] & 0xF0) == 0xE0 ? 3
             : (p[0] & 0xF8) == 0xF0 ? 4
                                     : 0;
  if (n == 2 && p[0] < 0xC2)
    return 0; /* overlong */
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

int uat_html_text(struct uat_strbuf *sb, const char *s) {
  if (!s)
    return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    const char *rep = NULL;
    switch (*p) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    default:
      break;
    }
    size_t n = rep ? 1 : utf8_len(p);
    if (!rep && (n == 0 || (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7F))
      rep = "\xEF\xBF\xBD"; /* U+FFFD */
    int rc = rep ? uat_strbuf_adds(sb, rep) : uat_strbuf_add(sb, p, n);
    if (rc != 0)
      return -1;
    p += n ? n : 1;
  }
  return 0;
}

static void page_begin(struct out *o, const struct uat_page_who *who, const char *title) {
  put(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<link rel=\"stylesheet\" href=\"/style.css\"><title>");
  text(o, title);
  put(o, " — uatrun</title></head><body><header><strong>uatrun sign-off</strong>");
  if (who && who->user) {
    put(o, "<a href=\"/\">Release</a><a href=\"/status\">Status</a><span>Signed in as <b "
           "id=\"user\">");
    text(o, who->user);
    put(o, "</b></span>");
    if (who->can_logout) {
      put(o, "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" "
             "value=\"");
      text(o, who->csrf);
      put(o, "\"><button id=\"logout\" type=\"submit\">Sign out</button></form>");
    }
  }
  put(o, "</header><main>");
}

static void page_end(struct out *o) {
  put(o, "</main></body></html>\n");
}

static void csrf_field(struct out *o, const char *csrf) {
  put(o, "<input type=\"hidden\" name=\"csrf\" value=\"");
  text(o, csrf);
  put(o, "\">");
}

int uat_page_message(struct uat_strbuf *sb, const struct uat_page_who *who, const char *title,
                     const char *message) {
  struct out o = {sb, 0};
  page_begin(&o, who, title);
  put(&o, "<section><h1>");
  text(&o, title);
  put(&o, "</h1><p id=\"message\">");
  text(&o, message);
  put(&o, "</p><p><a href=\"/\">Back to the release</a></p></section>");
  page_end(&o);
  return o.rc;
}

int uat_page_login(struct uat_strbuf *sb, const char *csrf, const char *message) {
  struct out o = {sb, 0};
  page_begin(&o, NULL, "Sign in");
  put(&o, "<section><h1>Sign in</h1>");
  if (message) {
    put(&o, "<p class=\"flash bad\" id=\"flash\">");
    text(&o, message);
    put(&o, "</p>");
  }
  put(&o, "<form method=\"post\" action=\"/login\">");
  csrf_field(&o, csrf);
  put(&o, "<p><label>User name<br><input type=\"text\" name=\"user\" id=\"login-user\" "
          "autocomplete=\"username\" required></label></p>"
          "<p><label>Password<br><input type=\"password\" name=\"password\" id=\"login-password\" "
          "autocomplete=\"current-password\" required></label></p>"
          "<p><button type=\"submit\" id=\"login-submit\">Sign in</button></p></form></section>");
  page_end(&o);
  return o.rc;
}

int uat_page_status(struct uat_strbuf *sb, const struct uat_page_who *who, const char *status,
                    int exit_code) {
  static const char *const meaning[] = {"the gate is open",
                                        "closed: checks failed or a "
                                        "sign-off was rejected",
                                        "input error", "closed: waiting for sign-offs",
                                        "ledger error"};
  struct out o = {sb, 0};
  page_begin(&o, who, "Status");
  put(&o, "<section><h1>Status</h1><p>What <code>uatrun status</code> says now (exit code ");
  putf(&o, "%d", exit_code);
  if (exit_code >= 0 && exit_code <= 4)
    putf(&o, ": %s", meaning[exit_code]);
  put(&o, "):</p><pre id=\"status\">");
  text(&o, status);
  put(&o, "</pre></section>");
  page_end(&o);
  return o.rc;
}

static const char *outcome_class(const char *outcome) {
  return !strcmp(outcome, "pass") ? "pass" : !strcmp(outcome, "skip") ? "muted" : "fail";
}

static const char *check_title(const struct uat_playbook *pb, const char *id) {
  for (size_t i = 0; i < pb->nchecks; i++)
    if (strcmp(pb->checks[i].id, id) == 0)
      return pb->checks[i].title;
  return NULL;
}

static const struct uat_page_check_detail *detail_for(const struct uat_page_release *m,
                                                      const char *id) {
  for (size_t i = 0; i < m->ndetails; i++)
    if (strcmp(m->details[i].id, id) == 0)
      return &m->details[i];
  return NULL;
}

/* The failed expectations (actual vs expected) and artifacts the run report holds. */
static void check_detail(struct out *o, const struct uat_page_check_detail *d) {
  for (size_t i = 0; d && i < d->nfailed; i++) {
    const struct uat_page_expectation *e = &d->failed[i];
    put(o, "<div class=\"expectation\">✗ ");
    text(o, e->message);
    if (e->where) {
      put(o, " <span class=\"muted\">(");
      text(o, e->where);
      put(o, ")</span>");
    }
    put(o, "<br>expected: <code>");
    text(o, e->expected);
    put(o, "</code><br>actual: <code>");
    text(o, e->actual);
    put(o, "</code></div>");
  }
  for (size_t i = 0; d && i < d->nartifacts; i++) {
    const char *a = d->artifacts[i];
    size_t n = strlen(a);
    bool png = n > 4 && strcmp(a + n - 4, ".png") == 0;
    putf(o, "<div><a href=\"/artifact/%zu\">", d->artifact_index[i]);
    text(o, a);
    put(o, "</a>");
    if (png)
      putf(o, "<br><img class=\"shot\" alt=\"screenshot\" src=\"/artifact/%zu\">",
           d->artifact_index[i]);
    put(o, "</div>");
  }
}

static void run_section(struct out *o, const struct uat_page_release *m) {
  const struct uat_run_record *run = m->run;
  const struct uat_gate_verdict *v = m->verdict;
  put(o, "<section id=\"run\"><h2>Latest run</h2><p class=\"");
  put(o, v->run_state == UAT_RUN_PASSED ? "pass" : "fail");
  put(o, "\" id=\"run-state\">");
  text(o, v->run_reason);
  put(o, "</p>");
  if (m->report_note) {
    put(o, "<p class=\"muted\">");
    text(o, m->report_note);
    put(o, "</p>");
  }
  if (!run || !run->found || run->nchecks == 0) {
    put(o, "</section>");
    return;
  }
  put(o, "<table><tr><th>check</th><th>result</th><th>time</th><th>details</th></tr>");
  for (size_t i = 0; i < run->nchecks; i++) {
    const struct uat_run_check *c = &run->checks[i];
    const char *title = check_title(m->playbook, c->id);
    put(o, "<tr class=\"check\" id=\"check-");
    text(o, c->id);
    put(o, "\"><td><b>");
    text(o, c->id);
    put(o, "</b>");
    if (title) {
      put(o, "<br><span class=\"muted\">");
      text(o, title);
      put(o, "</span>");
    }
    put(o, "</td><td class=\"");
    put(o, outcome_class(c->outcome));
    put(o, "\">");
    text(o, c->outcome);
    if (c->attempts > 1)
      putf(o, " (%d attempts)", c->attempts);
    putf(o, "</td><td>%.2fs</td><td>", c->duration_s);
    if (c->error) {
      put(o, "<code>");
      text(o, c->error);
      put(o, "</code>");
    }
    check_detail(o, detail_for(m, c->id));
    put(o, "</td></tr>");
  }
  put(o, "</table></section>");
}

static void item_forms(struct out *o, const struct uat_page_release *m,
                       const struct uat_gate_item *gi) {
  const char *id = gi->item->id;
  put(o, "<form method=\"post\" action=\"/decide\" class=\"approve\">");
  csrf_field(o, m->who->csrf);
  put(o, "<input type=\"hidden\" name=\"item\" value=\"");
  text(o, id);
  put(o, "\"><input type=\"hidden\" name=\"action\" value=\"approve\">"
         "<input type=\"text\" name=\"note\" maxlength=\"2000\" placeholder=\"note (optional)\" "
         "id=\"approve-note-");
  text(o, id);
  put(o, "\"> <button type=\"submit\" id=\"approve-");
  text(o, id);
  put(o, "\">Approve</button></form>"
         "<form method=\"post\" action=\"/decide\" class=\"reject\">");
  csrf_field(o, m->who->csrf);
  put(o, "<input type=\"hidden\" name=\"item\" value=\"");
  text(o, id);
  put(o, "\"><input type=\"hidden\" name=\"action\" value=\"reject\">"
         "<input type=\"text\" name=\"note\" maxlength=\"2000\" required "
         "placeholder=\"why (required)\" id=\"reject-note-");
  text(o, id);
  put(o, "\"> <button type=\"submit\" id=\"reject-");
  text(o, id);
  put(o, "\">Reject</button></form>");
}

static const char *item_class(enum uat_item_state s) {
  return s == UAT_ITEM_APPROVED ? "approved" : s == UAT_ITEM_REJECTED ? "rejected" : "waiting";
}

static void item_block(struct out *o, const struct uat_page_release *m,
                       const struct uat_gate_item *gi, bool mine) {
  put(o, "<div class=\"item\" id=\"item-");
  text(o, gi->item->id);
  put(o, "\"><b>");
  text(o, gi->item->id);
  put(o, "</b> <span class=\"muted\">(");
  text(o, gi->item->role);
  put(o, ")</span><p>");
  text(o, gi->item->text);
  put(o, "</p><p class=\"state ");
  put(o, item_class(gi->state));
  put(o, "\">");
  text(o, gi->reason);
  if (gi->decision && gi->decision->note && *gi->decision->note) {
    put(o, ": “<span class=\"note\">");
    text(o, gi->decision->note);
    put(o, "</span>”");
  }
  put(o, "</p>");
  if (mine && !m->signing_block)
    item_forms(o, m, gi);
  put(o, "</div>");
}

static bool signs_for(const struct uat_playbook *pb, const char *role, const char *user) {
  const struct uat_role *r = uat_playbook_find_role(pb, role);
  return r && user && uat_role_has_member(r, user);
}

static void items_section(struct out *o, const struct uat_page_release *m) {
  const struct uat_gate_verdict *v = m->verdict;
  size_t mine = 0;
  for (size_t i = 0; i < v->nitems; i++)
    mine += signs_for(m->playbook, v->items[i].item->role, m->who->user);
  put(o, "<section id=\"mine\"><h2>Your items</h2>");
  if (m->signing_block) {
    put(o, "<p class=\"fail\" id=\"signing-block\">");
    text(o, m->signing_block);
    put(o, "</p>");
  }
  if (m->signing_note && !m->signing_block) {
    put(o, "<p class=\"waiting\" id=\"signing-note\">note: ");
    text(o, m->signing_note);
    put(o, "</p>");
  }
  if (mine == 0) {
    put(o, "<p>");
    text(o, m->who->user);
    put(o, " is not listed under any role of this playbook: nothing to sign.</p>");
  }
  for (size_t i = 0; i < v->nitems; i++)
    if (signs_for(m->playbook, v->items[i].item->role, m->who->user))
      item_block(o, m, &v->items[i], true);
  put(o, "</section><section id=\"others\"><h2>Other items</h2>");
  for (size_t i = 0; i < v->nitems; i++)
    if (!signs_for(m->playbook, v->items[i].item->role, m->who->user))
      item_block(o, m, &v->items[i], false);
  put(o, "</section>");
}

int uat_page_release(struct uat_strbuf *sb, const struct uat_page_release *m) {
  struct out o = {sb, 0};
  page_begin(&o, m->who, m->release);
  if (m->flash) {
    put(&o, m->flash_ok ? "<p class=\"flash ok\" id=\"flash\">"
                        : "<p class=\"flash bad\" id=\"flash\">");
    text(&o, m->flash);
    put(&o, "</p>");
  }
  put(&o, "<h1>");
  text(&o, m->playbook->name);
  put(&o, "</h1><p>release <b id=\"release\">");
  text(&o, m->release);
  put(&o, "</b> · commit <code id=\"commit\">");
  text(&o, m->commit);
  put(&o, "</code></p><p id=\"headline\" class=\"");
  put(&o, m->verdict->state == UAT_GATE_OPEN     ? "pass"
          : m->verdict->state == UAT_GATE_FAILED ? "fail"
                                                 : "waiting");
  put(&o, "\">");
  text(&o, m->headline);
  put(&o, "</p>");
  run_section(&o, m);
  items_section(&o, m);
  page_end(&o);
  return o.rc;
}
