-- userpass login: POST /v1/auth/userpass/login/<user> {"password":...} (no token: the login path is
-- unauthenticated). Each login is one bcrypt check (cost 10) on the server, so logins/s is its hashes/s.
-- A 2xx without auth.client_token counts as an error ("bad").
-- args: user=... password=...
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  local o = bench.args(args)
  wrk.method = "POST"
  wrk.path = "/v1/auth/userpass/login/" .. o.user
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format('{"password":"%s"}', o.password)
end

function response(status, headers, body)
  bench.login_response(status, body)
end
