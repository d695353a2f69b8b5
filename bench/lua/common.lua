-- Shared helpers for the wrk workloads of bench/run. Loaded by every workload script with
--   local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
-- Arguments come after wrk's "--" as key=value pairs (token=..., ttl=..., payload=...).
--
-- Each thread counts its own operations and "bad" answers (a 2xx whose body lacks what the step needs, e.g. a
-- wrap without wrap_info.token); done() sums them over all threads and prints one line for bench/run:
--   BENCH_JSON {"requests":...,"p50_us":...,...}

local M = {}

function M.args(args)
  local o = {}
  for _, a in ipairs(args or {}) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then o[k] = v end
  end
  return o
end

-- A complete HTTP/1.1 request (wrk.format adds Host and Content-Length).
function M.request(method, path, token, body, extra)
  local h = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then h["X-Vault-Token"] = token end
  for k, v in pairs(extra or {}) do h[k] = v end
  return wrk.format(method, path, h, body)
end

-- The wrapping token of a response that carries wrap_info.
function M.wrap_token(body)
  if not body then return nil end
  return body:match('"wrap_info"%s*:%s*{[^}]-"token"%s*:%s*"([^"]+)"')
end

function M.is_2xx(status)
  return status >= 200 and status < 300
end

-- The response of a login: a 2xx counts as a login when it carries auth.client_token, else as a bad answer.
function M.login_response(status, body)
  if M.is_2xx(status) then
    if body and body:match('"client_token"%s*:%s*"[^"]+"') then M.count("login") else bad = bad + 1 end
  end
end

-- A FIFO of wrapping tokens, shared by the connections of one thread.
function M.queue()
  local q = { first = 1, last = 0, items = {} }
  function q.push(v) q.last = q.last + 1; q.items[q.last] = v end
  function q.pop()
    if q.first > q.last then return nil end
    local v = q.items[q.first]
    q.items[q.first] = nil
    q.first = q.first + 1
    return v
  end
  return q
end

-- Per-thread counters of requests sent per kind, and of bad answers (globals, so that done() can read them
-- with thread:get).
bad = 0
ops = {}
function M.count(name)
  ops[name] = (ops[name] or 0) + 1
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local total_bad, merged = 0, {}
  for _, t in ipairs(threads) do
    total_bad = total_bad + (t:get("bad") or 0)
    for k, v in pairs(t:get("ops") or {}) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"bad":%d,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,' ..
    '"max_us":%.0f,"ops":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    total_bad, latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.mean,
    latency.max, table.concat(parts, ",")))
end

return M
