#!/usr/bin/env python3
"""Reference implementation ("oracle") of Canonical diff hash v1.

Usage: python3 diff_hash_ref.py [--json] REPO BASE HEAD

Written independently from the Rust implementation, from the specification
text only, using nothing but the Python 3.11 standard library and the `git`
command-line tool.  Deliberately simple rather than fast.

Specification (Canonical diff hash v1):
 1. List every non-directory entry of BASE's and HEAD's tree, recursively,
    with its full path (components joined by "/", raw bytes), its mode as
    stored in the tree written in ASCII octal without leading zeros, and its
    object id.
 2. A path is changed when present on one side only, or present on both with
    a different mode or object id.  (A file on one side / directory on the
    other yields the file and every entry under the directory as changed;
    this falls out of rule 1 + 2 directly.)
 3. Digest per side: SHA-256 of the blob content for files and symlinks;
    for a gitlink (mode 160000) SHA-256 of the 40-char lowercase hex commit
    id in ASCII; 32 zero bytes when absent (mode then written "0").
 4. Stream: b"dao-diff-hash/v1\\n", then per changed path in ascending byte
    order: path 0x00 base_mode 0x00 base_digest(32) head_mode 0x00
    head_digest(32).
 5. Result: "sha256:" + lowercase hex SHA-256 of the stream.

Trees are read raw with `git cat-file tree`, because `git ls-tree`
canonicalises modes (e.g. a stored 100664 is shown as 100644) while the
specification asks for the mode as stored.
"""
import hashlib
import json
import os
import subprocess
import sys

HEADER = b"dao-diff-hash/v1\n"
ZERO_DIGEST = bytes(32)
S_IFMT = 0o170000
S_IFDIR = 0o040000
S_IFGITLINK = 0o160000


def git(repo, *args):
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", "-C", repo, *args], check=True,
                          stdout=subprocess.PIPE, env=env).stdout


def raw_oid_len(repo):
    fmt = git(repo, "rev-parse", "--show-object-format").strip()
    return {b"sha1": 20, b"sha256": 32}[fmt]


def parse_tree(raw, oid_len):
    """Yield (mode_int, name_bytes, oid_hex) from a raw tree object."""
    i = 0
    while i < len(raw):
        sp = raw.index(b" ", i)
        nul = raw.index(b"\0", sp)
        mode = int(raw[i:sp].decode("ascii"), 8)
        name = raw[sp + 1:nul]
        oid = raw[nul + 1:nul + 1 + oid_len].hex()
        if len(oid) != 2 * oid_len:
            raise ValueError("truncated tree object")
        yield mode, name, oid
        i = nul + 1 + oid_len


def list_entries(repo, tree_oid, oid_len, prefix=b"", out=None):
    """Map full path (bytes) -> (mode_int, oid_hex) for non-directory entries."""
    if out is None:
        out = {}
    for mode, name, oid in parse_tree(git(repo, "cat-file", "tree", tree_oid), oid_len):
        path = prefix + name
        if mode & S_IFMT == S_IFDIR:
            list_entries(repo, oid, oid_len, path + b"/", out)
        else:
            if path in out:
                raise ValueError("duplicate path in tree: %r" % path)
            out[path] = (mode, oid)
    return out


def side(repo, entry):
    """Return (mode_bytes, digest, content_bytes_hashed) for one side."""
    if entry is None:
        return b"0", ZERO_DIGEST, 0
    mode, oid = entry
    mode_bytes = format(mode, "o").encode("ascii")
    if mode & S_IFMT == S_IFGITLINK:
        return mode_bytes, hashlib.sha256(oid.lower().encode("ascii")).digest(), 0
    content = git(repo, "cat-file", "blob", oid)
    return mode_bytes, hashlib.sha256(content).digest(), len(content)


def diff_hash(repo, base, head):
    oid_len = raw_oid_len(repo)
    sides = []
    for rev in (base, head):
        commit = git(repo, "rev-parse", "--verify", "--end-of-options",
                     rev + "^{commit}").strip().decode("ascii")
        tree = git(repo, "rev-parse", "--verify", commit + "^{tree}").strip().decode("ascii")
        sides.append(list_entries(repo, tree, oid_len))
    b_entries, h_entries = sides
    changed = sorted(p for p in set(b_entries) | set(h_entries)
                     if b_entries.get(p) != h_entries.get(p))
    stream = bytearray(HEADER)
    bytes_hashed = 0
    for path in changed:
        b_mode, b_digest, b_size = side(repo, b_entries.get(path))
        h_mode, h_digest, h_size = side(repo, h_entries.get(path))
        stream += path + b"\0" + b_mode + b"\0" + b_digest + h_mode + b"\0" + h_digest
        bytes_hashed += b_size + h_size
    return "sha256:" + hashlib.sha256(stream).hexdigest(), len(changed), bytes_hashed


def main(argv):
    as_json = False
    if argv and argv[0] == "--json":
        as_json, argv = True, argv[1:]
    if len(argv) != 3:
        sys.exit("usage: diff_hash_ref.py [--json] REPO BASE HEAD")
    try:
        h, n, m = diff_hash(*argv)
    except subprocess.CalledProcessError as e:
        sys.exit("diff_hash_ref: git failed: %s" % " ".join(map(str, e.cmd)))
    if as_json:
        print(json.dumps({"diff_hash": h, "changed_paths": n, "bytes_hashed": m}))
    else:
        print(h)


if __name__ == "__main__":
    main(sys.argv[1:])
