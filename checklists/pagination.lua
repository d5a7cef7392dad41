--[[ pagination — paged lists stay navigable: the API's pagination objects agree page by page,
and the page shows links that lead to every page.

Why: Tasking Manager 4.6.2 shipped "My Tasks" without its pagination links. The API's
pagination was still right, so only a check on the rendered page could see it; a check on the
API guards the other half (a paginator is only as good as the numbers behind it).

Functions:
  pagination.json_consistent(pages_or_fetcher, opts) -> ok, pages (list of pagination objects)
      pages_or_fetcher: a list of pagination objects (or of decoded bodies holding one under
      opts.key, default "pagination"), in page order from page 1; or a function(page) returning
      a response, a decoded body or a pagination object: page 1 is fetched, then every page
      up to its `pages` (at most opts.max_pages, default 20, then the last page).
      Records, for each page: page is its number, hasPrev/prevNum and hasNext/nextNum say the
      neighbours (null at the ends), total/perPage/pages the same as on page 1; then once:
      pages == ceil(total / perPage) (0 pages for 0 items), and with opts.items (the body's
      list key, e.g. "tasks") each page holds perPage items (the last one the rest) and no
      item shows on two pages (items compared by opts.item_key(item) -> string, else whole).
      opts.fields renames fields: {page=, pages=, total=, per_page=, has_next=, has_prev=,
      next_num=, prev_num=} (defaults: TM/Flask-SQLAlchemy names page, pages, total, perPage,
      hasNext, hasPrev, nextNum, prevNum).
  pagination.html_links(doc_or_r, opts) -> ok, links ({label=, target=} in page order)
      Finds the paginator (opts.container, an XPath; default: the first element whose class
      contains "paginator" or "pagination") and its links (opts.links, relative XPath; default
      `.//a[@href] | .//button[@value]`; a button's target is its form's action plus
      ?name=value). opts.pages (or opts.total and opts.per_page) says how many pages there are;
      opts.current the current page (default 1). A link or button that is disabled
      (disabled, aria-disabled="true", class "disabled") offers nothing.
      One page or none: no paginator is fine; one that offers a second page is not.
      Several pages: the paginator must be there; numbered links must cover every page
      (up to opts.max_numbered, default 10; beyond, the first and last) and offer none past
      the last, or, without numbered links, "next" (and "previous" past page 1) must be there
      (opts.next_label / opts.prev_label: Lua patterns on the label; rel="next"/"prev" also
      counts), and no "next" on the last page nor "previous" on the first; links for
      different pages must lead to different addresses.
      opts.fetch = function(target) -> response or document (e.g. tasking_manager's tm.page
      for a browser): also follows every numbered link and
      checks each answers 2xx with items of its own: opts.page_items (XPath of the items,
      whose text or opts.item_key(node) identifies them) must be there, and none of them on
      an earlier page; opts.page_number (XPath) must show the link's number.
      opts.what names the list in messages ("My Tasks").

Example:
  local pagination = require("pagination")
  local auth = { Authorization = "Token " .. secrets.tm_token_allowed }
  pagination.json_consistent(function(n)
    return http.get("/api/v2/users/1001/tasks/?page=" .. n, { headers = auth })
  end, { items = "tasks", item_key = function(t) return t.projectId .. "/" .. t.taskId end })
  local r = http.get("/contributions/tasks", { headers = auth })
  pagination.html_links(r, { what = "My Tasks", pages = 3,
    container = "//div[@class='paginator-btn-ctr']",
    fetch = function(url) return http.get(url, { headers = auth }) end,
    page_items = "//ul[@id='my-tasks']/li", page_number = "//span[@id='my-tasks-page-number']" })
]]
local common = require("uat.common")

local pagination = {}

local DEFAULT_FIELDS = {
  page = "page", pages = "pages", total = "total", per_page = "perPage",
  has_next = "hasNext", has_prev = "hasPrev", next_num = "nextNum", prev_num = "prevNum",
}

local function fields_of(opts)
  local f = {}
  for k, v in pairs(DEFAULT_FIELDS) do
    f[k] = (opts.fields and opts.fields[k]) or v
  end
  return f
end

local function show(v)
  if common.is_null(v) then
    return "null"
  end
  return tostring(math.type(v) == "float" and math.tointeger(v) or v)
end

local function same(a, b)
  if common.is_null(a) or common.is_null(b) then
    return common.is_null(a) and common.is_null(b)
  end
  return a == b
end

-- Decoded body (or pagination object) from what a fetcher or list gives.
local function body_of(v)
  if common.is_response(v) then
    return v:json()
  end
  return v
end

local function pagination_of(body, opts)
  local key = opts.key or "pagination"
  if type(body) == "table" and type(body[key]) == "table" then
    return body[key]
  end
  return body
