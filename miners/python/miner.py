#!/usr/bin/python3
"""A minerbench miner in Python: a go-plugin plugin that serves a Bittensor axon.

A minerbench host starts it with MINERBENCH_PLUGIN=miner-v1. It serves the
host's control service (minerbench.plugin.Miner: Info, Run, Stop) over
go-plugin's gRPC protocol, with mutual TLS when the host sends its
certificate. On Run it serves a Bittensor 2.0.x axon on a loopback port that
answers every forward query with zeros of shape [batch, seq, 1024] float32,
and announces it on the chain at subtensor.chain_endpoint.

It checks the shape of each query but not its signature: the sr25519
signature, the nonce and the sender in the request metadata are not verified,
so any caller is answered. It does not watch its parent process: the host
ends it.

The interpreter is Debian's, which sees the packages apt installs:
python3-grpcio, python3-msgpack, python3-protobuf and python3-cryptography.
"""

import base64
import datetime
import functools
import ipaddress
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
import msgpack
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf import empty_pb2, wrappers_pb2

import bittensor_pb2 as wire
import chain_pb2
import hotkey
import miner_pb2

NAME = "python"
MAGIC_COOKIE = ("MINERBENCH_PLUGIN", "miner-v1")
CORE_PROTOCOL, APP_PROTOCOL = 1, 1
PROTOCOL_VERSION = 204  # Bittensor 2.0.4
NETWORK_DIM = 1024

# Every setting the miner accepts, with its default; Run refuses any other.
DEFAULTS = {
    "wallet.name": "default",
    "wallet.hotkey": "default",
    "wallet.seed": "",
    "axon.ip": "127.0.0.1",
    "axon.port": "0",
    "subtensor.network": "mock",
    "subtensor.chain_endpoint": "",
}

log = logging.getLogger(NAME)


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s [%(levelname)s] %(name)s: %(message)s")
    if os.environ.get(MAGIC_COOKIE[0]) != MAGIC_COOKIE[1]:
        sys.exit(f"{sys.argv[0]} is a minerbench miner plugin: name it in a bench file's MinerSpec.Binary; a minerbench host runs it")
    # The host handles Ctrl-C and stops its miners; the terminal sends SIGINT
    # to the whole process group, so ignore it as go-plugin's plugins do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    shutdown = threading.Event()
    controller = Controller()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((
        service_handler(miner_pb2, "Miner", controller),
        health_handler(),
        shutdown_handler(shutdown),
    ))
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT")
    if client_cert:
        credentials, cert = tls_credentials(client_cert)
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port, cert = server.add_insecure_port("127.0.0.1:0"), ""
    server.start()
    log.info("plugin serving on 127.0.0.1:%d (pid %d)", port, os.getpid())
    print(f"{CORE_PROTOCOL}|{APP_PROTOCOL}|tcp|127.0.0.1:{port}|grpc|{cert}", flush=True)
    shutdown.wait()
    controller.stop()
    server.stop(grace=1).wait()


def handler(service, methods):
    """Returns the gRPC handler of service, whose methods map each name to (function, request class, response class)."""
    return grpc.method_handlers_generic_handler(service, {
        name: grpc.unary_unary_rpc_method_handler(
            function, request_deserializer=request.FromString, response_serializer=response.SerializeToString,
        )
        for name, (function, request, response) in methods.items()
    })


def service_handler(pb2, name, impl):
    """Returns the handler of service name of a generated module, served by impl's methods of the same names."""
    service = pb2.DESCRIPTOR.services_by_name[name]
    return handler(service.full_name, {
        m.name: (getattr(impl, m.name), getattr(pb2, m.input_type.name), getattr(pb2, m.output_type.name))
        for m in service.methods
    })


