-- A static GET with the client token: sys/health, kv-v2 read, token lookup-self.
-- args: path=/v1/... [token=...]
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  local o = bench.args(args)
  wrk.method = "GET"
  wrk.path = o.path
  if o.token and o.token ~= "" then wrk.headers["X-Vault-Token"] = o.token end
  -- No request()/response() functions: wrk sends this one pre-built request and skips parsing bodies.
end
