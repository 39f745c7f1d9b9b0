-- Argo CD health check for s2i-operator's S2iRun and S2iBuilder
-- (devops.kubesphere.io/v1alpha1). See deploy/argocd/README.md.
--
-- Argo CD sets the global `obj` to the live object and reads the returned table
-- {status = ..., message = ...}. The script runs in gopher-lua (Lua 5.1 syntax) with only
-- the base and table libraries (no `string`, no string methods), so it uses nothing else.
--
-- S2iRun:     Progressing while pending, queued or running; Healthy when Successful;
--             Degraded when Failed, with "<reason>: <message>".
-- S2iBuilder: Healthy when Ready; Degraded when its configuration is invalid (Stalled);
--             Progressing until the operator has looked at the current spec.
-- Objects written by the upstream KubeSphere s2ioperator carry no conditions: a run is
-- judged by status.runState alone, a builder is Healthy.

local function str(v)
  if type(v) == "string" then
    return v
  end
  return ""
end

local function condition(status, ctype)
  if type(status) ~= "table" or type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if type(c) == "table" and c.type == ctype then
      return c
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

-- "<reason>: <message>", or whichever of the two is set, or the fallback.
local function describe(c, fallback)
  local reason, message = str(c.reason), str(c.message)
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  if reason ~= "" then
    return reason
  end
  if message ~= "" then
    return message
  end
  return fallback
end

local function number(v)
  if type(v) == "number" then
    return v
  end
  return nil
end

-- The operator has not yet written a status for the current spec (kstatus'
-- LatestGenerationNotObserved). Checked only when both numbers are present: objects of
-- the upstream operator have no observedGeneration.
local function stale(o, status)
  local generation = number(type(o.metadata) == "table" and o.metadata.generation or nil)
  local observed = number(status.observedGeneration)
  if generation ~= nil and observed ~= nil and observed ~= generation then
    return "waiting for the operator to observe generation " .. generation ..
      " (status is for generation " .. observed .. ")"
  end
  return nil
end

local function run_health(o)
  local status = o.status
  if type(status) ~= "table" or next(status) == nil then
    return {status = "Progressing", message = "Pending: waiting for the operator to start the run"}
  end
  local why = stale(o, status)
  if why ~= nil then
    return {status = "Progressing", message = why}
  end
  -- kstatus conditions, as s2i-operator writes them.
  local stalled = condition(status, "Stalled")
  if is_true(stalled) then
    return {status = "Degraded", message = describe(stalled, "the run failed")}
  end
  local reconciling = condition(status, "Reconciling")
  if is_true(reconciling) then
    return {status = "Progressing", message = describe(reconciling, "the run is in progress")}
  end
  local ready = condition(status, "Ready")
  if is_true(ready) then
    return {status = "Healthy", message = describe(ready, "the run succeeded")}
  end
  -- The Succeeded condition (s2i-operator before kstatus conditions).
  local succeeded = condition(status, "Succeeded")
  if succeeded ~= nil then
    if succeeded.status == "True" then
      return {status = "Healthy", message = describe(succeeded, "the run succeeded")}
    end
    if succeeded.status == "False" then
      return {status = "Degraded", message = describe(succeeded, "the run failed")}
    end
    return {status = "Progressing", message = describe(succeeded, "the run is in progress")}
  end
  -- runState alone (the upstream operator).
  local state = str(status.runState)
  if state == "Successful" then
    return {status = "Healthy", message = "Successful"}
  end
  if state == "Failed" then
    return {status = "Degraded", message = "Failed: the run failed (no reason recorded)"}
  end
  if state == "Running" then
    return {status = "Progressing", message = "Running"}
  end
  if state == "" then
    return {status = "Progressing", message = "Pending: the run has not started"}
  end
  return {status = "Progressing", message = state}
end

local function builder_health(o)
  local status = o.status
  if type(status) ~= "table" or next(status) == nil then
    return {status = "Progressing", message = "waiting for the operator to check the builder"}
  end
  local why = stale(o, status)
  if why ~= nil then
    return {status = "Progressing", message = why}
  end
  local stalled = condition(status, "Stalled")
  if is_true(stalled) then
    return {status = "Degraded", message = describe(stalled, "the builder is not usable")}
  end
  local reconciling = condition(status, "Reconciling")
  if is_true(reconciling) then
    return {status = "Progressing", message = describe(reconciling, "the builder is being checked")}
  end
  local ready = condition(status, "Ready")
  if ready ~= nil then
    if ready.status == "True" then
      return {status = "Healthy", message = describe(ready, "runs of this builder can build")}
    end
    if ready.status == "False" then
      return {status = "Degraded", message = describe(ready, "runs of this builder cannot build")}
    end
    return {status = "Progressing", message = describe(ready, "the builder is being checked")}
  end
  -- The upstream operator writes no conditions: a builder is configuration, Healthy once
  -- it exists; say how its runs went.
  local message = "runCount " .. (number(status.runCount) or 0)
  if str(status.lastRunName) ~= "" then
    message = message .. ", last run " .. status.lastRunName .. " " .. str(status.lastRunState)
  end
  return {status = "Healthy", message = message}
end

if type(obj) ~= "table" then
  return {status = "Unknown", message = "no object"}
end
if obj.kind == "S2iRun" then
  return run_health(obj)
end
if obj.kind == "S2iBuilder" then
  return builder_health(obj)
end
return {status = "Unknown", message = "not an S2iRun or S2iBuilder: " .. str(obj.kind)}
