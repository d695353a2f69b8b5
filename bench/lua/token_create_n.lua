-- Lease seeding for bench/leases: POST /v1/auth/token/create with the root token until n tokens are created (each
-- a child token with an auth lease), then print "CREATED <n> <refused>" and exit wrk (run it with -t1: wrk itself
-- would wait out its -d duration after a thread stops).
-- args: token=...  n=<tokens for this thread>  and either ttl=<seconds> (every token the same TTL) or
--       expire_at=<unix seconds> (each token's TTL is chosen so that all expire in that same second).
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local o
local created = 0

function init(args)
  o = bench.args(args)
  o.n = tonumber(o.n)
  o.ttl = tonumber(o.ttl or "0")
  o.expire_at = tonumber(o.expire_at or "0")
end

function request()
  local ttl = o.ttl
  if o.expire_at > 0 then
    ttl = math.max(1, o.expire_at - os.time())
  end
  return bench.request("POST", "/v1/auth/token/create", o.token, '{"ttl":"' .. ttl .. 's"}')
end

function response(status, headers, body)
  if status == 200 then
    created = created + 1
    bench.count("create")
  else
    bad = bad + 1
  end
  if created >= o.n or bad > 0 then
    io.write(string.format("CREATED %d %d\n", created, bad))
    io.flush()
    os.exit(0)
  end
end
