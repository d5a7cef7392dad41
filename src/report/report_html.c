/* --report-html: one page a person would rather read than the log, on a laptop or a phone.
 * Built as a libxml2 HTML tree (every text a text node, every value an attribute, so
 * nothing a check recorded can become markup), with its CSS inline, screenshots embedded as
 * data: URIs and a Content-Security-Policy that forbids every fetch: the file works offline,
 * as a CI artifact, and leaks nothing when opened. */
#include "report/report.h"

#include "report/report_text.h"
#include "util/duration.h"
#include "util/fsutil.h"

#include <libxml/HTMLtree.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An image bigger than this is listed, not embedded: the page must stay openable on a phone. */
#define IMAGE_MAX ((size_t)8 * 1024 * 1024)
#define IMAGES_TOTAL_MAX ((size_t)48 * 1024 * 1024)

static const char CSS[] =
    ":root{--ok:#1a7f37;--bad:#cf222e;--wait:#9a6700;--mute:#57606a;--line:#d0d7de;"
    "--bg:#f6f8fa;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "line-height:1.45;color:#1f2328}"
    "body{margin:0;background:#fff}"
    "main{max-width:60rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem;"
    "border-bottom:1px solid var(--line);padding-bottom:.3rem}h3{font-size:1rem;margin:0}"
    ".summary{border-radius:.5rem;padding:1rem;border-left:.5rem solid var(--mute);"
    "background:var(--bg)}"
    ".summary.pass,.summary.open{border-color:var(--ok)}"
    ".summary.fail,.summary.failed{border-color:var(--bad)}"
    ".summary.waiting{border-color:var(--wait)}"
    ".facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.8rem 0}"
    ".facts dt{color:var(--mute)}.facts dd{margin:0;overflow-wrap:anywhere}"
    ".counts{display:flex;flex-wrap:wrap;gap:.5rem;padding:0;margin:.5rem 0;list-style:none}"
    ".counts li,.badge{border-radius:1rem;padding:.1rem .7rem;font-weight:600;"
    "background:#fff;border:1px solid var(--line);white-space:nowrap}"
    ".ok{color:var(--ok)}.bad{color:var(--bad)}.wait{color:var(--wait)}"
    ".card{border:1px solid var(--line);border-radius:.5rem;padding:.8rem;margin:.6rem 0}"
    ".card.bad{border-left:.4rem solid var(--bad);color:inherit}"
    ".card.ok{border-left:.4rem solid var(--ok);color:inherit}"
    ".card.wait{border-left:.4rem solid var(--wait);color:inherit}"
    ".head{display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline}"
    ".meta{color:var(--mute);font-size:.9rem;margin:.3rem 0}"
    ".exp{list-style:none;padding:0;margin:.5rem 0}.exp li{padding:.3rem 0;"
    "border-top:1px solid var(--bg)}"
    ".exp .vs{display:grid;grid-template-columns:max-content 1fr;gap:0 .6rem;margin:.2rem 0 0 "
    "1.4rem;"
    "font-size:.9rem}"
    "code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;"
    "background:var(--bg);border-radius:.25rem;padding:.05rem .3rem;overflow-wrap:anywhere;"
    "white-space:pre-wrap}"
    "pre{padding:.5rem;overflow-x:auto}"
    ".error{color:var(--bad);white-space:pre-wrap;overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:.25rem}"
    "figure{margin:.5rem 0}figcaption{color:var(--mute);font-size:.85rem}"
    "details{margin:.4rem 0}summary{cursor:pointer;color:var(--mute)}"
    "footer{color:var(--mute);font-size:.85rem;margin:2rem 0 1rem}"
    "a{color:#0969da}"
    "@media (max-width:40rem){main{padding:.5rem}h1{font-size:1.25rem}"
    ".facts{grid-template-columns:1fr}.facts dt{margin-top:.3rem}}";

/* No fetch of any kind: a report opened from a CI artifact must not call anywhere. */
static const char CSP[] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/* The tree being built; a NULL from libxml2 (out of memory) marks the whole page failed, and
 * every helper given a NULL parent does nothing, so builders need not test each call. */
struct page {
  htmlDocPtr doc;
  bool failed;
  size_t embedded; /* bytes of images embedded so far */
};

static xmlNodePtr check_node(struct page *p, xmlNodePtr n) {
  if (!n)
    p->failed = true;
  return n;
}

static void set_attr(struct page *p, xmlNodePtr n, const char *name, const char *value) {
  if (n && value && !xmlNewProp(n, BAD_CAST name, BAD_CAST value))
    p->failed = true;
}