def health_handler():
    """Returns gRPC's health service, which go-plugin asks for the service "plugin".

    HealthCheckRequest and HealthCheckResponse have one field each, numbered 1:
    the service name (a string) and the status (an enum, SERVING = 1), so they
    have the wire form of StringValue and Int32Value.
    """
    def check(request, context):
        if request.value not in ("", "plugin"):
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.value!r}")
        return wrappers_pb2.Int32Value(value=1)

    return handler("grpc.health.v1.Health", {"Check": (check, wrappers_pb2.StringValue, wrappers_pb2.Int32Value)})


def shutdown_handler(shutdown):
    """Returns go-plugin's GRPCController, whose Shutdown the host calls to end the plugin."""
    def stop(request, context):
        shutdown.set()
        return empty_pb2.Empty()

    return handler("plugin.GRPCController", {"Shutdown": (stop, empty_pb2.Empty, empty_pb2.Empty)})


def tls_credentials(client_cert):
    """Returns server credentials for go-plugin's automatic mutual TLS, and the certificate for the handshake line.

    The certificate is self-signed for "localhost", as go-plugin's own are;
    only a client presenting client_cert (PEM) is accepted. The handshake
    line carries the certificate as base64 DER without padding.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert.public_bytes(serialization.Encoding.PEM))],
        root_certificates=client_cert.encode(),
        require_client_auth=True,
    )
    return credentials, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode().rstrip("=")


class Controller:
    """The minerbench.plugin.Miner service: the host's Info, Run and Stop."""

    def __init__(self):
        self.lock = threading.Lock()
        self.axon = None

    def Info(self, request, context):
        return miner_pb2.InfoResponse(name=NAME, defaults=DEFAULTS)

    def Run(self, request, context):
        with self.lock:
            if self.axon is not None:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"miner {NAME} is already running")
            try:
                s = settings(request.settings)
            except ValueError as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"miner {NAME}: {e}")
            axon = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            axon.add_generic_rpc_handlers((service_handler(wire, "Bittensor", Axon(s["hotkey"])),))
            try:
                port = axon.add_insecure_port(f"{s['ip']}:{s['port']}")
            except RuntimeError as e:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"miner {NAME}: axon listen on {s['ip']}:{s['port']}: {e}")
            axon.start()
            endpoint = f"[{s['ip']}]:{port}" if s["ip_type"] == 6 else f"{s['ip']}:{port}"
            log.info("axon serving: hotkey=%s endpoint=%s", s["hotkey"], endpoint)
            if s["chain"]:
                try:
                    register(s, port)
                except grpc.RpcError as e:
                    axon.stop(grace=None).wait()
                    context.abort(grpc.StatusCode.UNAVAILABLE, f"miner {NAME}: serve_axon on chain {s['chain']}: {e.details()}")
                log.info("axon registered: chain=%s ip=%s port=%d", s["chain"], s["ip"], port)
            self.axon = axon
            return miner_pb2.RunResponse(hotkey=s["hotkey"], endpoint=endpoint)

    def Stop(self, request, context):
        self.stop()
        return miner_pb2.StopResponse()

    def stop(self):
        """Stops the axon, letting the queries in flight finish; it does nothing when none serves."""
        with self.lock:
            if self.axon is not None:
                self.axon.stop(grace=5).wait()
                self.axon = None


