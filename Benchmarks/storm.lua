-- A boot storm for wrk: every phone in the file (one "MAC USER-AGENT" a line) fetches its config
-- once, the way a url_key phone (Sangoma) gets there: `cfg<mac>.xml` without a secret (the answer
-- names its provisioning URL with the secret and sends its app key to /app/pending), then the
-- same file under that URL (claims the MAC and gets the real config). Each wrk thread takes every
-- Nth phone; a phone is done when its second answer carries a real app key. A thread stops when
-- its phones are all done or failed and writes its counts to STORM_OUT.<thread>; wrk itself runs
-- its whole duration, so the caller times the storm by those files and then stops wrk.
-- Usage: STORM_FILE=phones.txt STORM_OUT=/tmp/storm wrk -t2 -c64 -d600s -s storm.lua http://127.0.0.1:PORT

local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local phones, pending, issued, done, failed, idle = {}, {}, 0, 0, 0, 0
local agents, state = {}, {}
-- wrk calls request() once on thread 0 right after init() to check the script, and sends
-- nothing: that call must not take a phone.
local checking = false

function init(args)
  local threads = tonumber(os.getenv("STORM_THREADS") or "1")
  local i = 0
  for line in io.lines(os.getenv("STORM_FILE")) do
    if i % threads == id then
      local mac, agent = line:match("^(%x+) (.+)$")
      phones[#phones + 1] = mac
      agents[mac] = agent
    end
    i = i + 1
  end
  checking = id == 0
end

-- Writes "phones done failed" and, one a line, the phones that never finished.
local function finish()
  local f = io.open(os.getenv("STORM_OUT") .. "." .. id, "w")
  f:write(string.format("%d %d %d\n", #phones, done, failed))
  for _, mac in ipairs(phones) do
    if state[mac] ~= "done" and state[mac] ~= "failed" then f:write(mac .. " " .. tostring(state[mac]) .. "\n") end
  end
  f:close()
  wrk.thread:stop()
end

function request()
  if checking then
    checking = false
    return wrk.format("GET", "/health")
  end
  local next = table.remove(pending)
  if next then
    return wrk.format("GET", next[1], { ["User-Agent"] = agents[next[2]] })
  end
  if issued < #phones then
    issued = issued + 1
    local mac = phones[issued]
    state[mac] = "asked"
    return wrk.format("GET", "/provision/cfg" .. mac .. ".xml", { ["User-Agent"] = agents[mac] })
  end
  -- Every phone asked; answers for some are still on their way: a cheap request meanwhile. An
  -- answer that never comes (a lost request) ends the thread after 100,000 of these.
  idle = idle + 1
  if idle > 100000 then finish() end
  return wrk.format("GET", "/health")
end

function response(status, headers, body)
  if body:sub(1, 2) == "{\"" then return end -- /health
  local mac = body:match("template %([^,]+, (%x+)%)")
  if status ~= 200 or not mac then
    failed = failed + 1
    if mac then state[mac] = "failed" end
  elseif body:find("/app/pending", 1, true) then
    local path = body:match("ServerURL\">https?://[^/]+(/[^<]*)</P237>")
    if path then
      pending[#pending + 1] = { path .. "cfg" .. mac .. ".xml", mac }
      state[mac] = "proving"
    else
      failed = failed + 1
      state[mac] = "failed"
    end
  else
    done = done + 1
    state[mac] = "done"
  end
  if done + failed == #phones then finish() end
end