/* A child element, with a class when cls is not NULL. */
static xmlNodePtr el(struct page *p, xmlNodePtr parent, const char *name, const char *cls) {
  if (!parent)
    return NULL;
  xmlNodePtr n = check_node(p, xmlNewChild(parent, NULL, BAD_CAST name, NULL));
  set_attr(p, n, "class", cls);
  return n;
}

/* Appends text as a text node: recorded bytes that XML cannot carry are shown as \xNN. */
static void text(struct page *p, xmlNodePtr parent, const char *s) {
  if (!parent || !s)
    return;
  char *clean = uat_report_text_clean(s, UAT_TEXT_XML);
  xmlNodePtr t = clean ? xmlNewText(BAD_CAST clean) : NULL;
  free(clean);
  if (!check_node(p, t) || !xmlAddChild(parent, t)) {
    xmlFreeNode(t);
    p->failed = true;
  }
}

static xmlNodePtr el_text(struct page *p, xmlNodePtr parent, const char *name, const char *cls,
                          const char *s) {
  xmlNodePtr n = el(p, parent, name, cls);
  text(p, n, s);
  return n;
}

static const char *iso_time(int64_t t, char *buf, size_t size) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    snprintf(buf, size, "unknown");
  return buf;
}

/* A <dt>name</dt><dd>value</dd> pair; nothing when value is NULL. */
static void fact(struct page *p, xmlNodePtr dl, const char *name, const char *value, bool code) {
  if (!value)
    return;
  el_text(p, dl, "dt", NULL, name);
  xmlNodePtr dd = el(p, dl, "dd", NULL);
  el_text(p, dd, code ? "code" : "span", NULL, value);
}

/* ---------- summary ---------- */

static const char *run_class(const struct uat_run_result *run, const struct uat_gate_view *g) {
  if (g)
    return g->verdict;
  return run && uat_run_result_passed(run) ? "pass" : "fail";
}

static void count(struct page *p, xmlNodePtr list, size_t n, const char *what, const char *cls) {
  char buf[64];
  snprintf(buf, sizeof buf, "%zu %s", n, what);
  el_text(p, list, "li", n ? cls : NULL, buf);
}

static void summary_title(struct page *p, xmlNodePtr box, const struct uat_run_result *run,
                          const struct uat_gate_view *g) {
  char buf[128];
  if (g) {
    el_text(p, box, "h1", NULL, g->headline);
    return;
  }
  size_t bad = run->failed + run->errored;
  if (bad == 0 && run->nchecks > 0)
    snprintf(buf, sizeof buf, "All %zu check%s passed", run->nchecks, run->nchecks == 1 ? "" : "s");
  else if (run->nchecks == 0)
    snprintf(buf, sizeof buf, "No check ran");
  else
    snprintf(buf, sizeof buf, "%zu of %zu checks did not pass", bad, run->nchecks);
  el_text(p, box, "h1", NULL, buf);
}

static void failing_links(struct page *p, xmlNodePtr box, const struct uat_run_result *run) {
  xmlNodePtr para = NULL;
  for (size_t i = 0; i < run->nchecks; i++) {
    const struct uat_check_result *c = &run->checks[i];
    if (c->outcome == UAT_OUTCOME_PASS || c->outcome == UAT_OUTCOME_SKIP)
      continue;
    if (!para)
      para = el_text(p, box, "p", NULL, "Did not pass: ");
    else
      text(p, para, ", ");
    char anchor[300];
    snprintf(anchor, sizeof anchor, "#check-%s", c->id);
    xmlNodePtr a = el_text(p, para, "a", NULL, c->id);
    set_attr(p, a, "href", anchor);
  }
}

