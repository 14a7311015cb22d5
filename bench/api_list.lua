-- wrk script: the four list queries of bench/api_list.py, in turn, with an API token.
--   TOKEN=$(...) wrk -t1 -c8 -d20s --latency -s bench/api_list.lua http://127.0.0.1:8000
-- wrk (Debian package `wrk`) spends far less CPU per request than the Python client,
-- which matters when the load generator shares the server's cores. wrk reports any
-- answer that is not 2xx/3xx as "Non-2xx or 3xx responses".
local paths = {
  "/api/v1/requests/?status=new,in_progress&ordering=-created_at&page_size=50",
  "/api/v1/requests/?status=in_progress&ordering=-last_message_at&page_size=50",
  "/api/v1/requests/?status=closed&ordering=-updated_at&page_size=50",
  "/api/v1/requests/?status=new&ordering=created_at&page_size=50",
}
local headers = {["Authorization"] = "Token " .. os.getenv("TOKEN"), ["Accept"] = "application/json"}
local n = 0

request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end

