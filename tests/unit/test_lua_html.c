/* html.parse, documents and nodes: soup, XPath queries, node lifetime, errors,
 * size. Rows are Lua snippets on a plain state with the html and json tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/html.h"
#include "check/lua_api.h"

#include <lauxlib.h>
#include <libxml/parser.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int setup(void **state) {
  lua_State *L = luaL_newstate();
  assert_non_null(L);
  luaL_openlibs(L);
  uat_lua_open_html(L);
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close(*state);
  return 0;
}

static const char *run_lua(lua_State *L, const char *code) {
  lua_settop(L, 0);
  if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK)
    return lua_tostring(L, -1) ? lua_tostring(L, -1) : "(non-string error)";
  return NULL;
}

/* The soup every row may use as `doc`. */
static const char soup[] =
    "local doc = html.parse([[<html><head><title> My  Tasks </title></head><body>\n"
    "<div id=main class='x'><p>first <b>bold</b>\n  text<p>second</p>\n"
    "</div></div></span><ul><li><a href='/p?page=2' DATA-X=1>Next</a><li><a href=/p?page=3>3"
    "</a></ul><img src=\"a.png\" alt='broken attr><p>after</p><!-- note --></body>]])\n";

struct lua_case {
  const char *name;
  const char *code;
  const char *error; /* NULL: must succeed */
};

static const struct lua_case cases[] = {
    {"title text is collapsed", "assert(doc:first('//title').text == 'My Tasks')", NULL},
    {"unclosed p tags", "assert(doc:count('//p') >= 2, doc:count('//p'))", NULL},
    {"xpath returns a list",
     "local links = doc:xpath('//a')\nassert(#links == 2)\n"
     "assert(links[1].name == 'a' and links[2].text == '3')",
     NULL},
    {"attr",
     "local a = doc:first('//a')\nassert(a:attr('href') == '/p?page=2')\n"
     "assert(a:attr('data-x') == '1' and a:attr('DATA-X') == '1')\n"
     "assert(a:attr('missing') == nil)",
     NULL},
    {"first nothing is nil", "assert(doc:first('//table') == nil)", NULL},
    {"count zero", "assert(doc:count('//table') == 0)", NULL},
    {"relative xpath from a node",
     "local div = doc:first('//div[@id=\"main\"]')\n"
     "assert(div:count('.//p') == 2, div:count('.//p'))\n"
     "assert(div:first('p/b').text == 'bold')\n"
     "assert(#div:xpath('//a') == 2)",
     NULL},
    {"text of nested nodes", "assert(doc:first('//div/p').text == 'first bold text')", NULL},
    {"value results",
     "assert(doc:xpath('count(//li)')[1] == '2')\n"
     "assert(doc:first('string(//title)') == ' My  Tasks ')\n"
     "assert(doc:xpath('boolean(//table)')[1] == 'false')",
     NULL},
    {"attribute and text nodes",
     "local h = doc:first('//a/@href')\n"
     "assert(h.name == 'href' and h.text == '/p?page=2')\n"
     "assert(doc:first('//b/text()').name == '#text')",
     NULL},
    {"node html", "assert(doc:first('//b').html == '<b>bold</b>')", NULL},
    {"tostring",
     "assert(tostring(doc) == 'html document')\n"
     "assert(tostring(doc:first('//ul')) == 'html node <ul>')",
     NULL},
    {"namespace nodes are skipped", "assert(type(doc:xpath('//li/namespace::*')) == 'table')",
     NULL},
    {"unknown node field is nil", "assert(doc:first('//ul').nope == nil)", NULL},
    /* errors */
    {"invalid xpath", "doc:xpath('//div[')", "invalid XPath expression '//div[':"},
    {"invalid xpath on node", "doc:first('//ul'):count('!!')", "invalid XPath expression '!!'"},
    {"unknown function", "doc:xpath('nope(//a)')", "invalid XPath expression 'nope(//a)'"},
    {"count of a value", "doc:count('count(//a)')", "gives a value (\"2\"), not nodes"},
    {"method on wrong object", "doc.xpath({}, '//a')", "bad argument #1 to 'xpath'"},
    {"attr on document", "doc.first(doc, '//a').attr(doc, 'x')", "bad argument #1 to 'attr'"},
    {"parse needs a string", "html.parse({})", "bad argument #1 to 'parse'"},
    /* quadratic: out of reach of the count hook inside one C call, so libxml2 counts steps */
    {"costly xpath stops",
     /* a step budget, not a clock: the same on a slow or loaded machine */
     "local d = html.parse(string.rep('<p>x</p>', 20000))\n"
     "local ok, e = pcall(d.count, d, '//p[count(//p) > 0]')\n"
     "error(e)",
     "XPath expression '//p[count(//p) > 0]' takes too long: it stopped after 10 million steps"},
    {"cheap xpath on a big document",
     "local d = html.parse(string.rep('<p>x</p>', 20000))\n"
     "assert(d:count('//p[. = \"x\"]') == 20000)",
     NULL},
};

