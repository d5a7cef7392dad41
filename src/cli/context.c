/* Turns parsed options into what every command starts from: the playbook,
 * the redactor, the release and commit under test, and the ledger path. */
#include "cli/context.h"
#include "report/report_text.h"

#include "ledger/digest.h"
#include "ledger/ledger.h"
#include "util/fsutil.h"
#include "net/http.h"
#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *first_env(const char *const *names) {
  for (; *names; names++) {
    const char *v = getenv(*names);
    if (v && *v)
      return v;
  }
  return NULL;
}

const char *uat_context_env_release(void) {
  static const char *const names[] = {"UATRUN_RELEASE", "CI_COMMIT_TAG", "BUILDKITE_TAG",
                                      "CIRCLE_TAG",     "DRONE_TAG",     NULL};
  const char *v = first_env(names);
  if (v)
    return v;
  /* GitHub Actions names the tag only through the ref. */
  const char *type = getenv("GITHUB_REF_TYPE");
  if (type && strcmp(type, "tag") == 0)
    return getenv("GITHUB_REF_NAME");
  return NULL;
}

const char *uat_context_env_commit(void) {
  static const char *const names[] = {"UATRUN_COMMIT",    "GITHUB_SHA",  "CI_COMMIT_SHA",
                                      "BUILDKITE_COMMIT", "CIRCLE_SHA1", "BITBUCKET_COMMIT",
                                      "DRONE_COMMIT_SHA", "GIT_COMMIT",  NULL};
  return first_env(names);
}

/* A release or commit names what people approve: blank text, control characters (which
 * could rewrite a terminal line, C1 included) or bytes that are not UTF-8 (which the ledger
 * refuses, after the run) are refused. NULL is "not given". */
static bool valid_identity(const char *text) {
  return !text || (uat_report_text_is_line(text) && text[strspn(text, " ")] != '\0');
}

/* What a run checked besides the files: the target, its headers, the vars and each check's
 * `with:` — every value ${VAR} expansion or --var/--base-url can change while the files (the
 * digest) stay the same. A recorded run only stands for this invocation when it matches.
 * Secret values are redacted first, so the ledger never holds a hash of one. */
