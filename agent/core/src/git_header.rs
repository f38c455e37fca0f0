//! An object's header (size and type) read without git2's panic: git2 0.21's
//! `Odb::read_header` unwraps the type libgit2 reports, and a damaged pack entry can report one
//! git2 does not know (found by the fuzz target `diff_hash_pack`: a type code of a reserved
//! value). The agent reads repositories it does not control, so the type comes back as an
//! `Option` here instead, through libgit2-sys, the same call git2 makes.

use git2::{Binding, Error, ObjectType, Odb, Oid};

/// The object's size and type; `None` for a type no object may have (a damaged repository).
pub fn read_header(odb: &Odb<'_>, oid: Oid) -> Result<(usize, Option<ObjectType>), Error> {
    let mut size = 0usize;
    let mut kind = libgit2_sys::GIT_OBJECT_ANY;
    // SAFETY: the same call as git2's `Odb::read_header`: `odb.raw()` and `oid.raw()` are live
    // for the call (both borrowed), the two out-pointers point at locals of the right types.
    #[allow(unsafe_code)]
    let rc =
        unsafe { libgit2_sys::git_odb_read_header(&mut size, &mut kind, odb.raw(), oid.raw()) };
    if rc < 0 {
        return Err(Error::last_error(rc));
    }
    Ok((size, ObjectType::from_raw(kind)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::read_header;
    use git2::{ObjectType, Oid, Repository};

    #[test]
    fn reads_size_and_type_and_names_a_missing_object() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = repo.blob(b"hello\n").unwrap();
        let odb = repo.odb().unwrap();
        assert_eq!(
            read_header(&odb, blob).unwrap(),
            (6, Some(ObjectType::Blob))
        );
        assert!(read_header(&odb, Oid::from_bytes(&[7; 20]).unwrap()).is_err());
    }
}
