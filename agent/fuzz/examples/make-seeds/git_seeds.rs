//! Seeds of the diff_hash target: git trees, blobs and commits, well-formed and not (the worked
//! example of docs/diff-hash.md, gitlinks, odd modes, truncated raw objects, nesting, a bomb).

use dao_fuzz::git::{Entry, Input, Mode, Obj, RawKind, Target};

fn tree(entries: Vec<(Mode, &[u8], Target)>) -> Obj {
    Obj::Tree(
        entries
            .into_iter()
            .map(|(mode, name, target)| Entry {
                mode,
                name: name.to_vec(),
                target,
            })
            .collect(),
    )
}

/// The diff_hash target's seeds, by name.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut put = |_: &str, name: &str, bytes: &[u8]| out.push((name.to_owned(), bytes.to_vec()));
    use Target::Earlier as E;
    // docs/diff-hash.md, "Worked example".
    let worked = Input {
        base: 3,
        head: 7,
        objects: vec![
            Obj::Blob(b"one\n".to_vec()),
            Obj::Blob(b"x\n".to_vec()),
            tree(vec![(Mode::File, b"x", E(1))]),
            tree(vec![
                (Mode::File, b"a.txt", E(0)),
                (Mode::Directory, b"d", E(2)),
            ]),
            Obj::Blob(b"two\n".to_vec()),
            Obj::Blob(b"y\n".to_vec()),
            Obj::Blob(b"a.txt".to_vec()),
            tree(vec![
                (Mode::Executable, b"a.txt", E(4)),
                (Mode::File, b"d", E(5)),
                (Mode::Symlink, b"link", E(6)),
            ]),
        ],
    };
    put("diff_hash", "worked-example", &worked.write());
    let gitlink = Input {
        base: 1,
        head: 2,
        objects: vec![
            Obj::Blob(b"{ ... }: { }\n".to_vec()),
            tree(vec![
                (Mode::File, b"configuration.nix", E(0)),
                (Mode::Gitlink, b"vendor", Target::Id([0x12; 20])),
            ]),
            tree(vec![
                (Mode::Number(0o100664), b"configuration.nix", E(0)),
                (Mode::Gitlink, b"vendor", Target::Id([0x34; 20])),
            ]),
        ],
    };
    put("diff_hash", "gitlink-and-odd-mode", &gitlink.write());
    let mut malformed = |name: &str, entries: Vec<(Mode, &[u8], Target)>| {
        let input = Input {
            base: 1,
            head: 2,
            objects: vec![
                Obj::Blob(b"content\n".to_vec()),
                tree(vec![(Mode::File, b"a", E(0))]),
                tree(entries),
            ],
        };
        put("diff_hash", name, &input.write());
    };
    malformed(
        "duplicate-name",
        vec![(Mode::File, b"a", E(0)), (Mode::Executable, b"a", E(0))],
    );
    malformed("slash-in-name", vec![(Mode::File, b"d/a", E(0))]);
    malformed("empty-name", vec![(Mode::File, b"", E(0))]);
    malformed("directory-is-a-blob", vec![(Mode::Directory, b"d", E(0))]);
    malformed("file-is-a-tree", vec![(Mode::File, b"f", E(1))]);
    malformed(
        "missing-blob",
        vec![(Mode::File, b"a", Target::Id([0x77; 20]))],
    );
    malformed(
        "mode-text",
        vec![(Mode::Text(b"0100644".to_vec()), b"a", E(0))],
    );
    let raw = Input {
        base: 0,
        head: 1,
        objects: vec![
            Obj::Raw(RawKind::Tree, b"100644 a\0short".to_vec()),
            Obj::Raw(RawKind::Tree, Vec::new()),
        ],
    };
    put("diff_hash", "raw-truncated-tree", &raw.write());
    // Nested directories changed deep down, next to an identical subtree.
    let nested = Input {
        base: 6,
        head: 7,
        objects: vec![
            Obj::Blob(b"old\n".to_vec()),
            Obj::Blob(b"new\n".to_vec()),
            tree(vec![(Mode::File, b"leaf", E(0))]),
            tree(vec![(Mode::File, b"leaf", E(1))]),
            tree(vec![(Mode::Directory, b"c", E(2))]),
            tree(vec![(Mode::Directory, b"c", E(3))]),
            tree(vec![
                (Mode::Directory, b"a", E(4)),
                (Mode::Directory, b"same", E(2)),
            ]),
            tree(vec![
                (Mode::Directory, b"a", E(5)),
                (Mode::Directory, b"same", E(2)),
            ]),
        ],
    };
    put("diff_hash", "nested", &nested.write());
    // A "git bomb": 16 files, then 20 trees each naming the one before 16 times (16^21 paths
    // in 1.4 KB), against an empty tree. It exhausted memory before the walk had limits.
    let names: Vec<Vec<u8>> = (b'a'..=b'p').map(|c| vec![c]).collect();
    let mut objects = vec![Obj::Blob(b"x".to_vec())];
    objects.push(Obj::Tree(
        names
            .iter()
            .map(|n| Entry {
                mode: Mode::File,
                name: n.clone(),
                target: E(0),
            })
            .collect(),
    ));
    for level in 2..22u8 {
        objects.push(Obj::Tree(
            names
                .iter()
                .map(|n| Entry {
                    mode: Mode::Directory,
                    name: n.clone(),
                    target: E(level - 1),
                })
                .collect(),
        ));
    }
    objects.push(Obj::Tree(Vec::new()));
    let bomb = Input {
        base: 21,
        head: 22,
        objects,
    };
    put("diff_hash", "bomb", &bomb.write());
    out
}

/// The diff_hash_pack target's seeds, by name: blobs that deltify (an edit chain), a blob large
/// enough to be streamed by a small worker limit's standards, and damaged packs and indexes.
pub fn pack_seeds() -> Vec<(String, Vec<u8>)> {
    use dao_fuzz::pack::{Blob, Flip, Input};
    let text = b"the quick brown fox jumps over the lazy dog, again and again\n".to_vec();
    let chain = vec![
        Blob::Fresh(text.clone(), 40),
        Blob::Edit(100, b"an inserted line\n".to_vec()),
        Blob::Edit(900, b"another one\n".to_vec()),
        Blob::Fresh(b"unrelated".to_vec(), 0),
    ];
    let flip = |index: bool, at: u64| Flip {
        index,
        at,
        xor: 0x5a,
    };
    let with = |flips: Vec<Flip>| {
        Input {
            blobs: chain.clone(),
            flips,
        }
        .write()
    };
    vec![
        ("delta-chain".to_owned(), with(vec![])),
        (
            "one-blob".to_owned(),
            Input {
                blobs: vec![Blob::Fresh(text, 63)],
                flips: vec![],
            }
            .write(),
        ),
        ("pack-header".to_owned(), with(vec![flip(false, 5)])),
        ("pack-entry-data".to_owned(), with(vec![flip(false, 400)])),
        ("pack-trailer".to_owned(), with(vec![flip(false, u64::MAX)])),
        (
            "index-fanout".to_owned(),
            with(vec![flip(true, 8 + 4 * 200)]),
        ),
        (
            "index-offsets".to_owned(),
            with(vec![flip(true, 1032 + 8 * 28 + 2)]),
        ),
    ]
}
