-- Threaded in-process handler (event MPM): proves which tenant's rules
-- applied to this request by trying to read its own secret and the secret
-- of the tenant named in ?other=.
function handle(r)
    r.content_type = "text/plain"
    local args = r:parseargs()
    local me = r.subprocess_env["TENANT_ID"] or "none"
    local function readable(path)
        local f = io.open(path, "r")
        if f then f:close() return "yes" end
        return "no"
    end
    local base = args.base or ""
    r:puts(string.format("tenant=%s own=%s other=%s\n", me,
        readable(base .. "/" .. me .. "/secret.txt"),
        readable(base .. "/" .. (args.other or "x") .. "/secret.txt")))
    return apache2.OK
end
