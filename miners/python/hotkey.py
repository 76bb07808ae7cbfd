"""The SS58 address of an sr25519 hotkey, derived as minerbench's Go wallet does.

A mock hotkey's 32-byte mini secret key is blake2b-256 of a fixed domain string
and the wallet's name; the key is expanded the way Substrate's Schnorrkel does
(Ed25519 mode), its public key is that scalar times the Ristretto255 base
point, and the address is SS58 with network prefix 42. Only the public key is
computed: this miner does not sign, so it never needs the expanded secret.
"""

import hashlib

MOCK_DOMAIN = b"minerbench/wallet mock hotkey v1:"
NETWORK_PREFIX = 42

# Curve25519 in twisted Edwards form, and the Ristretto255 constants of RFC 9496.
P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
INVSQRT_A_MINUS_D = 54469307008909316920995813868745141605393597292927456921205312896311721017578
BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202
BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960
BASE = (BASE_X, BASE_Y, 1, BASE_X * BASE_Y % P)

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def mock_seed(name):
    """Returns the mini secret key of the mock wallet name."""
    return hashlib.blake2b(MOCK_DOMAIN + name.encode(), digest_size=32).digest()


def public_key(seed):
    """Returns the 32-byte sr25519 public key of a 32-byte mini secret key."""
    key = bytearray(hashlib.sha512(seed).digest()[:32])
    key[0] &= 248
    key[31] &= 63
    key[31] |= 64
    # Dividing the clamped key by the cofactor 8 leaves it below the group
    # order, so it needs no reduction.
    return ristretto_encode(multiply(int.from_bytes(key, "little") >> 3, BASE))


def ss58(public):
    """Returns the SS58 address of a 32-byte public key."""
    data = bytes([NETWORK_PREFIX]) + public
    data += hashlib.blake2b(b"SS58PRE" + data).digest()[:2]
    n, out = int.from_bytes(data, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = BASE58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def add(p, q):
    """Adds two points in extended coordinates (RFC 8032, section 5.1.4)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def multiply(n, p):
    """Returns n times the point p."""
    acc = (0, 1, 1, 0)
    while n:
        if n & 1:
            acc = add(acc, p)
        p = add(p, p)
        n >>= 1
    return acc


def negative(x):
    return x % P % 2 == 1


def absolute(x):
    return -x % P if negative(x) else x % P


def sqrt_ratio_m1(u, v):
    """Returns (whether u/v is square, the non-negative root of u/v or i*u/v)."""
    r = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    check = v * r * r % P
    correct, flipped = check == u % P, check == -u % P
    if flipped or check == -u * SQRT_M1 % P:
        r = r * SQRT_M1 % P
    return correct or flipped, absolute(r)


def ristretto_encode(point):
    """Returns the 32-byte Ristretto255 encoding of a point (RFC 9496, 4.3.2)."""
    x0, y0, z0, t0 = point
    u1 = (z0 + y0) * (z0 - y0) % P
    u2 = x0 * y0 % P
    _, invsqrt = sqrt_ratio_m1(1, u1 * u2 * u2)
    den1, den2 = invsqrt * u1 % P, invsqrt * u2 % P
    z_inv = den1 * den2 * t0 % P
    if negative(t0 * z_inv):
        x, y, den_inv = y0 * SQRT_M1 % P, x0 * SQRT_M1 % P, den1 * INVSQRT_A_MINUS_D % P
    else:
        x, y, den_inv = x0, y0, den2
    if negative(x * z_inv):
        y = -y % P
    return absolute(den_inv * (z0 - y)).to_bytes(32, "little")
