-- POST /api/v1/qr as many different browsers (X-Forwarded-For from the
-- benchmarking range, believed from the loopback proxy).
local n = 0
request = function()
  n = n + 1
  local ip = "198.18." .. (math.floor(n / 256) % 256) .. "." .. (n % 256)
  return wrk.format("POST", "/api/v1/qr", {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, "{}")
end
