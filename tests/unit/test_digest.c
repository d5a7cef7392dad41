/* The playbook digest: it changes when anything a check may run changes (the playbook, a
 * script, any local or bundled module), not otherwise, and not when the folder moves;
 * symlinked folders are not followed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ledger/digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tree {
  char root[128];
  char dir[160];     /* the playbook folder */
  char bundled[160]; /* the bundled checklists folder */
};

static void put(const char *base, const char *rel, const char *text, const char *mode) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", base, rel);
  for (char *p = path + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
  FILE *f = fopen(path, mode);
  assert_non_null(f);
  assert_true(fputs(text, f) >= 0);
  assert_int_equal(fclose(f), 0);
}

static void make_tree(struct tree *t, const char *root) {
  snprintf(t->root, sizeof t->root, "%.100s", root);
  snprintf(t->dir, sizeof t->dir, "%.100s/project", root);
  snprintf(t->bundled, sizeof t->bundled, "%.100s/bundled", root);
  put(t->dir, "uat.yml", "name: tasking-manager\nchecks:\n  - id: login\n", "w");
  put(t->dir, "checks/login.lua",
      "local h = require(\"helpers\")\nlocal s = require 'smoke.http'\nh.go(s)\n", "w");
  put(t->dir, "checklists/helpers.lua", "return require('pagination')\n", "w");
  put(t->dir, "checklists/sub/deep.lua", "return {}\n", "w");
  put(t->dir, "checklists/notes.txt", "not Lua\n", "w");
  put(t->dir, "README.md", "# docs\n", "w");
  put(t->bundled, "smoke/http.lua", "return require ( \"auth\" )\n", "w");
  put(t->bundled, "auth.lua", "return {}\n", "w");
  put(t->bundled, "pagination.lua", "return {}\n", "w");
  put(t->bundled, "helpers.lua", "return 'shadowed by the local one'\n", "w");
  put(t->bundled, "unused.lua", "return {}\n", "w");
  put(t->bundled, "inline_only.lua", "return {}\n", "w");
}

/* A playbook as uat_playbook_load would build it: one script check, one inline check. */
struct fake_pb {
  struct uat_playbook pb;
  struct uat_check checks[2];
  char path[256], script[256];
};

static void fake_playbook(struct fake_pb *f, const struct tree *t) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s/uat.yml", t->dir);
  snprintf(f->script, sizeof f->script, "%s/checks/login.lua", t->dir);
  f->checks[0].id = (char *)"login";
  f->checks[0].script_path = f->script;
  f->checks[0].source = (char *)"local h = require(\"helpers\")\nlocal s = require 'smoke.http'\n";
  f->checks[1].id = (char *)"inline";
  f->checks[1].source = (char *)"local x = require(\"inline_only\")\nexpect.truthy(x)\n";
  f->pb.path = f->path;
  f->pb.dir = (char *)t->dir;
  f->pb.checks = f->checks;
  f->pb.nchecks = 2;
}

static int setup(void **state) {
  struct tree *t = calloc(1, sizeof *t);
  assert_non_null(t);
  char root[] = "/tmp/uat-digest-XXXXXX";
  assert_non_null(mkdtemp(root));
  make_tree(t, root);
  *state = t;
  return 0;
}

static int teardown(void **state) {
  struct tree *t = *state;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
  assert_int_equal(system(cmd), 0);
  free(t);
  return 0;
}

static void digest_of(const struct tree *t, char out[UAT_DIGEST_HEX]) {
  struct fake_pb f;
  fake_playbook(&f, t);
  struct uat_error err = {{0}};
  if (uat_playbook_digest(&f.pb, t->bundled, out, &err) != 0)
    fail_msg("digest failed: %s", err.text);
  assert_int_equal(strlen(out), 64);
}

static void test_sha256_vectors(void **state) {
  char out[UAT_DIGEST_HEX];
  uat_sha256_hex("abc", 3, out);
  assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  uat_sha256_hex("", 0, out);
  assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_what_changes_the_digest(void **state) {
  struct tree *t = *state;
  static const struct {
    const char *in; /* "dir" or "bundled" */
    const char *file;
    bool changes;
  } cases[] = {
      {"dir", "uat.yml", true},                 /* the playbook */
      {"dir", "checks/login.lua", true},        /* a check's script */
      {"dir", "checklists/helpers.lua", true},  /* a required local module */
      {"dir", "checklists/sub/deep.lua", true}, /* any local module: it may be loaded */
      {"dir", "checklists/new.lua", true},      /* a new local module */
      {"bundled", "smoke/http.lua", true},      /* a required bundled module (dotted name) */
      {"bundled", "auth.lua", true},            /* required by a bundled module */
      {"bundled", "pagination.lua", true},      /* required by a local module */
      {"bundled", "inline_only.lua", true},     /* required by an inline run: */
      {"bundled", "unused.lua", true},          /* not required by name: require("un".."used") */
      {"bundled", "helpers.lua", true},       /* shadowed by the local helpers.lua: still covered */
      {"bundled", "new/mod.lua", true},       /* a new bundled module, in a subfolder */
      {"dir", "README.md", false},            /* unrelated file */
      {"dir", "checklists/notes.txt", false}, /* not Lua */
      {"dir", "other.lua", false},            /* Lua outside checklists/, not a script */
      {"bundled", "notes.txt", false},        /* not Lua */
  };
  char before[UAT_DIGEST_HEX], after[UAT_DIGEST_HEX];
  digest_of(t, before);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    put(strcmp(cases[i].in, "dir") == 0 ? t->dir : t->bundled, cases[i].file, "-- edited\n", "a");
    digest_of(t, after);
    if (cases[i].changes != (strcmp(before, after) != 0))
      fail_msg("editing %s/%s %s the digest", cases[i].in, cases[i].file,
               cases[i].changes ? "did not change" : "changed");
    memcpy(before, after, sizeof before);
  }
}

