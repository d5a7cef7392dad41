/* html.parse and the document / node objects scripts query with XPath.
 * A node keeps its document userdata as its user value, so the libxml2 tree
 * stays alive as long as any node of it is reachable. Results are copied into
 * Lua strings at once; C allocations in flight sit in boxes that __gc frees
 * (wrap before you acquire), so a Lua error in between leaks nothing. */
#include "net/html.h"
#include "check/lua_api.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_MT "uat.html.doc"
#define NODE_MT "uat.html.node"
#define RESULT_MT "uat.html.result"
#define TEXT_MT "uat.html.text"

struct lua_doc {
  struct uat_html_doc *doc; /* NULL until parsed, and after __gc */
  size_t reserved;          /* bytes of the check's memory cap held for the libxml2 tree */
};

struct lua_node {
  struct uat_html_node *node; /* owned by the document in user value 1 */
};

/* ---- boxes for C memory in flight ---------------------------------------------- */

static int l_result_gc(lua_State *L) {
  uat_html_result_release(luaL_checkudata(L, 1, RESULT_MT));
  return 0;
}

static int l_text_gc(lua_State *L) {
  char **box = luaL_checkudata(L, 1, TEXT_MT);
  free(*box);
  *box = NULL;
  return 0;
}

/* [-0, +1, m] An empty box for a malloc'd string. */
static char **push_text_box(lua_State *L) {
  char **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, TEXT_MT);
  return box;
}

/* [-1, +1, e] Replaces the box on top with its string (nil when empty if nil_ok). */
static void unbox_text(lua_State *L, char **box, bool nil_ok) {
  if (!*box && !nil_ok)
    luaL_error(L, "html: out of memory");
  if (*box)
    lua_pushstring(L, *box);
  else
    lua_pushnil(L);
  free(*box);
  *box = NULL;
  lua_remove(L, -2);
}

/* ---- documents and nodes -------------------------------------------------------- */

static void push_node(lua_State *L, int doc_idx, struct uat_html_node *node) {
  struct lua_node *n = lua_newuserdatauv(L, sizeof *n, 1);
  n->node = node;
  luaL_setmetatable(L, NODE_MT);
  lua_pushvalue(L, doc_idx);
  lua_setiuservalue(L, -2, 1);
}

/* The node at idx, after checking its document still holds the tree it points into. */
static struct lua_node *check_node(lua_State *L, int idx) {
  struct lua_node *n = luaL_checkudata(L, idx, NODE_MT);
  lua_getiuservalue(L, idx, 1);
  struct lua_doc *d = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!d || !d->doc)
    luaL_error(L, "html: the HTML document was freed; parse it again");
  return n;
}

/* Resolves self (a document or a node) to its document, pushed; *node is NULL for a document. */
static struct uat_html_doc *self_doc(lua_State *L, struct uat_html_node **node) {
  struct lua_doc *d = luaL_testudata(L, 1, DOC_MT);
  if (d) {
    lua_pushvalue(L, 1);
    *node = NULL;
  } else {
    struct lua_node *n = luaL_testudata(L, 1, NODE_MT);
    if (!n)
      luaL_typeerror(L, 1, "HTML document or node (call it as doc:xpath(...))");
    lua_getiuservalue(L, 1, 1);
    d = lua_touserdata(L, -1);
    *node = n->node;
  }
  if (!d || !d->doc)
    luaL_error(L, "html: the HTML document was freed; parse it again");
  return d->doc;
}

/* [-0, +2, e] Evaluates expr for self; pushes the document and the result box. */
static struct uat_html_result *query(lua_State *L, const char *expr) {
  struct uat_html_node *node;
  struct uat_html_doc *doc = self_doc(L, &node);
  struct uat_html_result *r = lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, RESULT_MT);
  struct uat_error err;
  char *shown = uat_lua_redact(L, expr); /* freed before anything can raise */
  int rc = uat_html_xpath(doc, node, expr, shown ? shown : "?", r, &err);
  free(shown);
  if (rc != 0)
    luaL_error(L, "%s", err.text);
  return r;
}

