/* `uatrun lint`: everything `run` would refuse, found without running anything:
 * the playbook's structure, every check script compiled, every module in the
 * playbook's checklists/ compiled, and --only selectors. */
#include "cli/cli.h"
#include "cli/context.h"
#include "util/fsutil.h"
#include "check/runner.h"
#include "check/browser_proc.h"
#include "check/sandbox.h"
#include "util/duration.h"
#include "util/strbuf.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static int compile_checks(const struct uat_context *ctx) {
  const struct uat_playbook *pb = ctx->playbook;
  int problems = 0;
  bool browser = false;
  for (size_t i = 0; i < pb->nchecks; i++) {
    struct uat_check_env env = {.playbook = pb,
                                .check = &pb->checks[i],
                                .redactor = &ctx->redactor,
                                .base_url = ctx->base_url};
    struct uat_error err;
    if (uat_sandbox_compile(&env, &err) != 0) {
      uat_cli_error(ctx->opts, "%s", err.text);
      problems++;
    }
    browser = browser || uat_sandbox_uses_browser(&env);
  }
  struct uat_error err;
  if (browser && uat_browser_check_installed(&err) != 0) {
    uat_cli_error(ctx->opts, "%s", err.text);
    problems++;
  }
  return problems;
}

static bool is_lua_file(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

/* Whether path is the script of a check, which compile_checks already reported on. */
static bool is_check_script(const struct uat_playbook *pb, const char *path) {
  char *real = realpath(path, NULL);
  bool found = false;
  for (size_t i = 0; real && !found && i < pb->nchecks; i++) {
    char *script = pb->checks[i].script_path ? realpath(pb->checks[i].script_path, NULL) : NULL;
    found = script && strcmp(script, real) == 0;
    free(script);
  }
  free(real);
  return found;
}

/* Compiles every .lua below dir (modules that scripts may require). */
static int compile_modules(const struct uat_context *ctx, const char *dir, int depth) {
  const struct uat_cli_options *o = ctx->opts;
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int problems = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char *path = uat_path_join(dir, e->d_name);
    if (!path)
      continue;
    struct uat_error err;
    if (depth < 8 && uat_path_is_dir(path))
      problems += compile_modules(ctx, path, depth + 1);
    else if (is_lua_file(e->d_name) && !is_check_script(ctx->playbook, path) &&
             uat_sandbox_compile_file(path, &err) != 0) {
      uat_cli_error(o, "%s", err.text);
      problems++;
    }
    free(path);
  }
  closedir(d);
  return problems;
}

/* target.build as the run will poll it; expect: as written (it is expanded when the wait
 * starts, with the release under test). */
static void print_build(const struct uat_context *ctx) {
  const struct uat_build_target *b = &ctx->playbook->build;
  if (!b->enabled)
    return;
  char *url = uat_redact(&ctx->redactor, ctx->build_url);
  char *expect = b->expect_raw ? uat_redact(&ctx->redactor, b->expect_raw) : NULL;
  char took[32];
  fprintf(ctx->opts->out, "  build   GET %s%s%s, until it serves %s%s%s", url ? url : "?",
          b->json ? ", field " : "", b->json ? b->json : "", expect ? "\"" : "",
          expect ? expect : "the release under test", expect ? "\"" : "");
  if (b->wait_s > 0)
    fprintf(ctx->opts->out, ", for up to %s\n", uat_duration_format(b->wait_s, took, sizeof took));
  else
    fputs(", at one poll (no wait:)\n", ctx->opts->out);
  free(url);
  free(expect);
}

static void print_summary(const struct uat_context *ctx) {
  const struct uat_playbook *pb = ctx->playbook;
  FILE *out = ctx->opts->out;
  fprintf(out, "%s: OK — \"%s\", %zu check%s, %zu sign-off item%s, target %s\n", pb->path, pb->name,
          pb->nchecks, pb->nchecks == 1 ? "" : "s", pb->nsignoffs, pb->nsignoffs == 1 ? "" : "s",
          ctx->base_url_shown);
  if (ctx->opts->quiet)
    return;
  print_build(ctx);
  for (size_t i = 0; i < pb->nchecks; i++) {
    const struct uat_check *c = &pb->checks[i];
    fprintf(out, "  check   %-32s %s", c->id, c->title ? c->title : "");
    for (size_t t = 0; t < c->ntags; t++)
      fprintf(out, "%s%s", t == 0 ? "  [" : ", ", c->tags[t]);
    fprintf(out, "%s\n", c->ntags ? "]" : "");
  }
  for (size_t i = 0; i < pb->nsignoffs; i++)
    fprintf(out, "  signoff %-32s (%s) %s\n", pb->signoffs[i].id, pb->signoffs[i].role,
            pb->signoffs[i].text);
}

int uat_cmd_lint(const struct uat_cli_options *opts) {
  struct uat_context ctx;
  struct uat_error err;
  if (uat_context_open(&ctx, opts, UAT_CTX_SECRETS, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  int problems = compile_checks(&ctx);
  char *local = uat_path_join(ctx.playbook->dir, "checklists");
  if (local)
    problems += compile_modules(&ctx, local, 0);
  free(local);
  bool *selected = calloc(ctx.playbook->nchecks, sizeof *selected);
  if (selected && uat_runner_select(ctx.playbook, opts->only, opts->nonly, selected, &err) < 0) {
    uat_cli_error(opts, "%s", err.text);
    problems++;
  }
  free(selected);
  if (problems == 0)
    print_summary(&ctx);
  else
    uat_cli_error(opts, "%d problem%s found in '%s'; nothing was run", problems,
                  problems == 1 ? "" : "s", opts->playbook);
  uat_context_close(&ctx);
  return problems ? UAT_EXIT_USAGE : UAT_EXIT_OK;
}
