#!/usr/bin/env python3
"""Generate deterministic git fixture repositories for the diff-hash tests.

Usage: python3 make_fixtures.py OUTDIR

Creates git repositories under OUTDIR (which may exist, but must not already
contain the repositories) and prints a JSON list of cases to stdout:
    [{"name": ..., "repo": "/abs/path", "base": "<40-hex>", "head": "<40-hex>"}, ...]

Python 3.11 standard library + the git CLI only.  Everything is built with
plumbing (hash-object, update-index, write-tree, mktree, commit-tree), so no
working tree, filesystem symlink support or checkout is involved, and the
result does not depend on the user's configuration: every git call runs with
GIT_CONFIG_GLOBAL=/dev/null, GIT_CONFIG_NOSYSTEM=1, fixed author/committer
identity and dates, and -c core.autocrlf=false -c core.symlinks=true.
Object ids are therefore identical on every run (given the same object
format, SHA-1).

Exotic trees that git's index cannot produce:
  * a non-canonical file mode 100664: `git mktree` accepts it and stores it
    verbatim (git canonicalises it only when reading, e.g. `git ls-tree`
    shows 100644), so it is crafted with mktree.
  * zero-padded modes ("0100644", "040000"): `git mktree` always writes
    canonical octal and `git hash-object -t tree` refuses them
    (fsck zeroPaddedFilemode), so they are crafted with
    `git hash-object --literally`.  If the local git refuses even that, the
    case is skipped (a note goes to stderr).
"""
import hashlib
import json
import os
import subprocess
import sys

BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
BASE_ENV.update({
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Fixture Author",
    "GIT_AUTHOR_EMAIL": "author@fixtures.invalid",
    "GIT_COMMITTER_NAME": "Fixture Committer",
    "GIT_COMMITTER_EMAIL": "committer@fixtures.invalid",
    "LC_ALL": "C",
})
GIT_OPTS = ["-c", "core.autocrlf=false", "-c", "core.symlinks=true",
            "-c", "init.defaultBranch=main"]


def F(data):  # regular file
    return ("100644", data)


def X(data):  # executable file
    return ("100755", data)


def L(target):  # symlink; content is the target
    return ("120000", target)


def G(commit_hex):  # gitlink (submodule entry)
    return ("160000", commit_hex)


def fake_commit_id(label):
    return hashlib.sha1(b"fake-submodule-commit:" + label.encode()).hexdigest()