def settings(overrides):
    """Merges the host's overrides into DEFAULTS and parses them; a bad value raises ValueError naming it."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(DEFAULTS))}")
    s = {**DEFAULTS, **overrides}
    name, hot, seed = s["wallet.name"], s["wallet.hotkey"], s["wallet.seed"]
    if not name or not hot:
        raise ValueError(f"settings wallet.name={name!r} wallet.hotkey={hot!r}: want non-empty wallet and hotkey names")
    if seed:
        digits = seed[2:] if seed.startswith("0x") else ""
        try:
            secret = bytes.fromhex(digits) if len(digits) == 64 else None
        except ValueError:
            secret = None
        if secret is None:
            raise ValueError('setting wallet.seed: want "0x" followed by 64 hex digits (a 32-byte mini secret key)')
    else:
        secret = hotkey.mock_seed(f"{name}/{hot}")
    try:
        ip = ipaddress.ip_address(s["axon.ip"])
    except ValueError:
        raise ValueError(f"setting axon.ip={s['axon.ip']!r}: want an IP address such as 127.0.0.1") from None
    port = s["axon.port"].strip()
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"setting axon.port={s['axon.port']!r}: want an integer from 0 to 65535")
    return {
        "hotkey": hotkey.ss58(hotkey.public_key(secret)),
        "coldkey": hotkey.ss58(hotkey.public_key(hotkey.mock_seed(name))),
        "ip": str(ip),
        "ip_type": ip.version,
        "port": int(port),
        "chain": s["subtensor.chain_endpoint"],
    }


def register(s, port):
    """Announces the axon on the chain, as Bittensor's serve_axon did."""
    service = chain_pb2.DESCRIPTOR.services_by_name["Subtensor"]
    with grpc.insecure_channel(s["chain"]) as channel:
        serve_axon = channel.unary_unary(
            f"/{service.full_name}/ServeAxon",
            request_serializer=chain_pb2.ServeAxonRequest.SerializeToString,
            response_deserializer=chain_pb2.ServeAxonResponse.FromString,
        )
        serve_axon(chain_pb2.ServeAxonRequest(
            hotkey=s["hotkey"], coldkey=s["coldkey"], ip=s["ip"], port=port, ip_type=s["ip_type"], modality=wire.TEXT,
        ), timeout=10)


class Axon:
    """The Bittensor service: answers forward text queries with zeros."""

    def __init__(self, ss58):
        self.hotkey = ss58

    def Forward(self, request, context):
        if not request.tensors:
            return self.reply(wire.EmptyRequest, "tensors: 0; want one")
        t = request.tensors[0]
        shape = list(t.shape)
        if t.modality != wire.TEXT or len(shape) != 2 or min(shape) < 1:
            return self.reply(wire.RequestShapeException, f"shape: {shape}: want [batch, seq] TEXT with both at least 1")
        if not holds_tokens(t.buffer, shape):
            return self.reply(wire.RequestDeserializationException, f"buffer: want msgpack-numpy int64 of shape {shape}")
        batch, seq = shape
        resp = self.reply(wire.Success, "Success")
        resp.tensors.add(
            version=PROTOCOL_VERSION, buffer=zeros(batch, seq), shape=[batch, seq, NETWORK_DIM],
            serializer=wire.MSGPACK, tensor_type=wire.TORCH, dtype=wire.FLOAT32, modality=wire.TENSOR, requires_grad=True,
        )
        return resp

    def Backward(self, request, context):
        return self.reply(wire.NotImplemented, "backward is not served")

    def reply(self, code, message):
        return wire.TensorMessage(version=PROTOCOL_VERSION, hotkey=self.hotkey, return_code=code, message=message)


def holds_tokens(buffer, shape):
    """Reports whether buffer is a msgpack-numpy int64 array of shape.

    Keys and the dtype may be msgpack bin or str, as packers differ; data is
    only measured, never unpickled, whatever kind says.
    """
    try:
        array = {k.decode() if isinstance(k, bytes) else k: v for k, v in msgpack.unpackb(buffer).items()}
        dtype = array["type"].decode() if isinstance(array["type"], bytes) else array["type"]
        return dtype == "<i8" and list(array["shape"]) == shape and len(array["data"]) == shape[0] * shape[1] * 8
    except Exception:
        return False


@functools.lru_cache(maxsize=16)
def zeros(batch, seq):
    """Returns the msgpack-numpy buffer of zeros of shape [batch, seq, 1024] float32.

    The map's keys are msgpack bin and its dtype a str, in the order
    msgpack-numpy writes them.
    """
    shape = [batch, seq, NETWORK_DIM]
    return msgpack.packb({b"nd": True, b"type": "<f4", b"kind": b"", b"shape": shape, b"data": bytes(4 * batch * seq * NETWORK_DIM)})


if __name__ == "__main__":
    main()
