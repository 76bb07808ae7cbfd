"""The gRPC side of a Bittensor 2.0.4 peer, made with grpcio as 2.0.4 made it.

client ADDRESS COMPRESSION REQUEST METADATA ANSWER
    Sends the TensorMessage bytes in the file REQUEST to /Bittensor/Forward on
    a channel compressing as 2.0.4's receptor did for --dendrite.compression,
    with METADATA (a JSON list of [key, value] pairs, in order), and writes
    the answer's bytes to the file ANSWER.

server COMPRESSION ANSWER
    Serves /Bittensor/Forward on a loopback port, compressing as 2.0.4's axon
    did for --axon.compression, answering every call with the TensorMessage
    bytes in the file ANSWER. It prints the port, then serves until its
    standard input closes.

COMPRESSION is gzip, deflate or none. Messages stay bytes: no generated
protobuf code is needed.
"""
import json
import sys
from concurrent import futures

import grpc

COMPRESSIONS = {
    "gzip": grpc.Compression.Gzip,
    "deflate": grpc.Compression.Deflate,
    "none": grpc.Compression.NoCompression,
}
FORWARD = "/Bittensor/Forward"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def client(address, compression, request, metadata, answer):
    channel = grpc.insecure_channel(
        address,
        compression=COMPRESSIONS[compression],
        options=[
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
            ("grpc.keepalive_time_ms", 100000),
        ],
    )
    forward = channel.unary_unary(FORWARD)
    pairs = [tuple(pair) for pair in json.loads(metadata)]
    got = forward(read(request), metadata=pairs, timeout=30)
    with open(answer, "wb") as f:
        f.write(got)
    channel.close()


def server(compression, answer):
    reply = read(answer)

    class Handler(grpc.GenericRpcHandler):
        def service(self, details):
            if details.method == FORWARD:
                return grpc.unary_unary_rpc_method_handler(lambda request, context: reply)
            return None

    srv = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        handlers=[Handler()],
        compression=COMPRESSIONS[compression],
    )
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    print(port, flush=True)
    sys.stdin.read()
    srv.stop(0)


if __name__ == "__main__":
    {"client": client, "server": server}[sys.argv[1]](*sys.argv[2:])
