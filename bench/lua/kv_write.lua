-- kv-v2 write: POST /v1/<mount>/data/bench/write/<n mod keys> {"data":{"value":"<64 bytes>","n":<n>}}.
-- Every request writes a new version of one of `keys` secrets (round robin), so versions pile up as in real use.
-- args: token=... [mount=secret] [keys=1000]
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local token, mount, keys, n
local value = string.rep("v", 64)

function init(args)
  local o = bench.args(args)
  token, mount, keys, n = o.token, o.mount or "secret", tonumber(o.keys or "1000"), 0
end

function request()
  n = n + 1
  local body = string.format('{"data":{"value":"%s","n":%d}}', value, n)
  return bench.request("POST", string.format("/v1/%s/data/bench/write/%d", mount, n % keys), token, body)
end
