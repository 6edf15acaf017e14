-- wrk script: POST /api/usage with a bearer token from $TOKEN. wrk reports any answer
-- other than 2xx/3xx as "Non-2xx or 3xx responses"; socket errors are listed separately.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"provider":"custom","model":"deepseek-chat","operation_type":"chat",' ..
           '"prompt_tokens":1200,"completion_tokens":350}'
