-- Token create: POST /v1/auth/token/create {"ttl":"1h"} with the root token (a child token with a lease).
-- args: token=...
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  local o = bench.args(args)
  wrk.method = "POST"
  wrk.path = "/v1/auth/token/create"
  wrk.headers["X-Vault-Token"] = o.token
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"ttl":"1h"}'
end
