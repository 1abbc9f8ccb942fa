# fetch URL FILE [HEADER...]: one HTTPS (or metadata service) GET with python3's standard library, so a boot
# needs no curl and no package: FILE ("-" for stdout) gets the body of a 2xx answer; any other answer or
# error fails, for `retry` to try again. An exported BEARER becomes the Authorization header, so a token
# never appears in a process listing.
fetch() {
  python3 - "$@@" <<'PY'
import os, shutil, sys, urllib.request
url, target, *headers = sys.argv[1:]
request = urllib.request.Request(url, headers=dict(header.split(": ", 1) for header in headers))
if os.environ.get("BEARER"):
    request.add_header("Authorization", "Bearer " + os.environ["BEARER"])
with urllib.request.urlopen(request, timeout=60) as response:
    if target == "-":
        shutil.copyfileobj(response, sys.stdout.buffer)
    else:
        with open(target + ".part", "wb") as file:
            shutil.copyfileobj(response, file)
        os.replace(target + ".part", target)
PY
}
