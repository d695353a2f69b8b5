-- Rewrap chains: a wrapping token is rewrapped over and over; each rewrap invalidates the old token and returns
-- a new one, which the next request rewraps (POST /v1/sys/wrapping/rewrap {"token":"..."} with the root token).
-- A request that finds no token waiting starts a chain with a wrap, so after the first round trip there are about
-- as many chains as connections, and nearly every request is a rewrap. A 2xx without wrap_info.token is "bad".
-- args: token=... [ttl=300] [payload=...]
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local token, wrap_req
local waiting = bench.queue()

function init(args)
  local o = bench.args(args)
  token = o.token
  wrap_req = bench.request("POST", "/v1/sys/wrapping/wrap", token,
    string.format('{"payload":"%s"}', o.payload or "bench-payload"), { ["X-Vault-Wrap-TTL"] = o.ttl or "300" })
end

function request()
  local t = waiting.pop()
  if t then
    bench.count("rewrap")
    return bench.request("POST", "/v1/sys/wrapping/rewrap", token, string.format('{"token":"%s"}', t))
  end
  bench.count("wrap")
  return wrap_req
end

function response(status, headers, body)
  if not bench.is_2xx(status) then return end
  local t = bench.wrap_token(body)
  if t then
    waiting.push(t)
  else
    bad = bad + 1
  end
end
