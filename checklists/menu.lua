--[[ menu — the entries people navigate by are in the menu, and lead where they should.

Why: in June 2022 an RDV-Solidarités release moved the agent-management screens out of the
settings menu. The screens still worked at their URLs, so every smoke test of them passed;
support staff simply could not find them any more. What users rely on is the menu entry:
its label, in that menu, leading to that screen.

Functions:
  menu.entries(doc_or_r, menu_xpath) -> list of {label=, href=}, or nil when the menu is absent
      every link (a[@href]) inside the first node menu_xpath selects; labels are the link's
      text with whitespace collapsed (its aria-label or title when it has no text).
  menu.has_entries(doc_or_r, menu_xpath, entries, opts) -> ok, found
      entries: a list of {label=, href=}. Records one expectation per entry:
        - the label is there and leads to href            → pass
        - the label is there but leads elsewhere          → fail, naming both addresses
        - the label is missing, but href is in the menu under another label → fail, naming it
        - neither                                         → fail, listing what the menu has
      A missing menu is one failure naming menu_xpath. hrefs are compared as paths: the
      scheme and host of absolute URLs and a trailing "/" are ignored.
      opts.name names the menu in messages (default "the menu"); opts.match = "contains"
      accepts a label that contains the expected one (default: equal).

Example:
  local menu = require("menu")
  menu.has_entries(http.get("/admin/organisations/1"),
    "//ul[contains(@class,'left-submenu-settings')]",
    { { label = "Vos agents", href = "/admin/organisations/1/agents" },
      { label = "Vos invitations", href = "/admin/organisations/1/invitations" } },
    { name = "the settings menu" })
]]
local common = require("uat.common")

local menu = {}

local function same_href(a, b)
  local function norm(h)
    h = common.path_of(h or "")
    if #h > 1 then
      h = h:gsub("/$", ""):gsub("/%?", "?")
    end
    return h
  end
  return norm(a) == norm(b)
end

function menu.entries(doc_or_r, menu_xpath)
  local root = common.doc(doc_or_r):first(menu_xpath)
  if not root or type(root) == "string" then
    return nil
  end
  local list = {}
  for _, a in ipairs(root:xpath(".//a[@href]")) do
    local label = common.norm(a.text)
    if label == "" then
      label = common.norm(a:attr("aria-label") or a:attr("title"))
    end
    list[#list + 1] = { label = label, href = a:attr("href") }
  end
  return list
end

local function label_matches(actual, wanted, opts)
  if opts.match == "contains" then
    return actual:find(wanted, 1, true) ~= nil
  end
  return actual == wanted
end

local function labels_of(list)
  local labels = {}
  for i, e in ipairs(list) do
    labels[i] = '"' .. e.label .. '"'
  end
  return common.join(labels)
end

-- One expected entry against what the menu has; records and returns ok.
local function check_entry(list, want, opts)
  local name = opts.name or "the menu"
  local shown = '"' .. want.label .. '" → ' .. want.href
  local elsewhere
  for _, e in ipairs(list) do
    if label_matches(e.label, want.label, opts) then
      if same_href(e.href, want.href) then
        return common.record(true, name .. " has " .. shown)
      end
      elsewhere = elsewhere or e
    end
  end
  if elsewhere then
    return common.record(false, string.format('%s: "%s" leads to %s, expected %s', name,
                                              want.label, elsewhere.href, want.href),
                         '"' .. elsewhere.label .. '" → ' .. elsewhere.href, shown)
  end
  for _, e in ipairs(list) do
    if same_href(e.href, want.href) then
      return common.record(false, string.format('%s has no "%s" entry; %s is there, labelled "%s"',
                                                name, want.label, want.href, e.label),
                           '"' .. e.label .. '" → ' .. e.href, shown)
    end
  end
  return common.record(false, string.format('%s has no "%s" entry (→ %s); it has: %s', name,
                                            want.label, want.href, labels_of(list)),
                       labels_of(list), shown)
end

function menu.has_entries(doc_or_r, menu_xpath, entries, opts)
  opts = opts or {}
  if type(entries) ~= "table" or #entries == 0 then
    error("menu.has_entries: give a list of {label=, href=} entries", 2)
  end
  local list = menu.entries(doc_or_r, menu_xpath)
  if not list then
    return common.record(false, string.format("%s is on the page — nothing matches %s",
                                              opts.name or "the menu", menu_xpath)), {}
  end
  local ok = true
  for _, want in ipairs(entries) do
    if type(want.label) ~= "string" or type(want.href) ~= "string" then
      error("menu.has_entries: each entry needs a label and an href (strings)", 2)
    end
    ok = check_entry(list, want, opts) and ok
  end
  return ok, list
end

return menu
