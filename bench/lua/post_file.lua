-- POST a fixed JSON body read from a file: POST <path> with the body of <body> (a file bench/run wrote).
-- args: token=... path=/v1/... body=/path/to/file.json
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local token, path, body

function init(args)
  local o = bench.args(args)
  token, path = o.token, o.path
  local f = assert(io.open(o.body, "rb"))
  body = f:read("*a")
  f:close()
end

function request()
  return bench.request("POST", path, token, body)
end