static void summary(struct page *p, xmlNodePtr main, const struct uat_run_result *run,
                    const struct uat_gate_view *g) {
  xmlNodePtr box = el(p, main, "header", NULL);
  char cls[32];
  snprintf(cls, sizeof cls, "summary %s", run_class(run, g));
  set_attr(p, box, "class", cls);
  set_attr(p, box, "id", "summary");
  summary_title(p, box, run, g);
  el_text(p, box, "p", "meta", run ? run->playbook_name : g->playbook);
  xmlNodePtr dl = el(p, box, "dl", "facts");
  fact(p, dl, "Release", run ? run->release : g->release, true);
  fact(p, dl, "Commit", run ? run->commit : g->commit, true);
  char when[48], took[32];
  if (run) {
    fact(p, dl, "Target", run->base_url, true);
    fact(p, dl, "Started", iso_time(run->started_at, when, sizeof when), false);
    fact(p, dl, "Duration", uat_duration_format(run->duration_s, took, sizeof took), false);
    fact(p, dl, "Playbook digest", run->digest, true);
  }
  if (g)
    fact(p, dl, "Checks", g->run_reason, false);
  xmlNodePtr counts = el(p, box, "ul", "counts");
  set_attr(p, counts, "aria-label", "counts");
  if (run) {
    count(p, counts, run->passed, "passed", "ok");
    count(p, counts, run->failed, "failed", "bad");
    count(p, counts, run->errored, "errors", "bad");
    failing_links(p, box, run);
  } else {
    count(p, counts, g->passed, "passed", "ok");
    count(p, counts, g->failed, "failed", "bad");
    count(p, counts, g->errored, "errors", "bad");
  }
}

/* ---------- sign-offs ---------- */

static const char *item_class(const char *state) {
  return strcmp(state, "approved") == 0 ? "ok" : strcmp(state, "rejected") == 0 ? "bad" : "wait";
}

static void signoff_card(struct page *p, xmlNodePtr list, const struct uat_gate_view_item *it,
                         const struct uat_gate_view *g) {
  char cls[32];
  snprintf(cls, sizeof cls, "card %s", item_class(it->state));
  xmlNodePtr card = el(p, list, "article", cls);
  xmlNodePtr head = el(p, card, "div", "head");
  el_text(p, head, "span", item_class(it->state), it->state);
  el_text(p, head, "h3", NULL, it->id);
  el_text(p, head, "span", "meta", it->role);
  if (it->text)
    el_text(p, card, "p", NULL, it->text);
  el_text(p, card, "p", "meta", it->reason);
  if (it->signer) {
    xmlNodePtr who = el_text(p, card, "p", NULL,
                             strcmp(it->state, "rejected") == 0 ? "Rejected by " : "Decided by ");
    el_text(p, who, "strong", NULL, it->signer);
    if (it->decided_at) {
      text(p, who, " at ");
      el_text(p, who, "time", NULL, it->decided_at);
    }
  }
  if (it->note)
    el_text(p, card, "blockquote", NULL, it->note);
  if (it->may_sign) {
    xmlNodePtr who = el_text(p, card, "p", NULL, "May sign: ");
    text(p, who, it->may_sign);
  }
  if (it->command && !g->page_url) {
    xmlNodePtr how = el_text(p, card, "p", "meta", "To sign: ");
    el_text(p, how, "code", NULL, it->command);
  }
}

static void signoffs(struct page *p, xmlNodePtr main, const struct uat_gate_view *g) {
  xmlNodePtr sec = el(p, main, "section", NULL);
  set_attr(p, sec, "id", "signoffs");
  el_text(p, sec, "h2", NULL, "Sign-offs");
  if (g->nitems == 0)
    el_text(p, sec, "p", "meta", "The playbook asks for no sign-off.");
  for (size_t i = 0; i < g->nitems; i++)
    signoff_card(p, sec, &g->items[i], g);
  if (g->page_url) {
    xmlNodePtr para = el(p, sec, "p", NULL);
    xmlNodePtr a = el_text(p, para, "a", NULL, "Sign on the sign-off page");
    set_attr(p, a, "href", g->page_url);
  }
  if (g->gate_command && strcmp(g->verdict, "open") != 0) {
    xmlNodePtr again = el_text(p, sec, "p", "meta", "Then ask the gate again: ");
    el_text(p, again, "code", NULL, g->gate_command);
  }
}

/* ---------- checks ---------- */

static const char *outcome_class(enum uat_outcome o) {
  return o == UAT_OUTCOME_PASS ? "ok" : o == UAT_OUTCOME_SKIP ? "wait" : "bad";
}

static void expectation(struct page *p, xmlNodePtr list, const struct uat_expectation *e) {
  xmlNodePtr li = el(p, list, "li", NULL);
  el_text(p, li, "span", e->ok ? "ok" : "bad", e->ok ? "✓ " : "✗ ");
  text(p, li, e->message ? e->message : e->kind);
  if (e->where) {
    text(p, li, " ");
    el_text(p, li, "span", "meta", e->where);
  }
  if (e->ok || (!e->expected && !e->actual))
    return;
  xmlNodePtr vs = el(p, li, "div", "vs");
  if (e->expected) {
    el_text(p, vs, "span", "meta", "expected");
    el_text(p, vs, "code", NULL, e->expected);
  }
  if (e->actual) {
    el_text(p, vs, "span", "meta", "actual");
    el_text(p, vs, "code", NULL, e->actual);
  }
}