static int l_xpath(lua_State *L) {
  const char *expr = luaL_checkstring(L, 2);
  struct uat_html_result *r = query(L, expr);
  int doc = lua_gettop(L) - 1;
  if (r->value) {
    lua_createtable(L, 1, 0);
    lua_pushstring(L, r->value);
    lua_rawseti(L, -2, 1);
  } else {
    lua_createtable(L, r->count > 1000000 ? 1000000 : (int)r->count, 0);
    for (size_t i = 0; i < r->count; i++) {
      push_node(L, doc, r->nodes[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  }
  uat_html_result_release(r);
  return 1;
}

static int l_first(lua_State *L) {
  const char *expr = luaL_checkstring(L, 2);
  struct uat_html_result *r = query(L, expr);
  int doc = lua_gettop(L) - 1;
  if (r->value)
    lua_pushstring(L, r->value);
  else if (r->count > 0)
    push_node(L, doc, r->nodes[0]);
  else
    lua_pushnil(L);
  uat_html_result_release(r);
  return 1;
}

static int l_count(lua_State *L) {
  const char *expr = luaL_checkstring(L, 2);
  struct uat_html_result *r = query(L, expr);
  if (r->value) {
    /* Redact before cutting: a cut through a secret would leave a part the redactor misses. */
    char shown[64];
    char *safe = uat_lua_redact(L, r->value);
    snprintf(shown, sizeof shown, "%.60s", safe ? safe : "?");
    free(safe);
    return luaL_error(L,
                      "XPath expression '%s' gives a value (\"%s\"), not nodes: count a node "
                      "set such as '//a', or read the value with xpath()",
                      expr, shown);
  }
  lua_pushinteger(L, (lua_Integer)r->count);
  uat_html_result_release(r);
  return 1;
}

static int l_attr(lua_State *L) {
  struct lua_node *n = check_node(L, 1);
  const char *name = luaL_checkstring(L, 2);
  char **box = push_text_box(L);
  *box = uat_html_node_attr(n->node, name);
  unbox_text(L, box, true);
  return 1;
}

/* node.name / node.text / node.html, else a method. */
static int l_node_index(lua_State *L) {
  struct lua_node *n = check_node(L, 1);
  const char *key = luaL_checkstring(L, 2);
  if (strcmp(key, "name") == 0) {
    lua_pushstring(L, uat_html_node_name(n->node));
    return 1;
  }
  if (strcmp(key, "text") == 0 || strcmp(key, "html") == 0) {
    char **box = push_text_box(L);
    if (key[0] == 't') {
      *box = uat_html_node_text(n->node);
    } else {
      lua_getiuservalue(L, 1, 1);
      struct lua_doc *d = lua_touserdata(L, -1);
      lua_pop(L, 1);
      *box = uat_html_node_html(d->doc, n->node);
    }
    unbox_text(L, box, false);
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, key);
  return 1;
}

static int l_node_tostring(lua_State *L) {
  struct lua_node *n = check_node(L, 1);
  lua_pushfstring(L, "html node <%s>", uat_html_node_name(n->node));
  return 1;
}

static int l_doc_gc(lua_State *L) {
  struct lua_doc *d = luaL_checkudata(L, 1, DOC_MT);
  uat_html_free(d->doc);
  d->doc = NULL;
  uat_lua_release(L, d->reserved);
  d->reserved = 0;
  return 0;
}

static int l_doc_tostring(lua_State *L) {
  lua_pushliteral(L, "html document");
  return 1;
}

/* [-0, +0, m] Hides the metatable on top from getmetatable, so a script cannot call
 * __gc itself (freeing a tree its nodes still use). */
static void protect_metatable(lua_State *L, const char *shown_as) {
  lua_pushstring(L, shown_as);
  lua_setfield(L, -2, "__metatable");
}

/* [-0, +0, m] Creates the metatables once per state. */
static void ensure_metatables(lua_State *L) {
  static const luaL_Reg doc_methods[] = {
      {"xpath", l_xpath}, {"first", l_first}, {"count", l_count}, {NULL, NULL}};
  static const luaL_Reg node_methods[] = {
      {"xpath", l_xpath}, {"first", l_first}, {"count", l_count}, {"attr", l_attr}, {NULL, NULL}};
  if (luaL_newmetatable(L, DOC_MT)) {
    luaL_newlib(L, doc_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_doc_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_doc_tostring);
    lua_setfield(L, -2, "__tostring");
    protect_metatable(L, "html.document");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, NODE_MT)) {
    luaL_newlib(L, node_methods);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, l_node_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_node_tostring);
    lua_setfield(L, -2, "__tostring");
    protect_metatable(L, "html.node");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, RESULT_MT)) {
    lua_pushcfunction(L, l_result_gc);
    lua_setfield(L, -2, "__gc");
    protect_metatable(L, "html.result");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, TEXT_MT)) {
    lua_pushcfunction(L, l_text_gc);
    lua_setfield(L, -2, "__gc");
    protect_metatable(L, "html.text");
  }
  lua_pop(L, 1);
}

/* Bytes libxml2's tree of text takes, estimated from its markup (measured on libxml2
 * 2.9.14: about 300 bytes a tag, 250 an attribute, plus the text's bytes). */
static size_t tree_estimate(const char *text, size_t len) {
  size_t est = 2 * len + 4096;
  for (size_t i = 0; i < len; i++)
    est += text[i] == '<' ? 320 : text[i] == '=' ? 256 : 0;
  return est;
}

void uat_lua_push_html_doc(lua_State *L, const char *text, size_t len) {
  size_t limit = uat_lua_parse_limit(L);
  if (len > limit)
    luaL_error(L,
               "html.parse: input of %I bytes exceeds the limit of %I bytes (the smaller of "
               "max_body and a quarter of the check's memory cap); parse a smaller text",
               (LUAI_UACINT)len, (LUAI_UACINT)limit);
  ensure_metatables(L);
  struct lua_doc *d = lua_newuserdatauv(L, sizeof *d, 0);
  d->doc = NULL;
  d->reserved = 0;
  luaL_setmetatable(L, DOC_MT);
  /* The tree lives outside the Lua allocator as long as the document: it holds its
   * estimated size of the cap until __gc. */
  size_t reserved = tree_estimate(text, len);
  if (uat_lua_reserve(L, reserved) != 0)
    uat_lua_reserve_error(L, "html.parse", len, reserved);
  d->reserved = reserved;
  d->doc = uat_html_parse(text, len);
  if (!d->doc)
    luaL_error(L,
               "html.parse: cannot parse a document of %I bytes (out of memory or over "
               "2 GiB)",
               (LUAI_UACINT)len);
}

static int l_html_parse(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  uat_lua_push_html_doc(L, text, len);
  return 1;
}

void uat_lua_open_html(lua_State *L) {
  static const luaL_Reg funcs[] = {{"parse", l_html_parse}, {NULL, NULL}};
  ensure_metatables(L);
  luaL_newlib(L, funcs);
  lua_setglobal(L, "html");
}
