/* Playbook loading: a table of broken playbooks, each with the exact FILE:LINE:COL its error
 * must point at and the words it must say, plus the contract's example parsed field by field. */
#include "playbook/playbook.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define PLAYBOOKS UAT_TEST_DATA "/playbooks"

/* ---- a fake environment: NULL-terminated "NAME=value" strings ---- */

static const char *fake_getenv(const char *name, void *ctx) {
  const char *const *env = ctx;
  size_t n = strlen(name);
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
      return env[i] + n + 1;
  return NULL;
}

static struct uat_playbook *load_with(const char *path, const char *const *env,
                                      struct uat_error *err) {
  struct uat_playbook_options opts = {.getenv_fn = fake_getenv, .getenv_ctx = (void *)env};
  memset(err->text, 0, sizeof err->text);
  return uat_playbook_load(path, &opts, err);
}

/* ---- playbooks written to a temporary folder ---- */

struct scratch {
  char dir[64];
  char path[128];
};

/* Writes len bytes (which may hold NUL bytes) as the playbook. */
static void scratch_open_bytes(struct scratch *s, const char *yaml, size_t len) {
  snprintf(s->dir, sizeof s->dir, "/tmp/uat-playbook-XXXXXX");
  assert_non_null(mkdtemp(s->dir));
  snprintf(s->path, sizeof s->path, "%s/pb.yml", s->dir);
  FILE *f = fopen(s->path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(yaml, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void scratch_open(struct scratch *s, const char *yaml) {
  scratch_open_bytes(s, yaml, strlen(yaml));
}

static void scratch_close(struct scratch *s) {
  assert_int_equal(unlink(s->path), 0);
  assert_int_equal(rmdir(s->dir), 0);
}

static void assert_contains(const char *text, const char *word) {
  if (!strstr(text, word))
    fail_msg("expected \"%s\" in: %s", word, text);
}

/* Asserts err starts with "FILE:LINE:COL: " and holds every word. */
static void assert_error_at(const struct uat_error *err, const char *file, int line, int col,
                            const char *const words[]) {
  char prefix[512];
  snprintf(prefix, sizeof prefix, "%s:%d:%d: ", file, line, col);
  if (strncmp(err->text, prefix, strlen(prefix)) != 0)
    fail_msg("expected prefix \"%s\" in: %s", prefix, err->text);
  for (size_t i = 0; words[i]; i++)
    assert_contains(err->text, words[i]);
}

/* ---- broken playbooks ---- */

#define HEAD "name: t\ntarget: { base_url: \"http://127.0.0.1:1\" }\n"
#define CHECK "checks:\n  - id: a\n    run: x()\n"
#define BUILD "name: t\ntarget:\n  base_url: \"http://127.0.0.1:1\"\n  build: "
#define MAX_WORDS 5

struct bad_case {
  const char *name;
  const char *yaml;
  const char *const *env;
  int line, col;
  const char *words[MAX_WORDS + 1];
};

static const char *const env_token[] = {"TM_TOKEN=tok-value-123", NULL};
static const char *const env_empty_token[] = {"TM_TOKEN=", NULL};
static const char *const env_short_token[] = {"TM_TOKEN=abc", NULL};
static const char *const env_latin1[] = {"LATIN1=caf\xe9", NULL};

static const char *const env_hook[] = {"H=http://127.0.0.1:9/T0KEN", "FTP=ftp://h/T0KEN", NULL};

static const struct bad_case bad_cases[] = {
    {"webhook url written in the playbook (its token would be in git)",
     HEAD CHECK "notify:\n  - { type: slack, url: \"https://hooks.example/T0KEN\" }\n",
     NULL,
     7,
     25,
     {"must come from the environment", "url: ${SLACK_WEBHOOK_URL}"}},
    {"webhook type unknown",
     HEAD CHECK "notify:\n  - { type: discord, url: \"${H}\" }\n",
     env_hook,
     7,
     13,
     {"webhook type 'discord' is unknown", "slack, mattermost, teams or json"}},
    {"webhook event unknown",
     HEAD CHECK "notify:\n  - { type: json, url: \"${H}\", on: [opened] }\n",
     env_hook,
     7,
     37,
     {"'opened' is not a gate event", "waiting", "blocked"}},
    {"webhook url not http",
     HEAD CHECK "notify:\n  - { type: json, url: \"${FTP}\" }\n",
     env_hook,
     7,
     24,
     {"not an http:// or https:// URL", "it is a secret"}},
    {"webhook without url",
     HEAD CHECK "notify:\n  webhooks:\n    - { type: slack }\n",
     NULL,
     8,
     7,
     {"a webhook is missing 'url'"}},
    {"webhook key unknown",
     HEAD CHECK "notify:\n  - { type: slack, url: \"${H}\", channel: x }\n",
     env_hook,
     7,
     33,
     {"unknown key 'channel'"}},
    {"notify timeout too long",
     HEAD CHECK "notify:\n  timeout: 5m\n",
     NULL,
     7,
     12,
     {"notify.timeout is longer than 60s"}},
    {"notify page_url that would break a chat link",
     HEAD CHECK "notify:\n  page_url: \"https://uat.example.org/|<!channel>\"\n",
     NULL,
     7,
     13,
     {"'page_url' must be an http:// or https:// URL"}},
    {"notify is text", HEAD CHECK "notify: yes\n", NULL, 6, 9, {"'notify' must be a mapping"}},
    {"empty file", "", NULL, 1, 1, {"the playbook is empty", "name:"}},
    {"only comments", "# nothing yet\n", NULL, 1, 1, {"the playbook is empty"}},
    {"top level is a list", "- a\n- b\n", NULL, 1, 1, {"must be a mapping", "got a list"}},
    {"top level is text", "just text\n", NULL, 1, 1, {"must be a mapping", "got a string"}},
    {"empty document", "---\n", NULL, 2, 1, {"must be a mapping", "got null"}},
    {"name not UTF-8 after expansion (the ledger would refuse the run after it ran)",
     "name: \"n ${LATIN1}\"\ntarget: { base_url: \"http://127.0.0.1:1\" }\n" CHECK,
     env_latin1,
     1,
     7,
     {"not valid UTF-8 after ${...} expansion", "fix the variable's value"}},
    {"header not UTF-8 after expansion",
     "name: t\ntarget: { base_url: \"http://x\", headers: { X-A: \"${LATIN1}\" } }\n" CHECK,
     env_latin1,
     2,
     49,
     {"not valid UTF-8 after ${...} expansion"}},
    {"var not UTF-8 after expansion",
     HEAD CHECK "vars: { a: \"${LATIN1}\" }\n",
     env_latin1,
     6,
     12,
     {"not valid UTF-8 after ${...} expansion"}},
    {"merge key in a check",
     HEAD "checks:\n  - <<: { id: a }\n    run: x()\n",
     NULL,
     4,
     5,
     {"YAML merge keys ('<<') are not supported", "write the keys out in full"}},
    {"merge key in vars (would become a var named '<<')",
     HEAD CHECK "vars: { <<: { a: 1 } }\n",
     NULL,
     6,
     9,
     {"YAML merge keys ('<<') are not supported"}},
    {"unknown top-level key, near miss",
     HEAD "checkz: []\n",
     NULL,
     3,
     1,
     {"unknown key 'checkz' in the playbook", "did you mean 'checks'?", "allowed: name, target"}},
    {"unknown top-level key",
     HEAD CHECK "colour: red\n",
     NULL,
     6,
     1,
     {"unknown key 'colour'", "remove it or use one of: name, target, secrets, vars, checks, "
                              "signoffs, roles, gate, ledger"}},
    {"unknown check key",
     HEAD CHECK "    retry: 2\n",
     NULL,
     6,
     5,
     {"unknown key 'retry' in a check", "did you mean 'retries'?", "memory"}},
    {"unknown target key",
     "name: t\ntarget:\n  base_url: http://x\n  proxy: y\n" CHECK,
     NULL,
     4,
     3,
     {"unknown key 'proxy' in target", "base_url, timeout, headers"}},
    {"unknown gate key",
     HEAD CHECK "gate: { max_age: 1h }\n",
     NULL,
     6,
     9,
     {"unknown key 'max_age' in gate", "signoff_max_age"}},
    {"unknown sign-off key",
     HEAD CHECK "roles: { qa: [a] }\nsignoffs:\n  - { id: x, role: qa, "
                "txt: y }\n",
     NULL,
     8,
     24,
     {"unknown key 'txt' in a sign-off item", "did you mean 'text'?"}},
    {"timeout is a list",
     HEAD CHECK "    timeout: [1]\n",
     NULL,
     6,
     14,
     {"'timeout' must be a duration", "got a list", "10s"}},
    {"retries is a quoted string",
     HEAD CHECK "    retries: \"x\"\n",
     NULL,
     6,
     14,
     {"'retries' must be an integer from 0 to 10", "got a string"}},
    {"retries out of range",
     HEAD CHECK "    retries: 11\n",
     NULL,
     6,
     14,
     {"'retries' must be from 0 to 10", "got 11"}},
    {"retries negative", HEAD CHECK "    retries: -1\n", NULL, 6, 14, {"got -1"}},
    {"checks is a mapping",
     HEAD "checks: {}\n",
     NULL,
     3,
     9,
     {"'checks' must be a list", "got a mapping", "- id: NAME"}},
    {"checks is empty", HEAD "checks: []\n", NULL, 3, 9, {"'checks' is empty", "at least one"}},
    {"checks missing", HEAD, NULL, 1, 1, {"missing required key 'checks'"}},
    {"name missing",
     "target: { base_url: \"http://x\" }\n" CHECK,
     NULL,
     1,
     1,
     {"missing required key 'name'"}},
    {"name is empty",
     "name: ''\ntarget: { base_url: \"http://x\" }\n" CHECK,
     NULL,
     1,
     7,
     {"'name' is empty"}},
    {"target missing", "name: t\n" CHECK, NULL, 1, 1, {"missing required key 'target'"}},
    {"base_url missing",
     "name: t\ntarget: { timeout: 5s }\n" CHECK,
     NULL,
     2,
     9,
     {"target is missing 'base_url'"}},
    {"check not a mapping",
     HEAD "checks:\n  - just-an-id\n",
     NULL,
     4,
     5,
     {"a check must be a mapping", "got a string"}},
    {"check without id",
     HEAD "checks:\n  - run: x()\n",
     NULL,
     4,
     5,
     {"check #1 has no 'id'", "add id: NAME"}},
    {"duplicate check id",
     HEAD CHECK "  - id: a\n    run: y()\n",
     NULL,
     6,
     9,
     {"duplicate check id 'a'", "first at line 4", "its own id"}},
    {"malformed check id",
     HEAD "checks:\n  - id: Bad Id\n    run: x()\n",
     NULL,
     4,
     9,
     {"check id 'Bad Id'", "lowercase letters, digits", "e.g. 'bad-id'"}},
    {"script and run",
     HEAD "checks:\n  - id: a\n    script: s.lua\n    run: x()\n",
     NULL,
     6,
     5,
     {"check 'a' has both script: and run:", "keep only one"}},
    {"neither script nor run",
     HEAD "checks:\n  - id: a\n    title: t\n",
     NULL,
     4,
     5,
     {"check 'a' has neither script: nor run:", "add script: PATH or run:"}},
    {"run is a list",
     HEAD "checks:\n  - id: a\n    run: [x]\n",
     NULL,
     5,
     10,
     {"'run' must be Lua source text", "got a list"}},
    {"run is empty",
     HEAD "checks:\n  - id: a\n    run: |\n\n  - id: b\n    run: x()\n",
     NULL,
     5,
     10,
     {"'run' is empty", "Lua code"}},
    {"script is empty",
     HEAD "checks:\n  - id: a\n    script: ''\n",
     NULL,
     5,
     13,
     {"'script' is empty"}},
    {"bad tag",
     HEAD CHECK "    tags: [smoke, Smoke Test]\n",
     NULL,
     6,
     19,
     {"tag 'Smoke Test'", "e.g. 'smoke-test'"}},
    {"tags not a list", HEAD CHECK "    tags: smoke\n", NULL, 6, 11, {"'tags' must be a list"}},
    {"with not a mapping",
     HEAD CHECK "    with: [1]\n",
     NULL,
     6,
     11,
     {"'with' must be a mapping", "got a list"}},
    {"duplicate key inside with",
     HEAD CHECK "    with: { a: 1, a: 2 }\n",
     NULL,
     6,
     19,
     {"duplicate key 'a'", "keep only one"}},
    {"memory too small",
     HEAD CHECK "    memory: 512KiB\n",
     NULL,
     6,
     13,
     {"'memory' is 512KiB, below the 1MiB minimum"}},
    {"memory unit unknown",
     HEAD CHECK "    memory: 64MB\n",
     NULL,
     6,
     13,
     {"'memory' is not a valid size: '64MB'", "64MiB"}},
    {"memory overflows",
     HEAD CHECK "    memory: 99999999999999999999GiB\n",
     NULL,
     6,
     13,
     {"not a valid size"}},
    {"unset secret",
     HEAD "secrets:\n  tm_token: TM_TOKEN\n" CHECK,
     NULL,
     4,
     3,
     {"secret 'tm_token' needs the environment variable TM_TOKEN, which is not set; export it "
      "or run with TM_TOKEN=... uatrun ..."}},
    {"secret too short to mask",
     HEAD "secrets:\n  tm_token: TM_TOKEN\n" CHECK,
     env_short_token,
     4,
     3,
     {"secret 'tm_token' from TM_TOKEN is 3 characters long: too short to hide in output",
      "at least 4 characters"}},
    {"empty secret",
     HEAD "secrets:\n  tm_token: TM_TOKEN\n" CHECK,
     env_empty_token,
     4,
     3,
     {"secret 'tm_token' needs the environment variable TM_TOKEN, which is empty"}},
    {"secret name not an identifier",
     HEAD "secrets: { tm-token: TM_TOKEN }\n" CHECK,
     env_token,
     3,
     12,
     {"secret name 'tm-token' must be an identifier", "secrets.NAME"}},
    {"secret env not a variable name",
     HEAD "secrets: { tm: \"Bearer abc\" }\n" CHECK,
     NULL,
     3,
     16,
     {"secret 'tm' must name an environment variable", "not hold a value"}},
    {"unset ${VAR}",
     "name: ${PROJECT_NAME}\ntarget: { base_url: \"http://x\" }\n" CHECK,
     NULL,
     1,
     7,
     {"environment variable 'PROJECT_NAME' is not set", "export PROJECT_NAME=...",
      "${PROJECT_NAME:-default}"}},
    {"unset ${VAR} in with",
     HEAD CHECK "    with: { u: \"${NOPE}/x\" }\n",
     NULL,
     6,
     16,
     {"'NOPE' is not set"}},
    {"unterminated ${",
     HEAD CHECK "    title: \"cost ${X\"\n",
     NULL,
     6,
     12,
     {"unterminated '${'", "close it with '}'"}},
    {"bad duration unit",
     "name: t\ntarget:\n  base_url: http://x\n  timeout: 1x\n" CHECK,
     NULL,
     4,
     12,
     {"'timeout' is not a valid duration: '1x'", "500ms, 10s"}},
    {"zero duration",
     HEAD CHECK "    timeout: 0\n",
     NULL,
     6,
     14,
     {"'timeout' is not a valid duration: '0'", "more than zero"}},
    {"bad signoff_max_age",
     HEAD CHECK "gate:\n  signoff_max_age: soon\n",
     NULL,
     7,
     20,
     {"'signoff_max_age' is not a valid duration: 'soon'"}},
    {"distinct_signers yes",
     HEAD CHECK "gate: { distinct_signers: yes }\n",
     NULL,
     6,
     27,
     {"'distinct_signers' must be true or false", "got a string"}},
    {"unknown role in signoffs",
     HEAD CHECK "roles:\n  support: [ann]\nsignoffs:\n  - id: briefed\n    role: suport\n",
     NULL,
     10,
     11,
     {"unknown role 'suport'; add it under roles: or fix the name"}},
    {"signoff without roles",
     HEAD CHECK "signoffs:\n  - { id: x, role: qa }\n",
     NULL,
     7,
     20,
     {"unknown role 'qa'"}},
    {"signoff without role",
     HEAD CHECK "signoffs:\n  - id: x\n",
     NULL,
     7,
     5,
     {"sign-off item 'x' has no 'role'"}},
    {"duplicate signoff id",
     HEAD CHECK "roles: { qa: [a] }\nsignoffs:\n  - { id: x, role: qa }\n  - { id: x, role: qa }\n",
     NULL,
     9,
     11,
     {"duplicate sign-off id 'x'", "first at line 8"}},
    {"role without members",
     HEAD CHECK "roles:\n  support: []\n",
     NULL,
     7,
     12,
     {"role 'support' has no members", "support: [alice]"}},
    {"role member empty",
     HEAD CHECK "roles:\n  support: [ann, '']\n",
     NULL,
     7,
     18,
     {"role 'support' has an empty member"}},
    {"duplicate mapping key",
     "name: a\nname: b\n",
     NULL,
     2,
     1,
     {"duplicate key 'name' in the playbook", "first at line 1", "keep only one"}},
    {"bad header name",
     "name: t\ntarget:\n  base_url: http://x\n  headers: { \"Bad Header\": x }\n" CHECK,
     NULL,
     4,
     14,
     {"header name 'Bad Header' is not a valid HTTP header name"}},
    {"header value is a list",
     "name: t\ntarget:\n  base_url: http://x\n  headers: { X-A: [1] }\n" CHECK,
     NULL,
     4,
     19,
     {"'X-A' must be a string", "got a list"}},
    {"header given twice",
     "name: t\ntarget:\n  base_url: http://x\n  headers: { x-a: 1, X-A: 2 }\n" CHECK,
     NULL,
     4,
     22,
     {"header 'X-A' is given twice (as 'x-a')"}},
    {"anchor", HEAD CHECK "vars: &v { a: 1 }\n", NULL, 6, 7, {"YAML anchors ('&v')"}},
    {"alias", HEAD CHECK "vars: { b: *x }\n", NULL, 6, 12, {"YAML aliases ('*x')"}},
    {"explicit tag",
     HEAD CHECK "vars: { a: !!str 42 }\n",
     NULL,
     6,
     12,
     {"YAML tags ('!!str')", "quote a value"}},
    {"second document", HEAD CHECK "---\nname: again\n", NULL, 6, 1, {"a second YAML document"}},
    {"infinity in vars",
     HEAD CHECK "vars: { x: .inf }\n",
     NULL,
     6,
     12,
     {"number '.inf' cannot be stored in JSON", "quote it"}},
    {"huge integer in vars",
     HEAD CHECK "vars: { x: 99999999999999999999 }\n",
     NULL,
     6,
     12,
     {"integer '99999999999999999999' is too large"}},
    {"vars not a mapping", HEAD CHECK "vars: [1]\n", NULL, 6, 7, {"'vars' must be a mapping"}},
    {"mapping as a key",
     HEAD CHECK "vars:\n  ? [a]\n  : b\n",
     NULL,
     7,
     5,
     {"keys must be plain names"}},
    {"NUL in a value", "name: \"a\\0b\"\n", NULL, 1, 7, {"NUL character"}},
    {"ledger empty", HEAD CHECK "ledger: ''\n", NULL, 6, 9, {"'ledger' is empty"}},
    {"invalid UTF-8", HEAD "# \xff\xfe\n" CHECK, NULL, 3, 3, {"invalid YAML", "UTF-8"}},
    {"unclosed quote", "name: \"abc\n", NULL, 2, 1, {"invalid YAML", "quoted scalar"}},
    /* target.build */
    {"build is a list",
     BUILD "[a]\n" CHECK,
     NULL,
     4,
     10,
     {"'build' must be a mapping", "got a list", "url: /api/version"}},
    {"build is empty", BUILD "\n" CHECK, NULL, 4, 9, {"'build' is empty", "url:"}},
    {"build without url",
     BUILD "{ json: version }\n" CHECK,
     NULL,
     4,
     10,
     {"target.build is missing 'url'", "url: /api/version"}},
    {"build key misspelt",
     BUILD "{ url: /v, expected: v1 }\n" CHECK,
     NULL,
     4,
     21,
     {"unknown key 'expected' in target.build", "did you mean 'expect'?",
      "url, json, expect, wait, interval"}},
    {"build key twice",
     BUILD "{ url: /v, url: /w }\n" CHECK,
     NULL,
     4,
     21,
     {"duplicate key 'url' in target.build"}},
    {"build url empty", BUILD "{ url: '' }\n" CHECK, NULL, 4, 17, {"'url' is empty"}},
    {"build url a list", BUILD "{ url: [a] }\n" CHECK, NULL, 4, 17, {"'url' must be a string"}},
    {"build url with a space",
     BUILD "{ url: \"/api/ver sion\" }\n" CHECK,
     NULL,
     4,
     17,
     {"'url' contains white space", "%20"}},
    {"build url names an unset variable",
     BUILD "{ url: \"${NOPE}/v\" }\n" CHECK,
     NULL,
     4,
     17,
     {"environment variable 'NOPE' is not set"}},
    {"build wait not a duration",
     BUILD "{ url: /v, wait: soon }\n" CHECK,
     NULL,
     4,
     27,
     {"'wait' is not a valid duration: 'soon'", "2m"}},
    {"build wait a list",
     BUILD "{ url: /v, wait: [1] }\n" CHECK,
     NULL,
     4,
     27,
     {"'wait' must be a duration", "got a list"}},
    {"build interval zero",
     BUILD "{ url: /v, interval: 0 }\n" CHECK,
     NULL,
     4,
     31,
     {"'interval' is not a valid duration: '0'", "more than zero"}},
    {"build json empty", BUILD "{ url: /v, json: '' }\n" CHECK, NULL, 4, 27, {"'json' is empty"}},
    {"build json with an empty name",
     BUILD "{ url: /v, json: release..version }\n" CHECK,
     NULL,
     4,
     27,
     {"not a usable field path: 'release..version'", "empty name", "/release/version"}},
    {"build json pointer with a bare ~",
     BUILD "{ url: /v, json: /a~2b }\n" CHECK,
     NULL,
     4,
     27,
     {"not a usable field path: '/a~2b'", "~0", "~1"}},
    {"build json a mapping",
     BUILD "{ url: /v, json: { a: b } }\n" CHECK,
     NULL,
     4,
     27,
     {"'json' must be a string", "got a mapping"}},
    {"build expect empty",
     BUILD "{ url: /v, expect: '' }\n" CHECK,
     NULL,
     4,
     29,
     {"'expect' is empty", "${UATRUN_RELEASE}"}},
    {"build expect a bad reference",
     BUILD "{ url: /v, expect: \"${1X}\" }\n" CHECK,
     NULL,
     4,
     29,
     {"'${1X}' is not a valid reference"}},
    {"build expect a list",
     BUILD "{ url: /v, expect: [v1] }\n" CHECK,
     NULL,
     4,
     29,
     {"'expect' must be a string", "got a list"}},
};

static void run_bad_case(void **state) {
  const struct bad_case *c = *state;
  struct scratch s;
  scratch_open(&s, c->yaml);
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, c->env, &err);
  if (pb)
    fail_msg("case '%s' loaded but should fail", c->name);
  assert_error_at(&err, s.path, c->line, c->col, c->words);
  scratch_close(&s);
}

/* ---- broken fixture files ---- */

static void test_tab_indentation(void **state) {
  struct uat_error err;
  const char *path = PLAYBOOKS "/bad_tab_indent.yml";
  assert_null(load_with(path, NULL, &err));
  assert_error_at(&err, path, 3, 1,
                  (const char *const[]){"invalid YAML",
                                        "found character that cannot start any token", "tabs",
                                        "use spaces", NULL});
}

static void test_unclosed_bracket(void **state) {
  struct uat_error err;
  const char *path = PLAYBOOKS "/bad_unclosed_bracket.yml";
  assert_null(load_with(path, NULL, &err));
  assert_error_at(&err, path, 6, 8,
                  (const char *const[]){"invalid YAML", "did not find expected ',' or ']'",
                                        "while parsing a flow sequence at line 5, column 11",
                                        "bracket", NULL});
}

static void test_missing_script_file(void **state) {
  struct uat_error err;
  const char *path = PLAYBOOKS "/bad_missing_script.yml";
  char *dir = realpath(PLAYBOOKS, NULL);
  assert_non_null(dir);
  char looked[PATH_MAX + 64];
  snprintf(looked, sizeof looked, "(looked in %s/checklists/does_not_exist.lua)", dir);
  assert_null(load_with(path, NULL, &err));
  assert_error_at(&err, path, 5, 13,
                  (const char *const[]){"script 'checklists/does_not_exist.lua' not found", looked,
                                        "fix the path, relative to the playbook", NULL});
  free(dir);
}

static void test_unreadable_paths(void **state) {
  struct uat_error err;
  assert_null(load_with(PLAYBOOKS "/no-such-playbook.yml", NULL, &err));
  assert_contains(err.text, "cannot read '" PLAYBOOKS "/no-such-playbook.yml'");
  assert_contains(err.text, "No such file or directory; check the playbook path");
  assert_null(load_with(PLAYBOOKS, NULL, &err));
  assert_contains(err.text, "is a folder; pass the playbook file itself");
  assert_null(uat_playbook_load(NULL, NULL, &err));
  assert_contains(err.text, "no playbook given");
  /* An endless file is refused at the cap, not read until memory runs out. */
  assert_null(load_with("/dev/zero", NULL, &err));
  assert_contains(err.text, "cannot read '/dev/zero': larger than 16777216 bytes");
  assert_contains(err.text, "at most 16 MiB");
}

/* A secret's value must never reach an error, even when the text would otherwise quote it. */
static void test_secret_value_never_in_errors(void **state) {
  static const char *const env[] = {"TM_TOKEN=zz-leaked-token", NULL};
  struct scratch s;
  scratch_open(&s, HEAD "secrets: { tm_token: TM_TOKEN }\n" CHECK "    zz-leaked-token: 1\n");
  struct uat_error err;
  assert_null(load_with(s.path, env, &err));
  assert_null(strstr(err.text, "zz-leaked-token"));
  assert_error_at(&err, s.path, 7, 5, (const char *const[]){"unknown key '***' in a check", NULL});
  scratch_close(&s);

  scratch_open(&s, HEAD "secrets: { tm_token: TM_TOKEN }\n" CHECK "    retries: nope\n");
  assert_null(load_with(s.path, env, &err));
  assert_null(strstr(err.text, "zz-leaked-token"));
  assert_contains(err.text, "'retries' must be an integer");
  scratch_close(&s);
}

/* ---- the contract's example, field by field ---- */

static void test_valid_playbook(void **state) {
  static const char *const env[] = {"TM_TOKEN=tok-123", "RELEASE=4.6.2", NULL};
  struct uat_error err;
  const char *path = PLAYBOOKS "/valid.yml";
  struct uat_playbook *pb = load_with(path, env, &err);
  if (!pb)
    fail_msg("%s", err.text);
  char *dir = realpath(PLAYBOOKS, NULL);
  assert_non_null(dir);
  char buf[PATH_MAX + 64];

  assert_string_equal(pb->path, path);
  assert_string_equal(pb->dir, dir);
  assert_string_equal(pb->name, "Tasking Manager staging UAT");
  assert_string_equal(pb->base_url, "http://127.0.0.1:8080");
  assert_true(pb->timeout_s == 10.0);
  assert_int_equal(pb->nheaders, 2);
  assert_string_equal(pb->headers[0].name, "Accept-Language");
  assert_string_equal(pb->headers[0].value, "en");
  assert_string_equal(pb->headers[1].name, "X-Release");
  assert_string_equal(pb->headers[1].value, "4.6.2");

  assert_int_equal(pb->nsecrets, 1);
  assert_string_equal(pb->secrets[0].name, "tm_token");
  assert_string_equal(pb->secrets[0].env, "TM_TOKEN");
  assert_string_equal(pb->secrets[0].value, "tok-123");

  char *vars = json_dumps(pb->vars, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(vars, "{\"enabled\":true,\"home\":\"/home\",\"list\":[1,\"two\",31],"
                            "\"nested\":{\"a\":{\"b\":\"c\"}},\"nothing\":null,"
                            "\"private_project\":42,\"quoted\":\"42\",\"ratio\":0.5}");
  free(vars);

  assert_int_equal(pb->nchecks, 3);
  const struct uat_check *c = &pb->checks[0];
  assert_string_equal(c->id, "private-project-with-token");
  assert_string_equal(c->title, "Authorised user can open a private project");
  snprintf(buf, sizeof buf, "%s/checklists/project_access.lua", dir);
  assert_string_equal(c->script_path, buf);
  /* Named from the folder uatrun runs in, so errors point at a file the user can open. */
  assert_string_equal(c->chunk_name, PLAYBOOKS "/checklists/project_access.lua");
  assert_non_null(
      strstr(c->source, "expect.status(r, 200, \"private project opens with a token\")"));
  assert_int_equal(c->source_line_offset, 0);
  char *params = json_dumps(c->params, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(params, "{\"project\":42,\"token\":\"tm_token\",\"url\":\"none/x\"}");
  free(params);
  assert_int_equal(c->ntags, 2);
  assert_string_equal(c->tags[0], "auth");
  assert_string_equal(c->tags[1], "hotfix");
  assert_true(c->timeout_s == 30.0);
  assert_int_equal(c->retries, 1);
  assert_int_equal(c->memory_cap, UAT_DEFAULT_MEMORY_CAP);
  assert_int_equal(c->line, 19);
  assert_int_equal(c->col, 5);

  c = &pb->checks[1];
  assert_string_equal(c->id, "inline.smoke_1");
  assert_string_equal(c->title, "inline.smoke_1");
  assert_null(c->script_path);
  /* Lua source is kept verbatim: ${...} in it is Lua's business, not expanded. */
  assert_string_equal(c->source, "local r = http.get(\"/api/v2/system/heartbeat/\")\n"
                                 "expect.status(r, 200, \"heartbeat ${not expanded}\")\n");
  snprintf(buf, sizeof buf, "%s:27", path);
  assert_string_equal(c->chunk_name, buf);
  assert_int_equal(c->source_line_offset, 27); /* Lua line 1 is playbook line 28 */
  assert_int_equal(json_object_size(c->params), 0);
  assert_int_equal(c->ntags, 0);
  assert_true(c->timeout_s == 10.0);
  assert_int_equal(c->retries, 0);
  assert_int_equal(c->memory_cap, (size_t)128 * 1024 * 1024);

  c = &pb->checks[2];
  assert_string_equal(c->id, "one-liner");
  assert_string_equal(c->title, "One line");
  assert_string_equal(c->source, "expect.truthy(true, \"ok\")");
  snprintf(buf, sizeof buf, "%s:33", path);
  assert_string_equal(c->chunk_name, buf);
  assert_int_equal(c->source_line_offset, 32); /* the code is on the run: line itself */

  assert_int_equal(pb->nsignoffs, 2);
  assert_string_equal(pb->signoffs[0].id, "support-briefed");
  assert_string_equal(pb->signoffs[0].role, "support");
  assert_string_equal(pb->signoffs[0].text,
                      "Support knows what moved in this release and how to answer users");
  assert_int_equal(pb->signoffs[0].line, 35);
  assert_int_equal(pb->signoffs[0].col, 5);
  assert_string_equal(pb->signoffs[1].id, "product-ok");
  assert_string_equal(pb->signoffs[1].text, "product-ok");

  assert_int_equal(pb->nroles, 2);
  assert_string_equal(pb->roles[0].name, "support");
  assert_int_equal(pb->roles[0].nmembers, 2);
  assert_string_equal(pb->roles[0].members[0], "nesserine");
  assert_string_equal(pb->roles[0].members[1], "myriam");
  assert_string_equal(pb->roles[1].name, "product");
  assert_int_equal(pb->roles[1].nmembers, 1);
  assert_string_equal(pb->roles[1].members[0], "matis");

  assert_true(pb->signoff_max_age_s == 48 * 3600.0);
  assert_true(pb->distinct_signers);
  snprintf(buf, sizeof buf, "%s/.uatrun/ledger.db", dir);
  assert_string_equal(pb->ledger_path, buf);

  assert_ptr_equal(uat_playbook_find_check(pb, "one-liner"), &pb->checks[2]);
  assert_null(uat_playbook_find_check(pb, "one"));
  assert_null(uat_playbook_find_check(pb, NULL));
  assert_ptr_equal(uat_playbook_find_role(pb, "product"), &pb->roles[1]);
  assert_null(uat_playbook_find_role(pb, "Product"));
  assert_true(uat_check_has_tag(&pb->checks[0], "hotfix"));
  assert_false(uat_check_has_tag(&pb->checks[0], "hot"));
  assert_false(uat_check_has_tag(&pb->checks[1], "auth"));
  assert_true(uat_role_has_member(&pb->roles[0], "myriam"));
  assert_false(uat_role_has_member(&pb->roles[0], "matis"));
  assert_false(uat_role_has_member(NULL, "matis"));

  free(dir);
  uat_playbook_free(pb);
}

static void test_environment_overrides_defaults(void **state) {
  static const char *const env[] = {"TM_TOKEN=tok-value", "RELEASE=r",
                                    "STAGING_URL=https://staging.test", NULL};
  struct uat_error err;
  struct uat_playbook *pb = load_with(PLAYBOOKS "/valid.yml", env, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_string_equal(pb->base_url, "https://staging.test");
  assert_string_equal(json_string_value(json_object_get(pb->checks[0].params, "url")),
                      "https://staging.test/x");
  uat_playbook_free(pb);
}

static void test_defaults(void **state) {
  struct scratch s;
  scratch_open(&s, "name: minimal\ntarget:\n  base_url: http://x\n  timeout: 5s\n"
                   "vars:\nsignoffs:\nroles:\ngate:\n" CHECK);
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  char buf[256];
  char *dir = realpath(s.dir, NULL);
  assert_string_equal(pb->dir, dir);
  snprintf(buf, sizeof buf, "%s/.uatrun/ledger.db", dir);
  assert_string_equal(pb->ledger_path, buf);
  assert_true(pb->timeout_s == 5.0);
  assert_true(pb->checks[0].timeout_s == 5.0); /* inherits target.timeout */
  assert_int_equal(pb->checks[0].retries, 0);
  assert_int_equal(pb->checks[0].memory_cap, UAT_DEFAULT_MEMORY_CAP);
  assert_string_equal(pb->checks[0].title, "a");
  assert_true(json_is_object(pb->vars) && json_object_size(pb->vars) == 0);
  assert_true(json_is_object(pb->checks[0].params));
  assert_true(pb->signoff_max_age_s == UAT_DEFAULT_SIGNOFF_MAX_AGE_S);
  assert_false(pb->distinct_signers);
  assert_int_equal(pb->nheaders + pb->nsecrets + pb->nsignoffs + pb->nroles, 0);
  free(dir);
  uat_playbook_free(pb);
  scratch_close(&s);
}

static void test_sizes_paths_and_missing_secrets(void **state) {
  struct scratch s;
  scratch_open(&s, "name: n\ntarget: { base_url: http://x }\nsecrets: { k: UNSET_KEY }\n"
                   "ledger: /var/tmp/uat.db\n"
                   "checks:\n  - { id: a, run: x(), memory: 2097152 }\n"
                   "  - { id: b, run: x(), memory: 1GiB, timeout: 1h30m, retries: 10 }\n");
  struct uat_playbook_options opts = {.getenv_fn = fake_getenv, .allow_missing_secrets = true};
  struct uat_error err;
  struct uat_playbook *pb = uat_playbook_load(s.path, &opts, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_string_equal(pb->ledger_path, "/var/tmp/uat.db");
  assert_string_equal(pb->secrets[0].env, "UNSET_KEY");
  assert_null(pb->secrets[0].value);
  assert_int_equal(pb->checks[0].memory_cap, (size_t)2 * 1024 * 1024);
  assert_int_equal(pb->checks[1].memory_cap, (size_t)1024 * 1024 * 1024);
  assert_true(pb->checks[1].timeout_s == 5400.0);
  assert_int_equal(pb->checks[1].retries, 10);
  uat_playbook_free(pb);
  scratch_close(&s);
}

static void test_process_environment_when_no_getenv(void **state) {
  struct scratch s;
  scratch_open(&s, "name: ${UAT_TEST_PB_NAME}\ntarget: { base_url: http://x }\n" CHECK);
  assert_int_equal(setenv("UAT_TEST_PB_NAME", "from env", 1), 0);
  struct uat_error err;
  struct uat_playbook *pb = uat_playbook_load(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_string_equal(pb->name, "from env");
  uat_playbook_free(pb);
  assert_int_equal(unsetenv("UAT_TEST_PB_NAME"), 0);
  assert_null(uat_playbook_load(s.path, NULL, &err));
  assert_contains(err.text, "'UAT_TEST_PB_NAME' is not set");
  scratch_close(&s);
}

static void test_set_var(void **state) {
  struct scratch s;
  scratch_open(&s, HEAD "vars: { project: 42, url: none, empty: x }\n" CHECK);
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_int_equal(uat_playbook_set_var(pb, "project=7", &err), 0);
  assert_string_equal(json_string_value(json_object_get(pb->vars, "project")), "7");
  assert_int_equal(uat_playbook_set_var(pb, "url=http://a/?x=1", &err), 0);
  assert_string_equal(json_string_value(json_object_get(pb->vars, "url")), "http://a/?x=1");
  assert_int_equal(uat_playbook_set_var(pb, "empty=", &err), 0);
  assert_string_equal(json_string_value(json_object_get(pb->vars, "empty")), "");
  static const char *const bad[] = {"novalue", "=x", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "--var expects KEY=VALUE, got '%s'", bad[i]);
    assert_int_equal(uat_playbook_set_var(pb, bad[i], &err), -1);
    assert_string_equal(err.text, want);
  }
  assert_int_equal(uat_playbook_set_var(pb, "project=\xff", &err), -1);
  assert_contains(err.text, "not valid UTF-8");
  /* a name the playbook does not declare: a typo, refused rather than added */
  assert_int_equal(uat_playbook_set_var(pb, "projet=7", &err), -1);
  assert_string_equal(err.text,
                      "--var projet: the playbook has no var 'projet' (its vars: project, "
                      "url, empty); fix the name, or declare it under vars: with a default");
  assert_int_equal(json_object_size(pb->vars), 3);
  uat_playbook_free(pb);
  scratch_close(&s);
}

/* A playbook in the current folder keeps its script names as written. */
static void test_script_name_from_current_folder(void **state) {
  char here[PATH_MAX];
  assert_non_null(getcwd(here, sizeof here));
  assert_int_equal(chdir(PLAYBOOKS), 0);
  struct uat_error err;
  static const char *const env[] = {"TM_TOKEN=tok-123", "RELEASE=4.6.2", NULL};
  struct uat_playbook *pb = load_with("valid.yml", env, &err);
  assert_int_equal(chdir(here), 0);
  if (!pb)
    fail_msg("%s", err.text);
  assert_string_equal(pb->checks[0].chunk_name, "checklists/project_access.lua");
  uat_playbook_free(pb);
}

/* Where inline Lua starts, so the sandbox can map Lua line numbers back to the playbook. */
static void test_inline_run_positions(void **state) {
  struct scratch s;
  scratch_open(&s, HEAD "checks:\n"
                        "  - id: block\n"
                        "    run: |   # a comment after the indicator\n"
                        "\n"
                        "      x()\n"
                        "  - id: quoted\n"
                        "    run:\n"
                        "      \"y()\"\n");
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  char want[256];
  snprintf(want, sizeof want, "%s:5", s.path);
  assert_string_equal(pb->checks[0].chunk_name, want);
  assert_string_equal(pb->checks[0].source, "\nx()\n");
  assert_int_equal(pb->checks[0].source_line_offset, 5); /* Lua line 2, "x()", is line 7 */
  snprintf(want, sizeof want, "%s:9", s.path);
  assert_string_equal(pb->checks[1].chunk_name, want);
  assert_string_equal(pb->checks[1].source, "y()");
  assert_int_equal(pb->checks[1].source_line_offset, 9); /* the text is on line 10 */
  uat_playbook_free(pb);
  scratch_close(&s);
}

/* Deeply nested values are refused with a message, not a crash. */
static void test_deep_nesting(void **state) {
  enum { DEPTH = 100000 };
  size_t head = strlen(HEAD CHECK "vars: { x: ");
  char *yaml = malloc(head + 2 * DEPTH + 4);
  assert_non_null(yaml);
  memcpy(yaml, HEAD CHECK "vars: { x: ", head);
  memset(yaml + head, '[', DEPTH);
  memset(yaml + head + DEPTH, ']', DEPTH);
  memcpy(yaml + head + 2 * DEPTH, " }\n", 4);
  struct scratch s;
  scratch_open(&s, yaml);
  free(yaml);
  struct uat_error err;
  assert_null(load_with(s.path, NULL, &err));
  assert_contains(err.text, "nested more than 64 levels");
  scratch_close(&s);
}

/* libyaml takes a NUL byte for the end of the file: what follows it must not be ignored. */
static void test_nul_byte(void **state) {
  static const char yaml[] = HEAD "checks:\n  - id: a\n    run: x()\0\n  - id: a\n    bogus: 1\n";
  struct scratch s;
  scratch_open_bytes(&s, yaml, sizeof yaml - 1);
  struct uat_error err;
  assert_null(load_with(s.path, NULL, &err));
  assert_error_at(&err, s.path, 5, 13,
                  (const char *const[]){"contains a NUL byte", "UTF-8 text", NULL});
  scratch_close(&s);
}

/* A script saved with a UTF-8 byte-order mark is Lua text all the same, as for `lua FILE`. */
static void test_script_byte_order_mark(void **state) {
  struct scratch s;
  scratch_open(&s, HEAD "checks:\n  - id: a\n    script: bom.lua\n");
  char script[160];
  snprintf(script, sizeof script, "%s/bom.lua", s.dir);
  FILE *f = fopen(script, "wb");
  assert_non_null(f);
  assert_int_equal(fputs("\xEF\xBB\xBF"
                         "expect.truthy(true)\n",
                         f) >= 0,
                   1);
  assert_int_equal(fclose(f), 0);
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_string_equal(pb->checks[0].source, "expect.truthy(true)\n");
  uat_playbook_free(pb);
  assert_int_equal(unlink(script), 0);
  scratch_close(&s);
}

/* Many checks load quickly; ids stay unique-checked across all of them. */
static void test_many_checks(void **state) {
  enum { N = 2000 };
  char *yaml = malloc(64 + (size_t)N * 64);
  assert_non_null(yaml);
  size_t len = (size_t)snprintf(yaml, 64, "%s", HEAD "checks:\n");
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(yaml + len, 64, "  - { id: c%d, run: x(), tags: [t%d] }\n", i, i % 7);
  struct scratch s;
  scratch_open(&s, yaml);
  free(yaml);
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_int_equal(pb->nchecks, N);
  assert_ptr_equal(uat_playbook_find_check(pb, "c1999"), &pb->checks[1999]);
  assert_true(uat_check_has_tag(&pb->checks[13], "t6"));
  uat_playbook_free(pb);
  scratch_close(&s);
}

static void test_free_null(void **state) {
  uat_playbook_free(NULL);
  assert_null(uat_playbook_find_role(NULL, "x"));
  assert_false(uat_check_has_tag(NULL, "x"));
}

/* target.build as parsed, its defaults, and expect: expanded when the wait starts. */
static void test_notify(void **state) {
  (void)state;
  struct scratch s;
  scratch_open(&s, HEAD CHECK "notify:\n"
                              "  page_url: \"${PAGE:-}\"\n"
                              "  timeout: 3s\n"
                              "  webhooks:\n"
                              "    - { type: slack, url: \"${H}\" }\n"
                              "    - { type: teams, url: \"${OFF:-}\", on: [open, failed] }\n"
                              "    - type: json\n"
                              "      url: \"${H}/json\"\n"
                              "      on: [blocked]\n");
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, env_hook, &err);
  if (!pb)
    fail_msg("%s", err.text);
  const struct uat_notify *nf = &pb->notify;
  assert_null(nf->page_url); /* empty: no page */
  assert_true(nf->timeout_s == 3);
  assert_int_equal(nf->nwebhooks, 3);
  assert_int_equal(nf->webhooks[0].type, UAT_WEBHOOK_SLACK);
  assert_string_equal(nf->webhooks[0].url, "http://127.0.0.1:9/T0KEN");
  assert_int_equal(nf->webhooks[0].on, UAT_NOTIFY_DEFAULT_ON);
  assert_int_equal(nf->webhooks[1].type, UAT_WEBHOOK_TEAMS);
  assert_string_equal(nf->webhooks[1].url, ""); /* off */
  assert_int_equal(nf->webhooks[1].on, UAT_NOTIFY_OPEN | UAT_NOTIFY_FAILED);
  assert_int_equal(nf->webhooks[2].on, UAT_NOTIFY_BLOCKED);
  assert_int_equal(nf->webhooks[2].line, 12);
  assert_string_equal(uat_webhook_type_name(nf->webhooks[2].type), "json");
  uat_playbook_free(pb);
  scratch_close(&s);

  scratch_open(&s, HEAD CHECK);
  pb = load_with(s.path, NULL, &err);
  assert_non_null(pb);
  assert_int_equal(pb->notify.nwebhooks, 0);
  assert_true(pb->notify.timeout_s == UAT_DEFAULT_NOTIFY_TIMEOUT_S);
  uat_playbook_free(pb);
  scratch_close(&s);
}

static void test_build_target(void **state) {
  (void)state;
  struct scratch s;
  scratch_open(&s, "name: t\n"
                   "target:\n"
                   "  base_url: \"http://127.0.0.1:1\"\n"
                   "  build:\n"
                   "    url: \"/api/${WHERE}\"\n"
                   "    json: release.version\n"
                   "    expect: \"${UATRUN_RELEASE}+${UATRUN_COMMIT:-none}\"\n"
                   "    wait: 5m\n"
                   "    interval: 500ms\n" CHECK);
  static const char *const env[] = {"WHERE=version", NULL};
  struct uat_error err;
  struct uat_playbook *pb = load_with(s.path, env, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_true(pb->build.enabled);
  assert_string_equal(pb->build.url, "/api/version");
  assert_string_equal(pb->build.json, "release.version");
  assert_string_equal(pb->build.expect_raw, "${UATRUN_RELEASE}+${UATRUN_COMMIT:-none}");
  assert_true(pb->build.wait_s == 300);
  assert_true(pb->build.interval_s == 0.5);
  assert_int_equal(pb->build.line, 5);
  assert_int_equal(pb->build.col, 10);
  static const char *const identity[] = {"UATRUN_RELEASE=v4.6.3", NULL};
  char *v = uat_playbook_build_expect(pb, fake_getenv, (void *)identity, &err);
  assert_non_null(v);
  assert_string_equal(v, "v4.6.3+none");
  free(v);
  assert_null(uat_playbook_build_expect(pb, fake_getenv, NULL, &err));
  assert_error_at(
      &err, s.path, 7, 13,
      (const char *const[]){"target.build.expect", "'UATRUN_RELEASE' is not set", NULL});
  uat_playbook_free(pb);
  scratch_close(&s);

  scratch_open(&s, "name: t\ntarget:\n  base_url: \"http://127.0.0.1:1\"\n"
                   "  build: { url: /v, expect: \"${GONE:-}\" }\n" CHECK);
  pb = load_with(s.path, NULL, &err);
  if (!pb)
    fail_msg("%s", err.text);
  assert_null(pb->build.json); /* the whole body is the version */
  assert_true(pb->build.wait_s == 0);
  assert_true(pb->build.interval_s == UAT_DEFAULT_BUILD_INTERVAL_S);
  assert_null(uat_playbook_build_expect(pb, fake_getenv, NULL, &err));
  assert_error_at(&err, s.path, 4, 29,
                  (const char *const[]){"is empty after ${...} expansion", NULL});
  uat_playbook_free(pb);
  scratch_close(&s);

  scratch_open(&s, HEAD CHECK);
  pb = load_with(s.path, NULL, &err);
  assert_non_null(pb);
  assert_false(pb->build.enabled);
  uat_playbook_free(pb);
  scratch_close(&s);
}

int main(void) {
  enum { NBAD = sizeof bad_cases / sizeof bad_cases[0] };
  static const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_tab_indentation),
      cmocka_unit_test(test_unclosed_bracket),
      cmocka_unit_test(test_missing_script_file),
      cmocka_unit_test(test_unreadable_paths),
      cmocka_unit_test(test_secret_value_never_in_errors),
      cmocka_unit_test(test_valid_playbook),
      cmocka_unit_test(test_environment_overrides_defaults),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_sizes_paths_and_missing_secrets),
      cmocka_unit_test(test_process_environment_when_no_getenv),
      cmocka_unit_test(test_set_var),
      cmocka_unit_test(test_inline_run_positions),
      cmocka_unit_test(test_script_name_from_current_folder),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_many_checks),
      cmocka_unit_test(test_nul_byte),
      cmocka_unit_test(test_script_byte_order_mark),
      cmocka_unit_test(test_free_null),
      cmocka_unit_test(test_build_target),
      cmocka_unit_test(test_notify),
  };
  enum { NFIXED = sizeof fixed / sizeof fixed[0] };
  struct CMUnitTest tests[NFIXED + NBAD];
  memcpy(tests, fixed, sizeof fixed);
  for (size_t i = 0; i < NBAD; i++)
    tests[NFIXED + i] = (struct CMUnitTest){.name = bad_cases[i].name,
                                            .test_func = run_bad_case,
                                            .initial_state = (void *)&bad_cases[i]};
  return _cmocka_run_group_tests("playbook", tests, NFIXED + NBAD, NULL, NULL);
}