/* "image/png" when data is a PNG or a JPEG a browser shows, else NULL. */
static const char *image_type(const unsigned char *data, size_t len) {
  if (len > 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
    return "image/png";
  if (len > 3 && memcmp(data, "\xff\xd8\xff", 3) == 0)
    return "image/jpeg";
  return NULL;
}

/* "data:image/png;base64,...", or NULL when the file is no image (or too big to embed). */
static char *data_uri(struct page *p, const char *path) {
  struct uat_error err;
  size_t len;
  char *data = uat_file_read(path, IMAGE_MAX, &len, &err);
  const char *type = data ? image_type((const unsigned char *)data, len) : NULL;
  if (!type || p->embedded + len > IMAGES_TOTAL_MAX) {
    free(data);
    return NULL;
  }
  size_t prefix = strlen("data:;base64,") + strlen(type);
  char *uri = malloc(prefix + 4 * ((len + 2) / 3) + 1);
  if (uri) {
    snprintf(uri, prefix + 1, "data:%s;base64,", type);
    EVP_EncodeBlock((unsigned char *)uri + prefix, (const unsigned char *)data, (int)len);
    p->embedded += len;
  } else {
    p->failed = true;
  }
  free(data);
  return uri;
}

static void artifact(struct page *p, xmlNodePtr parent, const char *path) {
  char *uri = data_uri(p, path);
  if (!uri) { /* the page HTML of a failed browser check, or an image too big: its path */
    xmlNodePtr para = el_text(p, parent, "p", "meta", "Saved: ");
    el_text(p, para, "code", NULL, path);
    return;
  }
  xmlNodePtr fig = el(p, parent, "figure", NULL);
  xmlNodePtr img = el(p, fig, "img", NULL);
  set_attr(p, img, "src", uri);
  set_attr(p, img, "alt", path);
  free(uri);
  el_text(p, fig, "figcaption", NULL, path);
}

static void details(struct page *p, xmlNodePtr parent, const char *title, char *const *lines,
                    size_t n) {
  if (n == 0)
    return;
  char label[64];
  snprintf(label, sizeof label, "%s (%zu)", title, n);
  xmlNodePtr d = el(p, parent, "details", NULL);
  el_text(p, d, "summary", NULL, label);
  xmlNodePtr pre = el(p, d, "pre", NULL);
  for (size_t i = 0; i < n; i++) {
    text(p, pre, lines[i]);
    text(p, pre, "\n");
  }
}

static void check_meta(struct page *p, xmlNodePtr card, const struct uat_check_result *c) {
  char took[32], buf[96];
  snprintf(buf, sizeof buf, "%s", uat_duration_format(c->duration_s, took, sizeof took));
  if (c->attempts > 1)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " (last of %d attempts)", c->attempts);
  size_t failed = uat_check_result_failed_expectations(c);
  snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " · %zu expectation%s, %zu failed",
           c->nexpectations, c->nexpectations == 1 ? "" : "s", failed);
  el_text(p, card, "p", "meta", buf);
}

static void check_card(struct page *p, xmlNodePtr list, const struct uat_check_result *c) {
  char cls[32], id[300];
  snprintf(cls, sizeof cls, "card check %s", outcome_class(c->outcome));
  snprintf(id, sizeof id, "check-%s", c->id);
  xmlNodePtr card = el(p, list, "article", cls);
  set_attr(p, card, "id", id);
  xmlNodePtr head = el(p, card, "div", "head");
  el_text(p, head, "span", outcome_class(c->outcome), uat_outcome_name(c->outcome));
  el_text(p, head, "h3", NULL, c->id);
  if (c->title && strcmp(c->title, c->id) != 0)
    el_text(p, head, "span", NULL, c->title);
  check_meta(p, card, c);
  if (c->error)
    el_text(p, card, "p", "error", c->error);
  xmlNodePtr exps = c->nexpectations ? el(p, card, "ul", "exp") : NULL;
  for (size_t i = 0; i < c->nexpectations; i++)
    expectation(p, exps, &c->expectations[i]);
  for (size_t i = 0; i < c->nartifacts; i++)
    artifact(p, card, c->artifacts[i]);
  details(p, card, "Log", c->logs, c->nlogs);
  if (c->traceback) {
    char *tb[] = {c->traceback};
    details(p, card, "Traceback", tb, 1);
  }
}