def deterministic_bytes(seed, size):
    """Pseudo-random but fully deterministic bytes (SHA-256 in counter mode)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def b(p):
    return p if isinstance(p, bytes) else p.encode("utf-8")


class Repo:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        if os.path.exists(self.path):
            sys.exit("refusing to overwrite existing %s" % self.path)
        self.commits = 0
        self.blobs = {}
        subprocess.run(["git", *GIT_OPTS, "init", "-q", "--template=", self.path],
                       check=True, env=BASE_ENV)
        self.index = os.path.join(self.path, ".git", "fixture-index")

    def git(self, *args, input=None, env=None):
        return subprocess.run(["git", *GIT_OPTS, "-C", self.path, *args], input=input,
                              check=True, stdout=subprocess.PIPE,
                              env=env or BASE_ENV).stdout

    def blob(self, data):
        data = b(data)
        if data not in self.blobs:
            self.blobs[data] = self.git("hash-object", "-w", "--stdin",
                                        input=data).decode().strip()
        return self.blobs[data]

    def tree(self, entries):
        """entries: {path: (mode, content-or-gitlink-id)} -> tree id (via the index)."""
        if os.path.exists(self.index):
            os.unlink(self.index)
        env = dict(BASE_ENV, GIT_INDEX_FILE=self.index)
        info = bytearray()
        gitlinks = []
        for path, (mode, data) in entries.items():
            if mode == "160000":
                gitlinks.append((path, data))
            else:
                info += b"%s %s\t%s\0" % (mode.encode(), self.blob(data).encode(), b(path))
        # An empty index still writes the (empty) tree.
        self.git("update-index", "-z", "--index-info", input=bytes(info), env=env)
        for path, oid in gitlinks:
            self.git("update-index", "--add", "--cacheinfo",
                     "160000,%s,%s" % (oid, path), env=env)
        tree = self.git("write-tree", env=env).decode().strip()
        os.unlink(self.index)
        return tree

    def commit(self, tree, parents=(), msg=None):
        self.commits += 1
        date = "%d +0000" % (1700000000 + 60 * self.commits)
        env = dict(BASE_ENV, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        args += ["-m", msg or "fixture commit %d" % self.commits]
        c = self.git(*args, env=env).decode().strip()
        self.git("update-ref", "refs/heads/main", c)
        return c

    def raw_tree_entries(self, tree):
        raw = self.git("cat-file", "tree", tree)
        i, out = 0, []
        while i < len(raw):
            sp = raw.index(b" ", i)
            nul = raw.index(b"\0", sp)
            out.append([raw[i:sp], raw[sp + 1:nul], raw[nul + 1:nul + 21]])
            i = nul + 21
        return out


CASES = []


def case(name, repo, base, head):
    CASES.append({"name": name, "repo": repo.path, "base": base, "head": head})


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    r = Repo(os.path.join(outdir, "fixtures"))

    # ---- a plain starting tree -------------------------------------------
    simple = {
        "README.md": F("# hello\n"),
        "src/main.rs": F("fn main() {}\n"),
        "src/lib.rs": F("pub fn f() -> u32 { 1 }\n"),
        "docs/guide.txt": F("guide\n"),
        "scripts/run.sh": F("#!/bin/sh\necho hi\n"),
    }
    c_simple = r.commit(r.tree(simple))

    t = dict(simple)
    t["src/new.rs"] = F("// new\n")
    t["new_dir/sub/file.txt"] = F("nested new\n")
    t["CHANGELOG"] = F("v1\n")
    case("added_files", r, c_simple, r.commit(r.tree(t), [c_simple]))

    t = dict(simple)
    del t["docs/guide.txt"]  # removes the whole docs/ directory
    del t["src/lib.rs"]
    case("removed_files", r, c_simple, r.commit(r.tree(t), [c_simple]))

    t = dict(simple)
    t["README.md"] = F("# hello, world\n")
    t["src/main.rs"] = F("fn main() { println!(\"hi\"); }\n")
    case("modified_files", r, c_simple, r.commit(r.tree(t), [c_simple]))

    t = dict(simple)
    t["scripts/run.sh"] = X(simple["scripts/run.sh"][1])
    case("exec_bit_only", r, c_simple, r.commit(r.tree(t), [c_simple]))

    # ---- symlinks ------------------------------------------------------------
    t = dict(simple)
    t["link_to_readme"] = L("README.md")
    t["src/link_to_docs"] = L("../docs")
    t["dangling"] = L("does/not/exist")
    c_links = r.commit(r.tree(t), [c_simple])
    case("symlink_added", r, c_simple, c_links)

    t2 = dict(t)
    t2["link_to_readme"] = L("src/main.rs")
    t2["dangling"] = L("still/not/there")
    case("symlink_target_changed", r, c_links, r.commit(r.tree(t2), [c_links]))

    t2 = dict(t)
    t2["link_to_readme"] = F("README.md")  # same blob, only the mode changes
    t2["dangling"] = F("a real file now\n")  # mode and content change
    case("symlink_to_regular_file", r, c_links, r.commit(r.tree(t2), [c_links]))

    # ---- gitlinks ------------------------------------------------------------
    t = dict(simple)
    t["vendor/sub"] = G(fake_commit_id("one"))
    t["third_party"] = G(fake_commit_id("two"))
    c_gl = r.commit(r.tree(t), [c_simple])
    case("gitlink_added", r, c_simple, c_gl)
    t2 = dict(t)
    t2["vendor/sub"] = G(fake_commit_id("three"))
    c_gl2 = r.commit(r.tree(t2), [c_gl])
    case("gitlink_changed", r, c_gl, c_gl2)
    t3 = dict(t2)
    del t3["vendor/sub"]
    case("gitlink_removed", r, c_gl2, r.commit(r.tree(t3), [c_gl2]))

    # ---- file <-> directory swap --------------------------------------------
    fd_file = {"x": F("x is a file\n"), "x-y": F("neighbour -\n"), "x.z": F("neighbour .\n"),
               "x0": F("neighbour 0\n"), "keep": F("unchanged\n")}
    fd_dir = {"x/a": F("x/a\n"), "x/b/c": F("x/b/c\n"), "x-y": F("neighbour -\n"),
              "x.z": F("neighbour .\n"), "x0": F("neighbour 0\n"), "keep": F("unchanged\n")}
    c_fd_file = r.commit(r.tree(fd_file))
    c_fd_dir = r.commit(r.tree(fd_dir), [c_fd_file])
    case("file_to_directory", r, c_fd_file, c_fd_dir)
    case("directory_to_file", r, c_fd_dir, c_fd_file)

    # ---- binary / empty ------------------------------------------------------
    t = dict(simple)
    t["bin/old.bin"] = F(b"\x00\x01\x02\x00\xff\xfe" * 100)
    c_bin = r.commit(r.tree(t), [c_simple])
    t2 = dict(t)
    t2["bin/data.bin"] = F(bytes(range(256)) * 64 + b"\x00" * 1000)
    t2["bin/old.bin"] = F(b"\x00\x01\x02\x00\xff\xfe" * 100 + b"\x00")
    t2["bin/only_nul"] = F(b"\x00")
    case("binary_with_nul", r, c_bin, r.commit(r.tree(t2), [c_bin]))

    t = dict(simple)
    t["will_be_empty"] = F("soon gone\n")
    t["was_empty"] = F(b"")
    t["stays_empty"] = F(b"")
    c_e = r.commit(r.tree(t), [c_simple])
    t2 = dict(t)
    t2["will_be_empty"] = F(b"")
    t2["was_empty"] = F("not empty any more\n")
    t2["new_empty"] = F(b"")
    t2["dir/new_empty_exec"] = X(b"")
    case("empty_files", r, c_e, r.commit(r.tree(t2), [c_e]))

    # ---- path bytes ----------------------------------------------------------
    t = dict(simple)
    t["with space.txt"] = F("space\n")
    t["dir with spaces/file name.txt"] = F("spaces\n")
    t["ünïcødé/日本語.txt"] = F("utf-8\n")
    t[b"raw\xffbyte"] = F("invalid utf-8 (0xff) in the name\n")
    t[b"latin1-caf\xe9/x"] = F("invalid utf-8 (0xe9) directory name\n")
    t[b"new\nline"] = F("newline in name\n")
    t[b"tab\there"] = F("tab in name\n")
    t['quote"s and \\backslash'] = F("quotes\n")
    t["-leading-dash"] = F("dash\n")
    t["emoji \U0001F600.txt"] = F("emoji\n")
    t["README.md"] = F("# hello (modified alongside odd paths)\n")
    case("special_path_bytes", r, c_simple, r.commit(r.tree(t), [c_simple]))

    # Paths whose byte order differs from naive orders.  Git's own tree order
    # (directories compare as if named "a/") happens to agree with full-path
    # byte order, but per-component / tuple sorting ("a" < "a-b") does not, nor
    # does UTF-16 order (U+FF21 vs U+1F600), nor signed-char order (0xff, é).
    # Expected order: Z a+ a-b a.b a/b a/c/d a0 b/a-b b/a.b b/a/b b/a0 ~ é Ａ 😀 \xff
    t = {"README.md": F("order test\n")}
    for p in ["a-b", "a.b", "a/b", "a/c/d", "a0", "a+", "a", "Z", "~", "é", b"\xff",
              "\uff21", "\U0001F600", "b/a-b", "b/a/b", "b/a.b", "b/a0"]:
        if p == "a":
            continue  # cannot coexist with directory a/
        t[p] = F(b"content of " + b(p) + b"\n")
    case("byte_order_vs_tree_order", r, c_simple, r.commit(r.tree(t), [c_simple]))

    # ---- deep nesting --------------------------------------------------------
    deep = "/".join("d%02d" % i for i in range(1, 26))  # 25 directory levels
    t = dict(simple)
    t[deep + "/leaf.txt"] = F("deep leaf\n")
    t[deep + "/unchanged.txt"] = F("deep unchanged\n")
    c_deep = r.commit(r.tree(t), [c_simple])
    t2 = dict(t)
    t2[deep + "/leaf.txt"] = F("deep leaf, modified\n")
    t2[deep + "/e26/e27/e28/e29/e30/deeper.txt"] = F("30+ levels\n")
    case("deep_nesting", r, c_deep, r.commit(r.tree(t2), [c_deep]))

    # ---- identical trees -----------------------------------------------------
    case("identical_same_commit", r, c_simple, c_simple)
    c_same_tree = r.commit(r.tree(simple), [c_simple], "same tree, different commit")
    case("identical_tree_different_commits", r, c_simple, c_same_tree)

    # ---- non-canonical modes -------------------------------------------------
    t = dict(simple)
    t["perm.txt"] = F("group-writable\n")
    tree_normal = r.tree(t)
    c_perm = r.commit(tree_normal, [c_simple])
    lst = r.git("ls-tree", "-z", tree_normal).split(b"\0")
    mk = b"\0".join(l.replace(b"100644 blob", b"100664 blob", 1)
                    if l.endswith(b"\tperm.txt") else l for l in lst if l)
    tree_664 = r.git("mktree", "-z", input=mk + b"\0").decode().strip()
    assert b"100664 perm.txt\0" in r.git("cat-file", "tree", tree_664), "mktree normalised"
    case("noncanonical_mode_100664", r, c_perm, r.commit(tree_664, [c_perm]))

    t2 = dict(t)
    t2["perm.txt"] = F("group-writable, modified\n")
    t2["src/main.rs"] = F("fn main() { /* zero-padded parent */ }\n")
    entries = r.raw_tree_entries(r.tree(t2))
    for e in entries:
        if e[1] == b"perm.txt":
            e[0] = b"0100644"
        elif e[0] == b"40000":
            e[0] = b"040000"
    raw = b"".join(m + b" " + n + b"\0" + o for m, n, o in entries)
    try:
        tree_pad = subprocess.run(
            ["git", *GIT_OPTS, "-C", r.path, "hash-object", "--literally", "-t", "tree",
             "-w", "--stdin"], input=raw, check=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=BASE_ENV).stdout.decode().strip()
        case("zero_padded_modes", r, c_perm, r.commit(tree_pad, [c_perm]))
    except subprocess.CalledProcessError:
        print("note: git refused a zero-padded tree; zero_padded_modes skipped",
              file=sys.stderr)

    # ---- mixed (two unrelated root commits) ----------------------------------
    mixed_base = {
        "README.md": F("# mixed\n"),
        "remove_me.txt": F("bye\n"),
        "modify_me.txt": F("before\n"),
        "tools/build.sh": F("#!/bin/sh\nmake\n"),
        "link": L("README.md"),
        "becomes_link": F("target.txt"),
        "modules/a": G(fake_commit_id("mixed-a")),
        "modules/b": G(fake_commit_id("mixed-b")),
        "gitlink_to_file": G(fake_commit_id("mixed-c")),
        "file_to_gitlink": F("will become a gitlink\n"),
        "x": F("file that becomes a directory\n"),
        "y/inner/f": F("directory that becomes a file\n"),
        "bin.dat": F(b"\x00\x00\x00binary\x00"),
        "empty": F(b""),
        "spa ce/ünï": F("odd path\n"),
        deep + "/deep.txt": F("deep\n"),
        "a-b": F("1\n"), "a.b": F("2\n"), "a/b": F("3\n"), "a0": F("4\n"),
        "unchanged/keep.txt": F("keep\n"),
    }
    mixed_head = {
        "README.md": F("# mixed\n"),
        "added.txt": F("hello\n"),
        "modify_me.txt": F("after\n"),
        "tools/build.sh": X("#!/bin/sh\nmake\n"),
        "link": L("modify_me.txt"),
        "becomes_link": L("target.txt"),
        "modules/a": G(fake_commit_id("mixed-a2")),
        "modules/new": G(fake_commit_id("mixed-new")),
        "gitlink_to_file": F("now a file\n"),
        "file_to_gitlink": G(fake_commit_id("mixed-d")),
        "x/a": F("x/a\n"), "x/b/c": F("x/b/c\n"),
        "y": F("directory that becomes a file\n"),
        "bin.dat": F(b"\x00\x00\x00binary\x00\x01"),
        "empty": F("no longer empty\n"),
        "new_empty": F(b""),
        "spa ce/ünï": F("odd path, modified\n"),
        b"raw\xff": F("raw byte\n"),
        deep + "/deep.txt": F("deep, modified\n"),
        "a-b": F("1\n"), "a.b": F("2 changed\n"), "a/b": F("3 changed\n"), "a0": F("4\n"),
        "unchanged/keep.txt": F("keep\n"),
    }
    c_mb = r.commit(r.tree(mixed_base), msg="mixed base (root)")
    c_mh = r.commit(r.tree(mixed_head), msg="mixed head (unrelated root)")
    case("mixed", r, c_mb, c_mh)
    case("mixed_reversed", r, c_mh, c_mb)

    # ---- large files (separate repository) -----------------------------------
    big = Repo(os.path.join(outdir, "large"))
    size = 20 * 1024 * 1024 + 12345  # > 20 MiB, deliberately not block aligned
    data = deterministic_bytes(b"dao-diff-hash large fixture", size)
    lb = {"README.md": F("large\n")}
    c_l0 = big.commit(big.tree(lb))
    lt = dict(lb)
    lt["big/blob.bin"] = F(data)
    c_l1 = big.commit(big.tree(lt), [c_l0])
    case("large_file_added", big, c_l0, c_l1)
    mid = size // 2
    lt2 = dict(lt)
    lt2["big/blob.bin"] = F(data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1:])
    case("large_file_one_byte_modified", big, c_l1, big.commit(big.tree(lt2), [c_l1]))

    json.dump(CASES, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUTDIR")
    main(sys.argv[1])
