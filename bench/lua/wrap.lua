-- Wrap: POST /v1/sys/wrapping/wrap {"payload":"..."} with X-Vault-Wrap-TTL. A 2xx without
-- wrap_info.token counts as an error ("bad").
-- args: token=... [ttl=300] [payload=...]
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  local o = bench.args(args)
  wrk.method = "POST"
  wrk.path = "/v1/sys/wrapping/wrap"
  wrk.headers["X-Vault-Token"] = o.token
  wrk.headers["X-Vault-Wrap-TTL"] = o.ttl or "300"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format('{"payload":"%s"}', o.payload or "bench-payload")
end

function response(status, headers, body)
  if bench.is_2xx(status) then
    if bench.wrap_token(body) then bench.count("wrap") else bad = bad + 1 end
  end
end
