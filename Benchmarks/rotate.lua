-- wrk: each request takes the next line of FILE (tab-separated: path, then optional Authorization
-- and If-None-Match; "-" for none), so every phone of the generated directory is asked in turn.
local lines = {}
function init(args)
  for line in io.lines(args[1]) do
    local fields = {}
    for field in string.gmatch(line, "[^\t]+") do table.insert(fields, field) end
    table.insert(lines, fields)
  end
  counter = math.random(#lines)
end
function request()
  counter = counter % #lines + 1
  local f = lines[counter]
  local headers = { ["User-Agent"] = "Yealink SIP-T46U 108.86.0.45" }
  if f[2] and f[2] ~= "-" then headers["Authorization"] = f[2] end
  if f[3] then headers["If-None-Match"] = f[3] end
  return wrk.format("GET", f[1], headers)
end
