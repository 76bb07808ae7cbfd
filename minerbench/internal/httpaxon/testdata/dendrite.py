"""A Python dendrite's Echo call, built by the protocol's rules with aiohttp.

Usage: dendrite.py HOST PORT AXON_HOTKEY DENDRITE_HOTKEY

It prints the string to sign, reads its signature ("0x" + hex) from stdin,
sends the request, then replays the same request, and prints what it saw as
one JSON object. Response headers are read as bittensor's dendrite reads
them: names as received, "bt_header_axon_" matched case-sensitively.
"""
import asyncio
import base64
import hashlib
import json
import sys
import time
import uuid

import aiohttp


def sha3(s):
    return hashlib.sha3_256(s.encode()).hexdigest()


def terminal(**kw):
    keys = ["status_code", "status_message", "process_time", "ip", "port",
            "version", "nonce", "uuid", "hotkey", "signature"]
    return {k: kw.get(k) for k in keys}


async def call(session, url, headers, body):
    async with session.post(url, headers=headers, json=body) as r:
        payload = await r.json()  # needs content-type: application/json
        axon = {k.split("bt_header_axon_")[1]: v
                for k, v in r.headers.items() if "bt_header_axon_" in k}
        return {"status": r.status, "json": payload, "headers": dict(r.headers),
                "header_names": list(r.headers.keys()), "axon": axon}


async def main():
    host, port, axon_hotkey, dendrite_hotkey = sys.argv[1:5]
    text = "héllo, wörld"
    body_hash = sha3(sha3(str(text)))
    nonce = time.time_ns()
    uid = str(uuid.uuid1())
    print(f"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uid}.{body_hash}", flush=True)
    signature = sys.stdin.readline().strip()
    headers = {
        "name": "Echo",
        "timeout": str(12.0),
        "bt_header_axon_ip": host,
        "bt_header_axon_port": str(port),
        "bt_header_axon_hotkey": axon_hotkey,
        "bt_header_dendrite_ip": "203.0.113.7",
        "bt_header_dendrite_version": str(10002000),
        "bt_header_dendrite_nonce": str(nonce),
        "bt_header_dendrite_uuid": uid,
        "bt_header_dendrite_hotkey": dendrite_hotkey,
        "bt_header_dendrite_signature": signature,
        "bt_header_input_obj_text": base64.b64encode(json.dumps(type(text)()).encode()).decode(),
        "header_size": "464",
        "total_size": "2973",
        "computed_body_hash": body_hash,
    }
    body = {
        "name": "Echo", "timeout": 12.0, "total_size": 2973, "header_size": 0,
        "dendrite": terminal(ip="203.0.113.7", version=10002000, nonce=nonce, uuid=uid,
                             hotkey=dendrite_hotkey, signature=signature),
        "axon": terminal(ip=host, port=int(port), hotkey=axon_hotkey),
        "computed_body_hash": "", "text": text,
    }
    url = f"http://{host}:{port}/Echo"
    async with aiohttp.ClientSession() as session:
        first = await call(session, url, headers, body)
        replay = await call(session, url, headers, body)
    print(json.dumps({"text": text, "first": first, "replay": replay,
                      "expected_hash": sha3(sha3(text.upper()))}))


asyncio.run(main())