static void build_section(struct page *p, xmlNodePtr main, const struct uat_build_record *b) {
  xmlNodePtr sec = el(p, main, "section", NULL);
  set_attr(p, sec, "id", "build");
  el_text(p, sec, "h2", NULL, "Deployed build");
  xmlNodePtr dl = el(p, sec, "dl", "facts");
  char took[32];
  fact(p, dl, "Staging served", b->served, true);
  fact(p, dl, "Read from", b->url, true);
  fact(p, dl, "Field", b->json, true);
  fact(p, dl, "Waited", uat_duration_format(b->waited_s, took, sizeof took), false);
}

static void checks(struct page *p, xmlNodePtr main, const struct uat_run_result *run) {
  xmlNodePtr sec = el(p, main, "section", NULL);
  set_attr(p, sec, "id", "checks");
  el_text(p, sec, "h2", NULL, "Checks");
  for (size_t i = 0; i < run->nchecks; i++)
    check_card(p, sec, &run->checks[i]);
}

/* ---------- the page ---------- */

static void head(struct page *p, xmlNodePtr html, const struct uat_run_result *run,
                 const struct uat_gate_view *g) {
  xmlNodePtr h = el(p, html, "head", NULL);
  set_attr(p, el(p, h, "meta", NULL), "charset", "utf-8");
  xmlNodePtr vp = el(p, h, "meta", NULL);
  set_attr(p, vp, "name", "viewport");
  set_attr(p, vp, "content", "width=device-width, initial-scale=1");
  xmlNodePtr csp = el(p, h, "meta", NULL);
  set_attr(p, csp, "http-equiv", "Content-Security-Policy");
  set_attr(p, csp, "content", CSP);
  char title[512];
  snprintf(title, sizeof title, "%s — %s %s", run ? run->playbook_name : g->playbook,
           run ? run->release : g->release, g ? g->verdict : run_class(run, NULL));
  el_text(p, h, "title", NULL, title);
  xmlNodePtr style = el(p, h, "style", NULL);
  if (style && !xmlAddChild(style, check_node(p, xmlNewText(BAD_CAST CSS))))
    p->failed = true;
}

static void body(struct page *p, xmlNodePtr html, const struct uat_run_result *run,
                 const struct uat_gate_view *g) {
  xmlNodePtr main = el(p, el(p, html, "body", NULL), "main", NULL);
  summary(p, main, run, g);
  if (g)
    signoffs(p, main, g);
  if (run && run->build)
    build_section(p, main, run->build);
  if (run)
    checks(p, main, run);
  else
    el_text(p, main, "p", "meta",
            "The gate judged the recorded run (--no-run): its checks are in that run's report.");
  char now[48];
  el_text(p, main, "footer", NULL, "Written by uatrun at ");
  xmlNodePtr footer = main ? main->last : NULL;
  text(p, footer, iso_time((int64_t)time(NULL), now, sizeof now));
}

/* The page as text, or NULL (out of memory). */
static char *render(const struct uat_run_result *run, const struct uat_gate_view *g, int *len) {
  struct page p = {.doc = htmlNewDocNoDtD(NULL, NULL)};
  if (!p.doc)
    return NULL;
  /* <!DOCTYPE html>: the standards mode every browser renders the CSS in. */
  xmlNodePtr html = check_node(&p, xmlNewDocNode(p.doc, NULL, BAD_CAST "html", NULL));
  if (!xmlCreateIntSubset(p.doc, BAD_CAST "html", NULL, NULL))
    p.failed = true;
  if (html)
    xmlDocSetRootElement(p.doc, html);
  set_attr(&p, html, "lang", "en");
  head(&p, html, run, g);
  body(&p, html, run, g);
  xmlChar *mem = NULL;
  if (!p.failed)
    htmlDocDumpMemoryFormat(p.doc, &mem, len, 0);
  xmlFreeDoc(p.doc);
  return (char *)mem;
}

int uat_report_html_write(const struct uat_run_result *run, const struct uat_gate_view *gate,
                          const char *path, struct uat_error *err) {
  if (!run && !gate)
    return uat_error_set(err, "cannot write the HTML report '%s': nothing to report", path);
  int len = 0;
  char *page = render(run, gate, &len);
  if (!page || len <= 0) {
    xmlFree(page);
    return uat_error_set(err, "cannot write the HTML report '%s': out of memory", path);
  }
  struct uat_error e;
  int rc = uat_file_write_atomic(path, page, (size_t)len, &e);
  xmlFree(page);
  if (rc != 0)
    return uat_error_set(err, "cannot write the HTML report: %s", e.text);
  return 0;
}
