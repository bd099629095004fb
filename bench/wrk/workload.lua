-- One wrk script for every workload of bench/run, configured through the environment:
--   BENCH_WORKLOAD  floor | get_ticket | list_column | create | move | comment |
--                   claim_next | board_read | board_page | mixed
--   BENCH_TOKENS    API token secrets separated by commas (claim_next rotates them)
--   BENCH_COOKIE    a Cookie header (board_page, which is a page for people)
--   BENCH_BOARD     board id; BENCH_TICKETS ticket ids separated by commas
--   BENCH_COLUMNS   column names separated by commas (column list, move)
-- done() prints one JSON line that bench/run parses.

local function split(text)
  local items = {}
  for item in string.gmatch(text or "", "[^,]+") do items[#items + 1] = item end
  return items
end

local workload = os.getenv("BENCH_WORKLOAD") or "floor"
local tokens = split(os.getenv("BENCH_TOKENS"))
local cookie = os.getenv("BENCH_COOKIE")
local board = os.getenv("BENCH_BOARD") or "1"
local tickets = split(os.getenv("BENCH_TICKETS"))
local columns = split(os.getenv("BENCH_COLUMNS"))
local counter = 0
local claimed = {}
local threads = {}

local function urlencode(text)
  return (string.gsub(text, "[^%w%-_%.~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local function headers(json)
  local h = {}
  if #tokens > 0 then
    -- Rotating the token makes every request a different agent (claim_next).
    h["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  end
  if cookie then h["Cookie"] = cookie end
  if json then h["Content-Type"] = "application/json" end
  return h
end

local function pick(items) return items[math.random(#items)] end

local builders = {}
builders.floor = function() return wrk.format("GET", "/api/health/live", headers(false)) end
builders.get_ticket = function()
  return wrk.format("GET", "/api/tickets/" .. pick(tickets), headers(false))
end
builders.list_column = function()
  local path = "/api/tickets/?board_id=" .. board .. "&column=" .. urlencode(columns[2] or columns[1])
  return wrk.format("GET", path, headers(false))
end
builders.create = function()
  local body = '{"board_id": ' .. board .. ', "title": "Bench ticket ' .. counter .. '"}'
  return wrk.format("POST", "/api/tickets/", headers(true), body)
end
builders.move = function()
  -- Cycling between columns: every move really changes the ticket's column.
  local body = '{"column": "' .. pick(columns) .. '"}'
  return wrk.format("POST", "/api/tickets/" .. pick(tickets) .. "/move", headers(true), body)
end
builders.comment = function()
  local body = '{"ticket_id": ' .. pick(tickets) .. ', "text": "Bench comment ' .. counter .. '"}'
  return wrk.format("POST", "/api/comments/", headers(true), body)
end
builders.claim_next = function()
  return wrk.format("POST", "/api/boards/" .. board .. "/claim-next", headers(true), "{}")
end
builders.board_read = function()
  return wrk.format("GET", "/api/boards/" .. board .. "/tickets", headers(false))
end
builders.board_page = function()
  return wrk.format("GET", "/boards/" .. board .. "/", headers(false))
end

local mix = { "get_ticket", "get_ticket", "get_ticket", "list_column", "list_column",
              "create", "move", "move", "comment", "comment" }
builders.mixed = function() return builders[pick(mix)]() end

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() + (id or 0) * 7919)
  claims = ""
end

function request()
  counter = counter + 1
  return builders[workload]()
end

if workload == "mixed" then
  -- Which answers were not 2xx: one global counter per status code and thread.
  function response(status, headers, body)
    local key = "s_" .. status
    _G[key] = (_G[key] or 0) + 1
  end
end

if workload == "claim_next" then
  -- Only claim_next reads bodies (it costs wrk a little): which ticket each claim got.
  function response(status, headers, body)
    if status == 200 then
      local ticket = string.match(body, '"id"%s*:%s*(%d+)')
      if ticket then claims = claims .. ticket .. "," end
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local out = {
    requests = summary.requests,
    duration_s = summary.duration / 1e6,
    rps = summary.requests / (summary.duration / 1e6),
    p50_ms = latency:percentile(50) / 1000,
    p90_ms = latency:percentile(90) / 1000,
    p99_ms = latency:percentile(99) / 1000,
    max_ms = latency.max / 1000,
    errors_connect = errors.connect,
    errors_read = errors.read,
    errors_write = errors.write,
    errors_status = errors.status,
    errors_timeout = errors.timeout,
  }
  local parts = {}
  for key, value in pairs(out) do parts[#parts + 1] = string.format('"%s": %.3f', key, value) end
  local ids = {}
  for _, thread in ipairs(threads) do
    local got = thread:get("claims")
    if got and #got > 0 then ids[#ids + 1] = string.sub(got, 1, -2) end
  end
  parts[#parts + 1] = '"claimed": [' .. table.concat(ids, ",") .. ']'
  local statuses = {}
  for code = 100, 599 do
    local count = 0
    for _, thread in ipairs(threads) do count = count + (thread:get("s_" .. code) or 0) end
    if count > 0 then statuses[#statuses + 1] = string.format('"%d": %d', code, count) end
  end
  parts[#parts + 1] = '"statuses": {' .. table.concat(statuses, ", ") .. '}'
  io.write("BENCH-JSON " .. "{" .. table.concat(parts, ", ") .. "}\n")
end
