-- AppRole login: POST /v1/auth/approle/login {"role_id":...,"secret_id":...} with a secret ID of unlimited use (no
-- token: the login path is unauthenticated). A 2xx without auth.client_token counts as an error ("bad").
-- args: role_id=... secret_id=...
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  local o = bench.args(args)
  wrk.method = "POST"
  wrk.path = "/v1/auth/approle/login"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format('{"role_id":"%s","secret_id":"%s"}', o.role_id, o.secret_id)
end

function response(status, headers, body)
  bench.login_response(status, body)
end
