--[[ menu — the entries people navigate by are in the menu, and lead where they should.

Why: in June 2022 an RDV-Solidarités release moved the agent-management screens out of the
settings menu. The screens still worked at their URLs, so every smoke test of them passed;
support staff simply could not find them any more. What users rely on is the menu entry:
its label, in that menu, leading to that screen.

Functions:
  menu.entries(doc_or_r, menu_xpath) -> list of {label=, href=, hidden=}, or nil when the menu
      is absent: every link (a[@href]) inside the first node menu_xpath selects; labels are the
      link's text with whitespace (and no-break spaces) collapsed (its aria-label or title when
      it has no text). hidden says why a user cannot see the link, when the link or an element
      around it (the menu itself included) has the hidden attribute, aria-hidden="true", a
      style with display:none or visibility:hidden, or the class hidden / d-none / invisible.
  menu.has_entries(doc_or_r, menu_xpath, entries, opts) -> ok, found
      entries: a list of {label=, href=}. Records one expectation per entry:
        - the label is there and leads to href            → pass
        - the label is there but leads elsewhere          → fail, naming both addresses
        - the label is there twice, leading to two places → fail, naming both
        - the entry is there but hidden                   → fail, saying how it is hidden
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

-- Why a user cannot see node: the first hidden element from it up to the root, or nil.
local LOWER = "translate(@style,'ABCDEFGHIJKLMNOPQRSTUVWXYZ ','abcdefghijklmnopqrstuvwxyz')"
local HIDDEN = "[@hidden or translate(@aria-hidden,'TRUE','true')='true'"
  .. " or contains(" .. LOWER .. ",'display:none') or contains(" .. LOWER .. ",'visibility:hidden')"
  .. " or contains(concat(' ',normalize-space(@class),' '),' hidden ')"
  .. " or contains(concat(' ',normalize-space(@class),' '),' d-none ')"
  .. " or contains(concat(' ',normalize-space(@class),' '),' invisible ')]"

local function hidden_reason(node)
  local on = ""
  local h = node:first("self::*" .. HIDDEN)
  if not h then
    h = node:first("ancestor::*" .. HIDDEN .. "[1]")
    on = h and type(h) ~= "string" and (" on its " .. h.name) or ""
  end
  if not h or type(h) == "string" then
    return nil
  end
  local style = (h:attr("style") or ""):lower():gsub("%s", "")
  local how
  if h:attr("hidden") then
    how = "the hidden attribute"
  elseif (h:attr("aria-hidden") or ""):lower() == "true" then
    how = 'aria-hidden="true"'
  elseif style:find("display:none", 1, true) then
    how = "display:none"
  elseif style:find("visibility:hidden", 1, true) then
    how = "visibility:hidden"
  else
    how = 'class "' .. common.norm(h:attr("class")) .. '"'
  end
  return how .. on
end

local function label_text(s)
  return common.norm((s or ""):gsub("\194\160", " "))
end

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
    local label = label_text(a.text)
    if label == "" then
      label = label_text(a:attr("aria-label") or a:attr("title"))
    end
    list[#list + 1] = { label = label, href = a:attr("href"), hidden = hidden_reason(a) }
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
  for _, e in ipairs(list) do
    if not e.hidden then
      labels[#labels + 1] = '"' .. e.label .. '"'
    end
  end
  return common.join(labels)
end

-- One expected entry against what the menu has; records and returns ok.
local function check_entry(list, want, opts)
  local name = opts.name or "the menu"
  local shown = '"' .. want.label .. '" → ' .. want.href
  local right, elsewhere, hidden
  for _, e in ipairs(list) do
    if label_matches(e.label, want.label, opts) then
      if e.hidden then
        hidden = hidden or (same_href(e.href, want.href) and e)
      elseif same_href(e.href, want.href) then
        right = right or e
      elseif not elsewhere or (e.label == want.label and elsewhere.label ~= want.label) then
        elsewhere = e
      end
    end
  end
  if right and elsewhere and elsewhere.label == right.label then
    -- Two visible entries with one label: users may well click the wrong one.
    return common.record(false, string.format('%s: "%s" is there twice, leading to %s and to %s',
                                              name, right.label, right.href, elsewhere.href),
                         '"' .. elsewhere.label .. '" → ' .. elsewhere.href .. " too", shown)
  end
  if right then
    return common.record(true, name .. " has " .. shown)
  end
  if elsewhere then
    return common.record(false, string.format('%s: "%s" leads to %s, expected %s', name,
                                              want.label, elsewhere.href, want.href),
                         '"' .. elsewhere.label .. '" → ' .. elsewhere.href, shown)
  end
  if hidden then
    return common.record(false, string.format('%s: "%s" (→ %s) is there but hidden from users (%s)',
                                              name, want.label, want.href, hidden.hidden),
                         "hidden", "visible")
  end
  for _, e in ipairs(list) do
    if not e.hidden and same_href(e.href, want.href) then
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