static void test_cases(void **state) {
  lua_State *L = *state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char code[4096];
    snprintf(code, sizeof code, "%s%s", soup, cases[i].code);
    const char *err = run_lua(L, code);
    if (!cases[i].error && err)
      fail_msg("case '%s' failed: %s", cases[i].name, err);
    if (cases[i].error && (!err || !strstr(err, cases[i].error)))
      fail_msg("case '%s': error \"%s\", want \"%s\"", cases[i].name, err ? err : "(none)",
               cases[i].error);
  }
}

/* Nodes keep their document alive after the document variable is gone. */
static void test_node_outlives_doc(void **state) {
  lua_State *L = *state;
  const char *err =
      run_lua(L, "local items\n"
                 "do\n"
                 "  local doc = html.parse('<ul><li>a</li><li>b <i>c</i></li></ul>')\n"
                 "  items = doc:xpath('//li')\n"
                 "end\n"
                 "collectgarbage() collectgarbage()\n"
                 "assert(items[2].text == 'b c')\n"
                 "assert(items[2]:first('i').text == 'c')\n"
                 "items = nil collectgarbage()");
  if (err)
    fail_msg("%s", err);
}

/* Empty input and junk parse to an (empty) document. */
static void test_empty_and_junk(void **state) {
  lua_State *L = *state;
  const char *err =
      run_lua(L, "local e = html.parse('')\nassert(e:count('//*') == 0 and e:first('//p') == nil)\n"
                 "local j = html.parse('\\0\\255\\254<\\1>\\0</</<<>>\\x80\\xff')\n"
                 "assert(j:count('//p') == 0)\n"
                 "local b = {} for i = 0, 255 do b[#b + 1] = string.char(i) end\n"
                 "local bin = html.parse(string.rep(table.concat(b), 100))\n"
                 "assert(type(bin:count('//*')) == 'number')\n"
                 "local m = html.parse('<meta charset=\"x-nope\"><p>hi</p>')\n"
                 "assert(m:count('//p') <= 1)");
  if (err)
    fail_msg("%s", err);
}

/* A 1 MB page parses and queries quickly. */
static void test_big_document(void **state) {
  lua_State *L = *state;
  const char *err = run_lua(L, "local rows = {}\n"
                               "for i = 1, 25000 do\n"
                               "  rows[i] = '<tr><td class=c>' .. i .. '</td><td>cell</td></tr>'\n"
                               "end\n"
                               "local text = '<table>' .. table.concat(rows) .. '</table>'\n"
                               "assert(#text > 1000000, #text)\n"
                               "local doc = html.parse(text)\n"
                               "assert(doc:count('//tr') == 25000)\n"
                               "assert(doc:first('//tr[last()]/td').text == '25000')");
  if (err)
    fail_msg("%s", err);
}

/* Deeply nested soup neither crashes the parser nor the queries (libxml2 2.9
 * stops nesting at 256 levels and drops what lies deeper). */
static void test_deep_nesting(void **state) {
  lua_State *L = *state;
  const char *err = run_lua(L, "local doc = html.parse(string.rep('<div>', 5000) .. 'x')\n"
                               "assert(doc:count('//div') > 0)\n"
                               "assert(doc:count('//div') <= 5000)\n"
                               "assert(type(doc:first('//body').text) == 'string')");
  if (err)
    fail_msg("%s", err);
}

/* The C interface directly: nothing printed, errors returned. */
static void test_c_interface(void **state) {
  struct uat_html_doc *doc = uat_html_parse("<p class=a>Hi <b>there</b></p>", 30);
  assert_non_null(doc);
  struct uat_html_result r;
  struct uat_error err;
  assert_int_equal(uat_html_xpath(doc, NULL, "//p", "//p", &r, &err), 0);
  assert_int_equal(r.count, 1);
  assert_null(r.value);
  char *text = uat_html_node_text(r.nodes[0]);
  assert_string_equal(text, "Hi there");
  free(text);
  char *attr = uat_html_node_attr(r.nodes[0], "CLASS");
  assert_string_equal(attr, "a");
  free(attr);
  assert_string_equal(uat_html_node_name(r.nodes[0]), "p");
  struct uat_html_node *p = r.nodes[0];
  uat_html_result_release(&r);
  assert_int_equal(uat_html_xpath(doc, p, "b", "b", &r, &err), 0);
  assert_int_equal(r.count, 1);
  uat_html_result_release(&r);
  assert_int_equal(uat_html_xpath(doc, NULL, "//p[", "//p[", &r, &err), -1);
  assert_non_null(strstr(err.text, "invalid XPath expression '//p[': "));
  assert_null(r.nodes);
  uat_html_free(doc);
}

int main(void) {
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_outlives_doc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_and_junk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_document, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
      cmocka_unit_test(test_c_interface),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  return failed;
}
