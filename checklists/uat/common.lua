--[[ uat.common — small helpers the bundled checklists share.

Purpose: one place for what access, pagination, menu, tasking_manager and rdv all need:
turning "a response, a document or HTML text" into a document, recording an expectation
with a message a release manager can read, comparing two lists as sets, and showing values
short. It lives under uat/ so that a playbook's own checklists/common.lua cannot shadow it.

Functions:
  common.is_response(v)        true for an http response (or a table with a `status`)
  common.doc(v)                HTML document from a response (r:html(), cached), a document
                               or node (as is), or HTML text (html.parse)
  common.record(ok, msg, actual, expected)
                               records one expectation and returns ok. On success the message
                               is recorded as passed; on failure actual and expected are shown
                               beside it (expect.eq, or expect.fail when they would compare equal)
  common.same_set(actual, expected)   missing, unexpected (lists, in the order given)
  common.join(list, sep)       "a, b, c" ("none" for an empty list)
  common.norm(s)               whitespace collapsed and trimmed ("" for nil)
  common.short(s, n)           s cut to n characters (default 80) with "…"
  common.path_of(url)          "/a/b?x=1" from "https://host/a/b?x=1#f"; keeps relative URLs
  common.is_null(v)            v is nil or json.null
  common.header(r, name)       a response header, case-insensitive, from r:header or r.headers
  common.looks_like_html(r)    the response's body is an HTML page (by Content-Type or body)

Example:
  local common = require("uat.common")
  local missing, unexpected = common.same_set({"a", "b"}, {"b", "c"})
  common.record(#missing == 0, "the list offers every contributor",
                common.join({"a", "b"}), common.join({"b", "c"}))
]]
local common = {}

function common.is_response(v)
  return type(v) == "table" and v.status ~= nil
end

local function is_html_object(v)
  if type(v) ~= "userdata" then
    return false
  end
  local s = tostring(v)
  return s == "html document" or s:sub(1, 9) == "html node"
end

function common.doc(v)
  if is_html_object(v) then
    return v
  end
  if type(v) == "string" then
    return html.parse(v)
  end
  if common.is_response(v) then
    if type(v.html) == "function" then
      return v:html()
    end
    return html.parse(v.body or "")
  end
  error("expected an HTTP response, an HTML document or HTML text, got " .. type(v), 3)
end

function common.record(ok, msg, actual, expected)
  if ok then
    return expect.truthy(true, msg)
  end
  if actual ~= nil and expected ~= nil and actual ~= expected then
    return expect.eq(actual, expected, msg)
  end
  return expect.fail(msg)
end

function common.same_set(actual, expected)
  local in_actual, in_expected = {}, {}
  for _, v in ipairs(actual) do
    in_actual[v] = true
  end
  for _, v in ipairs(expected) do
    in_expected[v] = true
  end
  local missing, unexpected = {}, {}
  for _, v in ipairs(expected) do
    if not in_actual[v] then
      missing[#missing + 1] = v
    end
  end
  for _, v in ipairs(actual) do
    if not in_expected[v] then
      unexpected[#unexpected + 1] = v
    end
  end
  return missing, unexpected
end

function common.join(list, sep)
  if #list == 0 then
    return "none"
  end
  local parts = {}
  for i, v in ipairs(list) do
    parts[i] = tostring(v)
  end
  return table.concat(parts, sep or ", ")
end

function common.norm(s)
  if s == nil then
    return ""
  end
  return (tostring(s):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

function common.short(s, n)
  n = n or 80
  s = common.norm(s)
  if utf8.len(s) and utf8.len(s) > n then
    return s:sub(1, utf8.offset(s, n + 1) - 1) .. "…"
  end
  return s
end

function common.path_of(url)
  url = url or ""
  local rest = url:match("^%a[%w+.-]*://[^/?#]*(.*)$")
  if rest then
    url = rest ~= "" and rest or "/"
  end
  return (url:gsub("#.*$", ""))
end

function common.is_null(v)
  return v == nil or (json ~= nil and v == json.null)
end

function common.header(r, name)
  if type(r.header) == "function" then
    return r:header(name)
  end
  local headers = r.headers or {}
  local lower = name:lower()
  for k, v in pairs(headers) do
    if k:lower() == lower then
      return v
    end
  end
  return nil
end

function common.looks_like_html(r)
  local ct = common.header(r, "content-type")
  if ct then
    return ct:lower():find("html", 1, true) ~= nil
  end
  return (r.body or ""):match("^%s*<") ~= nil
end

return common
