-- Wrap + unwrap pairs. Each request either unwraps a token that an earlier wrap returned (FIFO, shared by the
-- connections of the thread) or, when none is waiting, wraps a new payload. So wraps and unwraps alternate and
-- every wrapping token is used exactly once, by POST /v1/sys/wrapping/unwrap with the wrapping token as the
-- client token (no body), as an application receiving a wrapped secret does.
-- A response is recognised by its body (wrk does not say which request it answers): wrap_info.token means a
-- wrap (its token is queued); the payload in the data means an unwrap. Any other 2xx counts as "bad".
-- args: token=... [ttl=300] [payload=...]
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local wrap_req, payload
local waiting = bench.queue()

function init(args)
  local o = bench.args(args)
  payload = o.payload or "bench-payload"
  wrap_req = bench.request("POST", "/v1/sys/wrapping/wrap", o.token, string.format('{"payload":"%s"}', payload),
    { ["X-Vault-Wrap-TTL"] = o.ttl or "300" })
end

function request()
  local t = waiting.pop()
  if t then
    bench.count("unwrap")
    return bench.request("POST", "/v1/sys/wrapping/unwrap", t, "")
  end
  bench.count("wrap")
  return wrap_req
end

function response(status, headers, body)
  if not bench.is_2xx(status) then return end
  local t = bench.wrap_token(body)
  if t then
    waiting.push(t)
  elseif not (body and body:find(payload, 1, true)) then
    bad = bad + 1
  end
end
