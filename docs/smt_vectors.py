#!/usr/bin/env python3
"""Worked examples of the authenticated state tree (docs/FORMAT.md §6.6), computed independently.

This script implements §6.6 from the text of FORMAT.md alone, with nothing but hashlib: it does
not share code with ledger/smt.cc. It prints the hex that FORMAT.md §6.6 shows and that
tests/ledger/smt_test.cc asserts (test SmtVectors). Run it from anywhere with

    python3 docs/smt_vectors.py

and compare its output with the "Worked example" block of FORMAT.md §6.6. It also checks every
proof it prints with its own verifier (and checks that a few altered proofs are refused).
"""

import hashlib

E = bytes(32)  # hash of an empty subtree


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tagged_hash(tag: str, msg: bytes) -> bytes:
    """BIP-340 tagged hash, FORMAT.md §2.2."""
    t = sha256(tag.encode("utf-8"))
    return sha256(t + t + msg)


def key_hash(state_key: str) -> bytes:
    return tagged_hash("certledger/smt/key", state_key.encode("utf-8"))


def value_hash(value: bytes) -> bytes:
    return tagged_hash("certledger/smt/value", value)


def leaf_hash(k: bytes, v: bytes) -> bytes:
    return sha256(b"\x00" + k + v)


def inner_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def bit(k: bytes, i: int) -> int:
    """Bit i of k, i = 0 being the most significant bit of byte 0."""
    return (k[i // 8] >> (7 - i % 8)) & 1


def subtree_hash(entries, depth):
    """Hash of the subtree at `depth` that holds `entries` (a list of (K, V))."""
    if not entries:
        return E
    if len(entries) == 1:
        k, v = entries[0]
        return leaf_hash(k, v)
    left = [e for e in entries if bit(e[0], depth) == 0]
    right = [e for e in entries if bit(e[0], depth) == 1]
    return inner_hash(subtree_hash(left, depth + 1), subtree_hash(right, depth + 1))


def root_of(entries: dict) -> bytes:
    return subtree_hash(sorted(entries.items()), 0)


def list_nodes(entries, depth=0, prefix=""):
    """(prefix, kind, hash) of every non-empty node, parents before children."""
    h = subtree_hash(entries, depth)
    if not entries:
        return []
    if len(entries) == 1:
        return [(prefix, "leaf", h)]
    left = [e for e in entries if bit(e[0], depth) == 0]
    right = [e for e in entries if bit(e[0], depth) == 1]
    return ([(prefix, "inner", h)] + list_nodes(left, depth + 1, prefix + "0") +
            list_nodes(right, depth + 1, prefix + "1"))


def prove(entries: dict, k: bytes) -> bytes:
    """The compact proof for key k, computed from the entries (no stored tree)."""
    here = sorted(entries.items())
    depth = 0
    siblings = []  # one per level walked, E included
    while len(here) >= 2:
        same = [e for e in here if bit(e[0], depth) == bit(k, depth)]
        other = [e for e in here if bit(e[0], depth) != bit(k, depth)]
        siblings.append(subtree_hash(other, depth + 1))
        here = same
        depth += 1
    out = bytearray(depth.to_bytes(2, "little"))
    bitmap = bytearray((depth + 7) // 8)
    for j, s in enumerate(siblings):
        if s != E:
            bitmap[j // 8] |= 0x80 >> (j % 8)
    out += bitmap
    for s in siblings:
        if s != E:
            out += s
    if not here:
        out.append(0)
    elif here[0][0] == k:
        out.append(1)
        out += here[0][1]
    else:
        out.append(2)
        out += here[0][0] + here[0][1]
    return bytes(out)


def verify(proof: bytes, root: bytes, k: bytes, v):
    """True iff `proof` shows (k, v) present (v is bytes) or k absent (v is None) under root."""
    if len(proof) < 2:
        return False
    d = int.from_bytes(proof[0:2], "little")
    if d > 256:
        return False
    pos = 2
    nbitmap = (d + 7) // 8
    if len(proof) < pos + nbitmap:
        return False
    bitmap = proof[pos:pos + nbitmap]
    pos += nbitmap
    for j in range(d, nbitmap * 8):  # padding bits must be zero
        if bitmap[j // 8] & (0x80 >> (j % 8)):
            return False
    siblings = []
    for j in range(d):
        if bitmap[j // 8] & (0x80 >> (j % 8)):
            if len(proof) < pos + 32:
                return False
            siblings.append(proof[pos:pos + 32])
            pos += 32
            if siblings[-1] == E:
                return False  # a listed sibling is never E
        else:
            siblings.append(E)
    if len(proof) < pos + 1:
        return False
    kind = proof[pos]
    pos += 1
    if d > 0 and siblings[d - 1] == E:
        return False  # non-canonical: the deepest sibling is never empty
    if kind == 0:
        node = E
        if v is not None:
            return False
    elif kind == 1:
        if len(proof) < pos + 32:
            return False
        pv = proof[pos:pos + 32]
        pos += 32
        if v is None or pv != v:
            return False
        node = leaf_hash(k, pv)
    elif kind == 2:
        if len(proof) < pos + 64:
            return False
        k2, v2 = proof[pos:pos + 32], proof[pos + 32:pos + 64]
        pos += 64
        if v is not None or k2 == k or any(bit(k2, i) != bit(k, i) for i in range(d)):
            return False
        node = leaf_hash(k2, v2)
    else:
        return False
    if pos != len(proof):
        return False
    for j in range(d - 1, -1, -1):
        s = siblings[j]
        if node == E and s == E:
            node = E
        elif bit(k, j):
            node = inner_hash(s, node)
        else:
            node = inner_hash(node, s)
    return node == root


def terminal_kind(proof: bytes) -> int:
    d = int.from_bytes(proof[0:2], "little")
    nbitmap = (d + 7) // 8
    present = sum(bin(b).count("1") for b in proof[2:2 + nbitmap])
    return proof[2 + nbitmap + 32 * present]


ENTRIES = [
    ("cert/11100000000013338W011.11110000000021135M.20230329701", bytes([1, 2, 3])),
    ("doc/" + "0" * 64, bytes([4, 5, 6])),
    ("seq/11110000000021135M", (1).to_bytes(8, "little")),
]


def main():
    print("empty root                 ", E.hex())
    print("TaggedHash tag hashes:")
    for tag in ("certledger/smt/key", "certledger/smt/value"):
        print("  SHA256(%r) = %s" % (tag, sha256(tag.encode()).hex()))
    kv = {}
    for i, (key, value) in enumerate(ENTRIES):
        k, v = key_hash(key), value_hash(value)
        kv[k] = v
        print("entry %d key   %r" % (i + 1, key))
        print("        value %s" % value.hex())
        print("        K     %s" % k.hex())
        print("        V     %s" % v.hex())
        print("        LeafHash(K, V) %s" % leaf_hash(k, v).hex())
        print("        first bits of K: %s" % "".join(str(bit(k, j)) for j in range(8)))

    k1 = key_hash(ENTRIES[0][0])
    one = {k1: kv[k1]}
    root1 = root_of(one)
    assert root1 == leaf_hash(k1, kv[k1])
    print("root, entry 1 only         ", root1.hex())
    root3 = root_of(kv)
    print("root, entries 1-3          ", root3.hex())
    print("nodes of the three-entry tree (path from the root as bits, root = '-'):")
    for prefix, kind, h in list_nodes(sorted(kv.items())):
        print("  %-6s %-5s %s" % (prefix or "-", kind, h.hex()))

    presence = prove(kv, k1)
    assert terminal_kind(presence) == 1 and verify(presence, root3, k1, kv[k1])
    print("presence proof, entry 1    ", presence.hex())

    # Absent keys: the first of "absent/0", "absent/1", ... whose proof ends in an empty
    # subtree (kind 0) and the first whose proof ends in another leaf (kind 2).
    found = {}
    n = 0
    while len(found) < 2:
        name = "absent/%d" % n
        k = key_hash(name)
        p = prove(kv, k)
        kind = terminal_kind(p)
        if kind not in found:
            assert verify(p, root3, k, None) and not verify(p, root3, k, bytes(32))
            found[kind] = (name, k, p)
        n += 1
    for kind in (0, 2):
        name, k, p = found[kind]
        print("absence proof kind %d, key %r" % (kind, name))
        print("        K     %s" % k.hex())
        print("        proof %s" % p.hex())

    # The one-entry tree: absence of entry 2 is a kind 2 terminal at depth 0.
    k2 = key_hash(ENTRIES[1][0])
    p = prove(one, k2)
    assert verify(p, root1, k2, None)
    print("absence of entry 2 in the one-entry tree", p.hex())

    # Self-checks of the verifier: any single-bit flip of the presence proof is refused.
    for i in range(len(presence) * 8):
        bad = bytearray(presence)
        bad[i // 8] ^= 0x80 >> (i % 8)
        assert not verify(bytes(bad), root3, k1, kv[k1]), i
    print("self-checks passed")


if __name__ == "__main__":
    main()
