-- wrk script of the density benchmark (scripts/bench_density.sh).
--   wrk ... -s density.lua URL -- N MODE [COUNT]
-- MODE rand: every request goes to a random one of the N sites (Host sI.test).
-- MODE seq:  the threads sweep the sites in order (warm-up: every site is
--            touched once), each thread stops after its share.
-- Each response must be 2xx and say "host=H site=S" with S == H: the page
-- prints the Host it was asked for and the id from the site's own include,
-- so a request served by the wrong site (or a 200 from an error page) counts
-- as "wrong". done() prints one line the driver parses.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  n = tonumber(args[1])
  mode = args[2] or "rand"
  nthreads = tonumber(args[3] or "1")
  non2xx, wrong, ok = 0, 0, 0
  math.randomseed(os.time() * 1000 + tid * 7919)
  reqs = {}
  for i = 1, n do
    reqs[i] = wrk.format("GET", "/index.php", { Host = "s" .. i .. ".test" })
  end
  -- seq: thread t sweeps sites t, t+T, t+2T, ...
  next_site = tid
  share = 0
  for i = tid, n, nthreads do share = share + 1 end
  sent = 0
end

function request()
  if mode == "seq" then
    local i = next_site
    if i > n then i = ((i - 1) % n) + 1 end
    next_site = next_site + nthreads
    return reqs[i]
  end
  return reqs[math.random(n)]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  else
    local h, s = string.match(body or "", "host=(%S+) site=(%S+)")
    if h and h == s then ok = ok + 1 else wrong = wrong + 1 end
  end
  if mode == "seq" and ok + non2xx + wrong >= share then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local t_ok, t_non2xx, t_wrong = 0, 0, 0
  for _, t in ipairs(threads) do
    t_ok = t_ok + (t:get("ok") or 0)
    t_non2xx = t_non2xx + (t:get("non2xx") or 0)
    t_wrong = t_wrong + (t:get("wrong") or 0)
  end
  io.write(string.format("DENSITY ok=%d non2xx=%d wrong=%d\n", t_ok, t_non2xx, t_wrong))
end