end

-- Problems of page n's pagination object against the first page's numbers.
local function page_problems(p, n, first, f)
  local problems = {}
  local function want(field, expected)
    if not same(p[field], expected) then
      problems[#problems + 1] = field .. " is " .. show(p[field]) .. ", expected " .. show(expected)
    end
  end
  local pages = first[f.pages]
  want(f.page, n)
  want(f.pages, pages)
  want(f.total, first[f.total])
  want(f.per_page, first[f.per_page])
  want(f.has_prev, n > 1)
  want(f.prev_num, n > 1 and n - 1 or json.null)
  want(f.has_next, n < pages)
  want(f.next_num, n < pages and n + 1 or json.null)
  return problems
end

local function ceil_div(a, b)
  return (a + b - 1) // b
end

-- Page n from the fetcher, decoded; nil (with a failure recorded) when it did not answer 2xx.
local function fetch_page(fetcher, n, what)
  local v = fetcher(n)
  if common.is_response(v) and (v.status < 200 or v.status > 299) then
    common.record(false, string.format("%s: page %d answers", what, n), tostring(v.status), "2xx")
    return nil
  end
  return body_of(v)
end

-- Collects the bodies of every page to check: from a list, or by fetching (stopping at the
-- first page that does not answer).
local function collect(pages_or_fetcher, opts, what)
  if type(pages_or_fetcher) ~= "function" then
    local bodies = {}
    for i, v in ipairs(pages_or_fetcher) do
      bodies[i] = { n = i, body = body_of(v) }
    end
    return bodies, true
  end
  local f = fields_of(opts)
  local first = fetch_page(pages_or_fetcher, 1, what)
  if not first then
    return {}, false
  end
  local bodies = { { n = 1, body = first } }
  local pages = math.tointeger(pagination_of(first, opts)[f.pages]) or 1
  local max = opts.max_pages or 20
  for n = 2, pages do
    if n <= max or n == pages then
      local body = fetch_page(pages_or_fetcher, n, what)
      if not body then
        return bodies, false
      end
      bodies[#bodies + 1] = { n = n, body = body }
    end
  end
  return bodies, true
end

-- Items per page and duplicates across pages, when the caller says where items are.
local function check_items(bodies, first, opts, f, what)
  local ok = true
  local per_page, total, pages = first[f.per_page], first[f.total], first[f.pages]
  local seen, dups = {}, {}
  for _, b in ipairs(bodies) do
    local items = b.body[opts.items] or {}
    local want = b.n < pages and per_page or math.max(0, total - per_page * (pages - 1))
    if pages == 0 then
      want = 0
    end
    ok = common.record(#items == want, string.format("%s page %d of %d holds %d items", what, b.n,
                         pages, want), #items .. " items", want .. " items") and ok
    for _, item in ipairs(items) do
      local key = opts.item_key and opts.item_key(item) or json.encode(item)
      if seen[key] then
        dups[#dups + 1] = common.short(key, 60) .. " (pages " .. seen[key] .. " and " .. b.n .. ")"
      end
      seen[key] = b.n
    end
  end
  ok = common.record(#dups == 0, what .. ": no item shows on two pages" ..
                       (#dups > 0 and " — repeated: " .. common.join(dups) or "")) and ok
  return ok
end

function pagination.json_consistent(pages_or_fetcher, opts)
  opts = opts or {}
  local f = fields_of(opts)
  local what = opts.what or "the list"
  local bodies, complete = collect(pages_or_fetcher, opts, what)
  if #bodies == 0 then
    return complete and common.record(false, what .. ": no page of results to check"), {}
  end
  local objects = {}
  for i, b in ipairs(bodies) do
    objects[i] = pagination_of(b.body, opts)
  end
  local first = objects[1]
  local total, per_page, pages = first[f.total], first[f.per_page], first[f.pages]
  if math.type(total) ~= "integer" or math.type(per_page) ~= "integer" or per_page < 1
    or math.type(pages) ~= "integer" then
    return common.record(false, what .. ": page 1 has no usable " .. f.total .. "/" .. f.per_page ..
                           "/" .. f.pages, string.format("%s=%s %s=%s %s=%s", f.total, show(total),
                           f.per_page, show(per_page), f.pages, show(pages)), "integers"), objects
  end
  local need = ceil_div(total, per_page)
  local ok = common.record(pages == need, string.format(
    "%s: %s (%d) = ceil(%s / %s) = ceil(%d / %d) = %d", what, f.pages, pages, f.total, f.per_page,
    total, per_page, need), tostring(pages), tostring(need))
  if type(pages_or_fetcher) ~= "function" then
    ok = common.record(#objects == math.max(pages, 1), string.format(
      "%s: one pagination object per page (%d pages)", what, pages), #objects .. " objects",
      math.max(pages, 1) .. " objects") and ok
  end
  for i, p in ipairs(objects) do
    local n = bodies[i].n
    local problems = page_problems(p, n, first, f)
    local msg = string.format("%s page %d of %d: pagination fields agree", what, n, pages)
    if #problems > 0 then
      msg = msg .. " — " .. table.concat(problems, "; ")
    end
    ok = common.record(#problems == 0, msg) and ok
  end
  if opts.items then
    ok = check_items(bodies, first, opts, f, what) and ok
  end
  return ok and complete, objects
end

-- The address a paginator link or button leads to.
local function target_of(node)
  if node.name == "a" then
    return node:attr("href")
  end
  local name, value = node:attr("name"), node:attr("value")
  if not name or not value then
    return nil
  end
  local form = node:first("ancestor::form[1]")
  local action = form and form:attr("action") or ""
  return action .. (action:find("?", 1, true) and "&" or "?") .. name .. "=" .. value
end

local function label_of(node)
  local label = common.norm(node.text)
  if label == "" then
    label = common.norm(node:attr("aria-label") or node:attr("title") or "")
  end
  return label
end

local function find_link(links, pattern, rel)
  for _, l in ipairs(links) do
    if not l.disabled and (l.rel == rel or l.label:find(pattern)) then
      return l
    end
  end
  return nil
end

local function page_count(opts)
  if opts.pages then
    return opts.pages
  end
  if opts.total and opts.per_page then
    return ceil_div(opts.total, opts.per_page)
  end
  error("pagination.html_links: give opts.pages, or opts.total and opts.per_page", 3)
end

local function read_links(container, opts)
  local links = {}
  for _, node in ipairs(container:xpath(opts.links or ".//a[@href] | .//button[@value]")) do
    local label = label_of(node)
    local class = " " .. common.norm(node:attr("class")) .. " "
    local disabled = node:attr("disabled") ~= nil or
                       (node:attr("aria-disabled") or ""):lower() == "true" or
                       class:find(" disabled ", 1, true) ~= nil
    links[#links + 1] = { label = label, target = target_of(node),
                          number = math.tointeger(tonumber(label)), rel = node:attr("rel"),
                          disabled = disabled }
  end
  return links
end

-- The numbers a numbered paginator must offer: all of them, or the first and last.
local function required_numbers(pages, opts)
  local list = {}
  if pages <= (opts.max_numbered or 10) then
    for n = 1, pages do
      list[#list + 1] = n
    end
  else
    list = { 1, pages }
  end
  return list
end

local function check_numbered(links, pages, what, opts)
  local by_number, missing, beyond = {}, {}, {}
  for _, l in ipairs(links) do
    if l.number and not l.disabled then
      if (l.number < 1 or l.number > pages) and not by_number[l.number] then
        beyond[#beyond + 1] = l.number
      end
      by_number[l.number] = by_number[l.number] or l
    end
  end
  for _, n in ipairs(required_numbers(pages, opts)) do
    if not (by_number[n] and by_number[n].target) then
      missing[#missing + 1] = n
    end
  end
  local problems = {}
  if #missing > 0 then
    problems[#problems + 1] = "no link for page " .. common.join(missing)
  end
  if #beyond > 0 then
    problems[#problems + 1] = "it also links to page " .. common.join(beyond) ..
                                ", which does not exist"
  end
  local msg = string.format("%s: the paginator links to each of the %d pages", what, pages)
  if #problems > 0 then
    msg = msg .. " — " .. table.concat(problems, "; ")
  end
  return common.record(#problems == 0, msg), by_number
end

local function check_next_prev(links, pages, current, what, opts)
  local ok = true
  if current < pages then
    ok = common.record(find_link(links, opts.next_label or "^[Nn]ext", "next") ~= nil,
                       string.format("%s: page %d of %d has a link to the next page", what,
                                     current, pages)) and ok
  end
  if current > 1 then
    ok = common.record(find_link(links, opts.prev_label or "^[Pp]rev", "prev") ~= nil,
                       string.format("%s: page %d of %d has a link to the previous page", what,
                                     current, pages)) and ok
  end
  -- Past either end a link leads nowhere: said only when there is one.
  local past = current >= pages and find_link(links, opts.next_label or "^[Nn]ext", "next")
  if past then
    ok = common.record(false, string.format(
      "%s: page %d of %d is the last, but it offers a next page: \"%s\" → %s", what, current,
      pages, past.label, tostring(past.target))) and ok
  end
  past = current <= 1 and find_link(links, opts.prev_label or "^[Pp]rev", "prev")
  if past then
    ok = common.record(false, string.format(
      "%s: page %d of %d is the first, but it offers a previous page: \"%s\" → %s", what,
      current, pages, past.label, tostring(past.target))) and ok
  end
  return ok
end

local function check_distinct_targets(by_number, what)
  local seen, clashes, numbers = {}, {}, {}
  for n in pairs(by_number) do
    numbers[#numbers + 1] = n
  end
  table.sort(numbers)
  for _, n in ipairs(numbers) do
    local t = by_number[n].target
    if t and seen[t] then
      clashes[#clashes + 1] = string.format("pages %d and %d both lead to %s", seen[t], n, t)
    elseif t then
      seen[t] = n
    end
  end
  local msg = what .. ": each page link leads to a different address"
  if #clashes > 0 then
    msg = msg .. " — " .. table.concat(clashes, "; ")
  end
  return common.record(#clashes == 0, msg)
end

-- What identifies the items of a followed page: one key per item, in order.
local function page_keys(doc, opts)
  local keys = {}
  for _, node in ipairs(doc:xpath(opts.page_items)) do
    keys[#keys + 1] = opts.item_key and opts.item_key(node) or common.norm(node.text)
  end
  return keys
end

local function follow_links(by_number, pages, what, opts)
  local ok, seen = true, {} -- seen: item key -> the page it was first on
  for n = 1, pages do
    local link = by_number[n]
    if link and link.target then
      local r = opts.fetch(link.target)
      -- a browser's page has no status: it is what the browser shows
      local status = common.is_response(r) and r.status or 200
      local good = status >= 200 and status < 300
      ok = common.record(good, string.format("%s: the link to page %d (%s) answers", what, n,
                                             link.target), tostring(status), "2xx") and ok
      if good and opts.page_number then
        local node = common.doc(r):first(opts.page_number)
        local shown = node and common.norm(type(node) == "string" and node or node.text) or "nothing"
        ok = common.record(shown == tostring(n), string.format(
          "%s: the link to page %d leads to page %d", what, n, n), shown, tostring(n)) and ok
      end
      if good and opts.page_items then
        local keys = page_keys(common.doc(r), opts)
        local repeated, first_page = {}, nil
        for _, k in ipairs(keys) do
          if seen[k] then
            repeated[#repeated + 1] = common.short(k, 40)
            first_page = first_page or seen[k]
          end
        end
        local detail = ""
        if #keys == 0 then
          detail = ", none"
        elseif #repeated == #keys then
          detail = ", the same as page " .. first_page
        elseif #repeated > 0 then
          detail = ", but " .. #repeated .. " of them already on page " .. first_page .. ": " ..
                     common.join(repeated)
        end
        ok = common.record(#keys > 0 and #repeated == 0, string.format(
          "%s: page %d shows its own items (%d)%s", what, n, #keys, detail)) and ok
        for _, k in ipairs(keys) do
          seen[k] = seen[k] or n
        end
      end
    end
  end
  return ok
end

function pagination.html_links(doc_or_r, opts)
  opts = opts or {}
  local pages = page_count(opts)
  local current = opts.current or 1
  local what = opts.what or "the list"
  local doc = common.doc(doc_or_r)
  local container_xpath = opts.container or
    "(//*[contains(@class,'paginator') or contains(@class,'pagination')])[1]"
  local container = doc:first(container_xpath)
  if pages <= 1 then
    if not container then
      return common.record(true, string.format(
        "%s: %d page of results, no paginator needed", what, pages)), {}
    end
    local links = read_links(container, opts)
    local beyond = find_link(links, opts.next_label or "^[Nn]ext", "next")
    for _, l in ipairs(links) do
      beyond = beyond or (not l.disabled and (l.number or 0) > 1 and l) or nil
    end
    return common.record(beyond == nil, string.format(
      "%s: one page of results, and the paginator offers no other page%s", what,
      beyond and (" — it offers \"" .. beyond.label .. "\" → " .. tostring(beyond.target)) or "")),
      links
  end
  if not container then
    return common.record(false, string.format(
      "%s: the paginator is on the page (%d pages) — it is missing (nothing matches %s)", what,
      pages, container_xpath),
      "no paginator", "a paginator for " .. pages .. " pages"), {}
  end
  local links = read_links(container, opts)
  local ok = common.record(true, string.format("%s: the paginator is on the page (%d pages)",
                                               what, pages))
  local numbered = false
  for _, l in ipairs(links) do
    numbered = numbered or l.number ~= nil
  end
  if numbered then
    local good, by_number = check_numbered(links, pages, what, opts)
    ok = good and ok
    ok = check_distinct_targets(by_number, what) and ok
    if opts.fetch then
      ok = follow_links(by_number, pages, what, opts) and ok
    end
  else
    ok = check_next_prev(links, pages, current, what, opts) and ok
  end
  return ok, links
end

return pagination