static void test_stable_and_relocatable(void **state) {
  struct tree *t = *state;
  char a[UAT_DIGEST_HEX], b[UAT_DIGEST_HEX], moved[UAT_DIGEST_HEX];
  digest_of(t, a);
  digest_of(t, b);
  assert_string_equal(a, b);
  /* the same files in another place (another checkout, another install) */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mkdir '%s/elsewhere' && cp -r '%s' '%s' '%s/elsewhere/'", t->root,
           t->dir, t->bundled, t->root);
  assert_int_equal(system(cmd), 0);
  struct tree other;
  snprintf(other.root, sizeof other.root, "%.100s/elsewhere", t->root);
  snprintf(other.dir, sizeof other.dir, "%.120s/project", other.root);
  snprintf(other.bundled, sizeof other.bundled, "%.120s/bundled", other.root);
  digest_of(&other, moved);
  assert_string_equal(a, moved);
}

static void test_without_bundled_or_checklists(void **state) {
  struct tree *t = *state;
  struct fake_pb f;
  fake_playbook(&f, t);
  char with[UAT_DIGEST_HEX], without[UAT_DIGEST_HEX];
  struct uat_error err = {{0}};
  assert_int_equal(uat_playbook_digest(&f.pb, t->bundled, with, &err), 0);
  assert_int_equal(uat_playbook_digest(&f.pb, NULL, without, &err), 0);
  assert_string_not_equal(with, without);
  /* no checklists/ folder and no dir given: the playbook's folder is used */
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s/checklists'", t->dir);
  assert_int_equal(system(cmd), 0);
  f.pb.dir = NULL;
  assert_int_equal(uat_playbook_digest(&f.pb, NULL, without, &err), 0);
  assert_string_not_equal(with, without);
}

static void test_unreadable_inputs(void **state) {
  struct tree *t = *state;
  struct fake_pb f;
  fake_playbook(&f, t);
  char out[UAT_DIGEST_HEX];
  struct uat_error err = {{0}};
  char missing[256];
  snprintf(missing, sizeof missing, "%s/checks/gone.lua", t->dir);
  f.checks[0].script_path = missing;
  assert_int_equal(uat_playbook_digest(&f.pb, t->bundled, out, &err), -1);
  assert_non_null(strstr(err.text, "gone.lua"));
  fake_playbook(&f, t);
  snprintf(missing, sizeof missing, "%s/nope.yml", t->dir);
  f.pb.path = missing;
  assert_int_equal(uat_playbook_digest(&f.pb, t->bundled, out, &err), -1);
  assert_non_null(strstr(err.text, "nope.yml"));
  f.pb.path = NULL;
  assert_int_equal(uat_playbook_digest(&f.pb, t->bundled, out, &err), -1);
  assert_non_null(strstr(err.text, "no playbook file"));
}

static void link_at(const char *base, const char *rel, const char *target) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", base, rel);
  assert_int_equal(symlink(target, path), 0);
}

/* Symlinked folders are skipped (a link to "." or "/" would never end); a symlinked file
 * counts through the regular file it leads to. */
static void test_symlinks(void **state) {
  struct tree *t = *state;
  char before[UAT_DIGEST_HEX], after[UAT_DIGEST_HEX], edited[UAT_DIGEST_HEX];
  digest_of(t, before);
  link_at(t->dir, "checklists/loop", ".");
  link_at(t->dir, "checklists/root", "/");
  link_at(t->dir, "checklists/sub/up", "..");
  link_at(t->bundled, "self", ".");
  link_at(t->dir, "checklists/dir.lua", t->bundled); /* a folder named like a module */
  link_at(t->dir, "checklists/dangling.lua", "nowhere.lua");
  digest_of(t, after);
  assert_string_equal(before, after);

  put(t->root, "shared/outside.lua", "return 1\n", "w");
  char target[256];
  snprintf(target, sizeof target, "%s/shared/outside.lua", t->root);
  link_at(t->dir, "checklists/linked.lua", target);
  digest_of(t, after);
  assert_string_not_equal(before, after);
  put(t->root, "shared/outside.lua", "-- edited\n", "a");
  digest_of(t, edited);
  assert_string_not_equal(after, edited);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),
      cmocka_unit_test_setup_teardown(test_what_changes_the_digest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stable_and_relocatable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_without_bundled_or_checklists, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_inputs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
