"""A stand-in axon that checks what a dendrite sends as a Python axon reads it.

Usage: axon.py AXON_HOTKEY HASH_FIELDS REQUIRED_FIELDS (fields comma-separated).
It listens on 127.0.0.1, prints its port, then for each request one JSON
line: the signed string it recomputed from the headers, the signature
header, and the problems it found. It answers 200 with the synapse when
there are none, else 400 with {"message": problems}.
"""
import asyncio
import base64
import hashlib
import json
import sys

from aiohttp import web

AXON_HOTKEY = sys.argv[1]
HASH_FIELDS = [f for f in sys.argv[2].split(",") if f]
REQUIRED = [f for f in sys.argv[3].split(",") if f]
SYNAPSE_HEADERS = [
    "name", "timeout", "bt_header_axon_ip", "bt_header_axon_port", "bt_header_axon_hotkey",
    "bt_header_dendrite_ip", "bt_header_dendrite_version", "bt_header_dendrite_nonce",
    "bt_header_dendrite_uuid", "bt_header_dendrite_hotkey", "bt_header_dendrite_signature",
    "header_size", "total_size", "computed_body_hash",
]
last_nonce = {}


def sha3(s):
    return hashlib.sha3_256(s.encode()).hexdigest()


def check(request, body):
    problems = []
    for name in request.headers.keys():
        if (name.lower().startswith("bt_header_") or name.lower() in SYNAPSE_HEADERS) and name != name.lower():
            problems.append(f"header name {name} is not lowercase")
    h = {k.lower(): v for k, v in request.headers.items()}
    missing = [k for k in SYNAPSE_HEADERS if k not in h]
    if missing:
        return problems + [f"missing headers {missing}"], None
    route = request.path.split("/")[1]
    if h["name"] != route:
        problems.append(f"name {h['name']} is not the route {route}")
    float(h["timeout"])
    for k in ("bt_header_axon_port", "header_size", "total_size"):
        int(h[k])
    nonce = int(h["bt_header_dendrite_nonce"])
    if int(h["bt_header_dendrite_version"]) < 7002000:
        problems.append("version below 7.2.0")
    key = f"{h['bt_header_dendrite_hotkey']}:{h['bt_header_dendrite_uuid']}"
    if key in last_nonce and nonce <= last_nonce[key]:
        problems.append("Nonce is too old, a newer one was last processed")
    last_nonce[key] = nonce
    if h["bt_header_axon_hotkey"] != AXON_HOTKEY:
        problems.append("bt_header_axon_hotkey is not this axon's")
    data = json.loads(body.decode())
    body_hash = sha3("".join(sha3(str(data[f])) for f in HASH_FIELDS))
    if body_hash != h["computed_body_hash"]:
        problems.append(f"body hash {body_hash}, header {h['computed_body_hash']}")
    for f in REQUIRED:
        raw = h.get("bt_header_input_obj_" + f)
        if raw is None:
            problems.append(f"no input object for {f}")
            continue
        empty = json.loads(base64.b64decode(raw.encode()).decode("utf-8"))
        want = type(data[f])()
        if type(empty) is not type(want) or empty != want:
            problems.append(f"input object of {f} is {empty!r}, want {want!r}")
    d = data["dendrite"]
    for field in ("nonce", "uuid", "hotkey", "signature", "version", "ip"):
        if str(d[field]) != h["bt_header_dendrite_" + field]:
            problems.append(f"body dendrite.{field} {d[field]!r} differs from its header")
    if data["axon"]["hotkey"] != AXON_HOTKEY or str(data["axon"]["port"]) != h["bt_header_axon_port"]:
        problems.append("body axon differs from the headers")
    if data["name"] != route or str(data["total_size"]) != h["total_size"] or data["computed_body_hash"] != "":
        problems.append("body name, total_size or computed_body_hash is off")
    signed = f"{nonce}.{h['bt_header_dendrite_hotkey']}.{AXON_HOTKEY}.{h['bt_header_dendrite_uuid']}.{h['computed_body_hash']}"
    return problems, (signed, data)


async def handle(request):
    body = await request.read()
    try:
        problems, out = check(request, body)
    except Exception as e:  # a header Python cannot read, a body that is not the synapse
        problems, out = [f"{type(e).__name__}: {e}"], None
    signed, data = out if out else (None, None)
    print(json.dumps({"signed": signed, "signature": request.headers.get("bt_header_dendrite_signature"),
                      "problems": problems}), flush=True)
    if problems:
        return web.json_response({"message": "; ".join(problems)}, status=400,
                                 headers={"bt_header_axon_status_code": "400"})
    data["axon"]["status_code"] = 200
    data["axon"]["status_message"] = "Success"
    return web.json_response(data, headers={"bt_header_axon_status_code": "200",
                                            "bt_header_axon_status_message": "Success",
                                            "bt_header_axon_process_time": "0.0001"})


async def main():
    app = web.Application()
    app.router.add_route("POST", "/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    while True:
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main())