static char *fingerprint(const struct uat_playbook *pb, const char *base_url,
                         const struct uat_redactor *redactor) {
  /* json_object_set_new takes its value's reference even when it fails: nothing leaks. */
  json_t *what = json_object();
  bool ok = what && json_object_set_new(what, "headers", json_array()) == 0 &&
            json_object_set_new(what, "with", json_object()) == 0 &&
            json_object_set_new(what, "base_url", json_string(base_url)) == 0 &&
            json_object_set(what, "vars", pb->vars ? pb->vars : json_null()) == 0;
  json_t *headers = json_object_get(what, "headers"), *params = json_object_get(what, "with");
  for (size_t i = 0; ok && i < pb->nheaders; i++)
    ok = json_array_append_new(headers,
                               json_pack("[s,s]", pb->headers[i].name, pb->headers[i].value)) == 0;
  for (size_t i = 0; ok && i < pb->nchecks; i++)
    ok = json_object_set(params, pb->checks[i].id, pb->checks[i].params) == 0;
  if (!ok) {
    json_decref(what);
    what = NULL;
  }
  char *text = what ? json_dumps(what, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(what);
  char *shown = text ? uat_redact(redactor, text) : NULL;
  free(text);
  if (!shown)
    return NULL;
  char hex[UAT_DIGEST_HEX];
  uat_sha256_hex(shown, strlen(shown), hex);
  free(shown);
  return strdup(hex);
}

static bool valid_base_url(const char *url) {
  return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* A base URL curl cannot parse ("http://", a bad port, a space) would make every check
 * error at its first request, and the run be recorded: it is an input error, found here. */
static int check_base_url(const struct uat_context *ctx, const char *base, struct uat_error *err) {
  const struct uat_cli_options *o = ctx->opts;
  const struct uat_playbook *pb = ctx->playbook;
  struct uat_error e;
  char *resolved = NULL;
  if (!valid_base_url(base))
    uat_error_set(&e, "base URL '%s' must start with http:// or https://; fix %s",
                  ctx->base_url_shown, o->base_url ? "--base-url" : "target.base_url");
  else
    resolved = uat_http_resolve_url(base, "/", &ctx->redactor, &e); /* NULL: e says why */
  bool ok = resolved != NULL;
  free(resolved);
  if (ok)
    return 0;
  if (o->base_url)
    return uat_error_set(err, "%s", e.text);
  return uat_error_set(err, "%s:%d:%d: %s", pb->path, pb->base_url_line, pb->base_url_col, e.text);
}

/* target.build.url against the effective base URL, so a URL curl cannot use is an input
 * error found before anything runs (lint included), named where the playbook writes it. */
static int resolve_build_url(struct uat_context *ctx, struct uat_error *err) {
  const struct uat_playbook *pb = ctx->playbook;
  if (!pb->build.enabled)
    return 0;
  struct uat_error e;
  ctx->build_url = uat_http_resolve_url(ctx->base_url, pb->build.url, &ctx->redactor, &e);
  if (ctx->build_url && !valid_base_url(ctx->build_url)) {
    free(ctx->build_url);
    ctx->build_url = NULL;
    char *shown = uat_redact(&ctx->redactor, pb->build.url);
    uat_error_set(&e,
                  "'%s' is not an http:// or https:// URL; give a path on staging "
                  "(/api/version) or a full http(s) URL",
                  shown ? shown : "the URL");
    free(shown);
  }
  if (ctx->build_url)
    return 0;
  return uat_error_set(err, "%s:%d:%d: target.build.url: %s", pb->path, pb->build.line,
                       pb->build.col, e.text);
}

static int resolve_identity(struct uat_context *ctx, unsigned flags, struct uat_error *err) {
  const struct uat_cli_options *o = ctx->opts;
  const char *release = o->release ? o->release : uat_context_env_release();
  const char *commit = o->commit ? o->commit : uat_context_env_commit();
  const char *bad = !valid_identity(release)  ? "release"
                    : !valid_identity(commit) ? "commit"
                                              : NULL;
  if (bad)
    return uat_error_set(
        err,
        "the %s is not usable: it must be UTF-8 text, not blank and without control "
        "characters; fix --%s (or the variable it came from)",
        bad, bad);
  if ((flags & UAT_CTX_NEED_RELEASE) &&
      ((release && strcmp(release, "unknown") == 0) || (commit && strcmp(commit, "unknown") == 0)))
    return uat_error_set(err, "'unknown' is what `uatrun run` records when no release or commit "
                              "was given; it cannot be signed or gated: pass the real "
                              "--release VERSION --commit SHA");
  if ((flags & UAT_CTX_NEED_RELEASE) && (!release || !commit))
    return uat_error_set(err,
                         "%s`uatrun %s` needs the release and commit it is about, but the %s "
                         "unknown: pass --release VERSION --commit SHA (or set UATRUN_RELEASE and "
                         "UATRUN_COMMIT)",
                         strcmp(o->command, "signoff") == 0 ? "a sign-off must name what it "
                                                              "approves: "
                                                            : "",
                         o->command,
                         !release && !commit ? "release and commit are"
                         : !release          ? "release is"
                                             : "commit is");
  ctx->release = release ? strdup(release) : NULL;
  ctx->commit = commit ? strdup(commit) : NULL;
  if ((release && !ctx->release) || (commit && !ctx->commit))
    return uat_error_set(err, "out of memory");
  return 0;
}

int uat_context_open(struct uat_context *ctx, const struct uat_cli_options *opts, unsigned flags,
                     struct uat_error *err) {
  memset(ctx, 0, sizeof *ctx);
  ctx->opts = opts;
  uat_redactor_init(&ctx->redactor);
  /* The path is recorded with every run and decision, and the ledger stores UTF-8 only. */
  if (opts->playbook && !uat_report_text_is_utf8(opts->playbook)) {
    uat_redactor_release(&ctx->redactor);
    return uat_error_set(err, "the playbook path is not UTF-8 text; rename the file (or a folder "
                              "on its path) with UTF-8 characters");
  }
  struct uat_playbook_options popts = {.allow_missing_secrets = !(flags & UAT_CTX_SECRETS)};
  ctx->playbook = uat_playbook_load(opts->playbook, &popts, err);
  if (!ctx->playbook)
    return -1;
  struct uat_playbook *pb = ctx->playbook;
  for (size_t i = 0; i < pb->nsecrets; i++)
    if (uat_redactor_add(&ctx->redactor, pb->secrets[i].value) != 0)
      goto oom;
  /* A webhook URL is its token: hidden wherever it could show (a curl error, a report). */
  for (size_t i = 0; i < pb->notify.nwebhooks; i++)
    if (uat_redactor_add(&ctx->redactor, pb->notify.webhooks[i].url) != 0)
      goto oom;
  for (size_t i = 0; i < opts->nvars; i++)
    if (uat_playbook_set_var(pb, opts->vars[i], err) != 0) {
      /* The message quotes what was given, which may hold a secret pasted by mistake. */
      char *shown = uat_redact(&ctx->redactor, err->text);
      uat_error_set(err, "%s", shown ? shown : "--var: invalid value");
      free(shown);
      goto fail;
    }
  const char *base = opts->base_url ? opts->base_url : pb->base_url;
  ctx->base_url = strdup(base);
  ctx->base_url_shown = uat_redact(&ctx->redactor, base);
  if (!ctx->base_url || !ctx->base_url_shown)
    goto oom;
  if (check_base_url(ctx, base, err) != 0 || resolve_build_url(ctx, err) != 0)
    goto fail;
  ctx->fingerprint = fingerprint(pb, base, &ctx->redactor);
  const char *ledger = getenv("UATRUN_LEDGER");
  ctx->ledger_path = strdup(ledger && *ledger ? ledger : pb->ledger_path);
  if (!ctx->fingerprint || !ctx->ledger_path)
    goto oom;
  /* A database password in the ledger URL is a secret like the playbook's: hidden in every
   * text this invocation prints or records. */
  char *password = uat_ledger_url_password(ctx->ledger_path);
  int hidden = password ? uat_redactor_add(&ctx->redactor, password) : 0;
  free(password);
  ctx->ledger_shown = uat_ledger_shown_name(ctx->ledger_path);
  if (hidden != 0 || !ctx->ledger_shown)
    goto oom;
  if (resolve_identity(ctx, flags, err) != 0)
    goto fail;
  return 0;
oom:
  uat_error_set(err, "out of memory");
fail:
  uat_context_close(ctx);
  return -1;
}

void uat_context_close(struct uat_context *ctx) {
  uat_playbook_free(ctx->playbook);
  uat_redactor_release(&ctx->redactor);
  free(ctx->release);
  free(ctx->commit);
  free(ctx->base_url);
  free(ctx->base_url_shown);
  free(ctx->fingerprint);
  free(ctx->build_url);
  free(ctx->ledger_path);
  free(ctx->ledger_shown);
  memset(ctx, 0, sizeof *ctx);
}

/* A report path must be a file in an existing, writable folder (or a device written in
 * place): a bad one is a usage error found before anything runs, not after. */
static int check_report_path(const char *path, const char *option, struct uat_error *err) {
  if (!path)
    return 0;
  if (uat_path_is_dir(path))
    return uat_error_set(err, "%s '%s' is a folder; give a file name", option, path);
  /* A device, a pipe or /dev/stdout is written in place, not replaced. */
  if (uat_path_written_in_place(path))
    return access(path, W_OK) == 0 ? 0
                                   : uat_error_set(err, "%s '%s' cannot be written", option, path);
  if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
    return uat_error_set(err, "%s '%s' is read-only; make it writable or give another file name",
                         option, path);
  /* A symbolic link is followed: the folder that matters is the one of the file it names. */
  char *real = realpath(path, NULL);
  char *dir = uat_path_dirname(real ? real : path);
  free(real);
  int ok = dir && uat_path_is_dir(dir) && access(dir, W_OK) == 0;
  int rc = ok ? 0
              : uat_error_set(err, "%s '%s': folder '%s' does not exist or is not writable", option,
                              path, dir ? dir : "?");
  free(dir);
  return rc;
}

/* The file path names, for comparing two names: its real path when it exists, else its
 * folder's real path and its own name. NULL when the folder does not resolve. */
static char *canonical(const char *path) {
  char *real = realpath(path, NULL);
  if (real)
    return real;
  char *dir = uat_path_dirname(path);
  char *real_dir = dir ? realpath(dir, NULL) : NULL;
  const char *slash = strrchr(path, '/');
  char *joined = real_dir ? uat_path_join(real_dir, slash ? slash + 1 : path) : NULL;
  free(dir);
  free(real_dir);
  return joined;
}

/* Whether a and b name one file: the same inode when both exist (a device such as
 * /dev/null is written in place, so it may take any number of reports), else the same
 * canonical path. */
static bool same_file(const char *a, const char *b) {
  if (!a || !b || uat_path_written_in_place(a) || uat_path_written_in_place(b))
    return false;
  struct stat sa, sb;
  bool a_exists = stat(a, &sa) == 0, b_exists = stat(b, &sb) == 0;
  if (a_exists && b_exists)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (a_exists != b_exists)
    return false;
  char *ca = canonical(a), *cb = canonical(b);
  bool same = strcmp(a, b) == 0 || (ca && cb && strcmp(ca, cb) == 0);
  free(ca);
  free(cb);
  return same;
}

/* What a report overwrites is gone: the ledger (and its WAL files), the playbook or a
 * check script named by mistake must be refused, not replaced. */
static int check_report_target(const struct uat_context *ctx, const char *path, const char *option,
                               struct uat_error *err) {
  if (!path)
    return 0;
  const char *what = NULL, *check = NULL;
  static const char *const ledger_files[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; !what && i < sizeof ledger_files / sizeof ledger_files[0]; i++) {
    struct uat_strbuf name;
    uat_strbuf_init(&name, 0);
    if (uat_strbuf_addf(&name, "%s%s", ctx->ledger_path, ledger_files[i]) == 0 &&
        same_file(path, name.buf))
      what = "the ledger";
    uat_strbuf_release(&name);
  }
  const struct uat_playbook *pb = ctx->playbook;
  if (!what && same_file(path, pb->path))
    what = "the playbook";
  for (size_t i = 0; !what && i < pb->nchecks; i++)
    if (same_file(path, pb->checks[i].script_path)) {
      what = "the script of check";
      check = pb->checks[i].id;
    }
  if (!what)
    return 0;
  return uat_error_set(err,
                       "%s '%s' is %s%s%s%s; writing the report there would destroy it: give "
                       "another file",
                       option, path, what, check ? " '" : "", check ? check : "", check ? "'" : "");
}

int uat_context_check_reports(const struct uat_context *ctx, const char *junit, const char *json,
                              struct uat_error *err) {
  if (check_report_path(junit, "--report-junit", err) != 0 ||
      check_report_path(json, "--report-json", err) != 0 ||
      check_report_target(ctx, junit, "--report-junit", err) != 0 ||
      check_report_target(ctx, json, "--report-json", err) != 0)
    return -1;
  if (same_file(junit, json))
    return uat_error_set(err,
                         "--report-junit '%s' and --report-json '%s' name the same file, so the "
                         "JSON report would replace the JUnit one; give them different names",
                         junit, json);
  return 0;
}

int uat_context_check_all_reports(const struct uat_context *ctx, const struct uat_cli_options *opts,
                                  struct uat_error *err) {
  const char *html = opts->report_html;
  if (uat_context_check_reports(ctx, opts->report_junit, opts->report_json, err) != 0 ||
      check_report_path(html, "--report-html", err) != 0 ||
      check_report_target(ctx, html, "--report-html", err) != 0)
    return -1;
  const char *other = same_file(html, opts->report_junit)  ? "--report-junit"
                      : same_file(html, opts->report_json) ? "--report-json"
                                                           : NULL;
  if (other)
    return uat_error_set(err,
                         "--report-html '%s' and %s name the same file, so one report would "
                         "replace the other; give them different names",
                         html, other);
  return 0;
}
