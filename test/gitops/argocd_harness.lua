-- Runs an Argo CD health script the way Argo CD does (util/lua/lua.go: runLua and
-- ExecuteHealthLua), on Debian's Lua 5.4:
--   lua5.4 argocd_harness.lua <objects.lua> <health.lua>
-- <objects.lua> is `return {obj1, obj2, ...}`: live objects as tables, decoded from JSON
-- as Argo CD's decodeValue does (objects and arrays become tables, null is nothing;
-- test/gitops/gitops.py writes it). For each object the script runs afresh with the global
-- `obj` and, like a custom health check from argocd-cm (useOpenLibs off), only the base
-- and table libraries: no string, math, io or os, and strings have no methods. It must
-- return a table {status = <string>, message = <string or nil>} and nothing else.
-- Prints one record per object, each ended by "\30": "OK\0<status>\0<message>" or
-- "ERROR\0<why>". With LUA_COVERAGE=<file>, writes there the script's lines that ran.

local objects = assert(loadfile(arg[1], "t", {}))()
local source = assert(io.open(arg[2], "rb")):read("a")
local BASE = {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print",
              "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring",
              "type", "xpcall", "_VERSION"}

local coverage = os.getenv("LUA_COVERAGE")
local hits = {}

local function table_copy(t)
  local c = {}
  for k, v in pairs(t) do
    c[k] = v
  end
  return c
end

local function health(object)
  local env = {obj = object, table = table_copy(table)}
  for _, name in ipairs(BASE) do
    env[name] = _G[name]
  end
  env._G = env
  local script, err = load(source, "=health.lua", "t", env)
  if not script then
    return "ERROR\0" .. err
  end
  local string_meta = getmetatable("")
  local string_index = string_meta.__index
  string_meta.__index = nil -- gopher-lua without its string library
  if coverage then
    debug.sethook(function(_, line)
      if debug.getinfo(2, "S").source == "=health.lua" then
        hits[line] = true
      end
    end, "l")
  end
  local ok, hs = pcall(script)
  debug.sethook()
  string_meta.__index = string_index
  if not ok then
    return "ERROR\0" .. tostring(hs)
  end
  if type(hs) ~= "table" then
    return "ERROR\0expect table output from Lua script, not " .. type(hs)
  end
  for k, _ in pairs(hs) do
    if k ~= "status" and k ~= "message" then
      return "ERROR\0unexpected key in the result: " .. tostring(k)
    end
  end
  if type(hs.status) ~= "string" or (hs.message ~= nil and type(hs.message) ~= "string") then
    return "ERROR\0status and message must be strings"
  end
  return "OK\0" .. hs.status .. "\0" .. (hs.message or "")
end

for i = 1, #objects do
  io.write(health(objects[i]), "\30")
end
if coverage then
  local f = assert(io.open(coverage, "w"))
  for line, _ in pairs(hits) do
    f:write(line, "\n")
  end
  f:close()
end
