-- wrk: each request takes the next line of FILE (tab-separated: path, then optional Authorization
-- and If-None-Match; "-" for none), so every phone of the generated directory is asked in turn.
-- A FILE with %d is one file per wrk thread (Benchmarks/phones.py's config.%d.txt: each phone's
-- Digest nc counts up within one thread), read from its first line; another is shared, from a
-- random line. A second argument "200" leaves If-None-Match out (the full answer each time).
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local lines = {}
local conditional = true
function init(args)
  local file = args[1]
  local own = string.find(file, "%%d") ~= nil
  if own then file = string.format(file, id) end
  conditional = args[2] ~= "200"
  for line in io.lines(file) do
    local fields = {}
    for field in string.gmatch(line, "[^\t]+") do table.insert(fields, field) end
    table.insert(lines, fields)
  end
  counter = own and 0 or math.random(#lines)
end
function request()
  counter = counter % #lines + 1
  local f = lines[counter]
  local headers = { ["User-Agent"] = "Yealink SIP-T46U 108.86.0.45" }
  if f[2] and f[2] ~= "-" then headers["Authorization"] = f[2] end
  if f[3] and conditional then headers["If-None-Match"] = f[3] end
  return wrk.format("GET", f[1], headers)
end
