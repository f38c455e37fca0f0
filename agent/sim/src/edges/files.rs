//! The simulated state directory: files kept in the world (a write may meet a full disk) and
//! the instance lock a second agent on the same directory must not get.

use super::{Sim, SimEdge};
use crate::invariants;
use dao_agent::edges::{Files, InstanceLock};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct SimLock {
    sim: Arc<Sim>,
    path: PathBuf,
    instance: u64,
}

impl InstanceLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut w = self.sim.world();
        if w.instance_locks.get(&self.path) == Some(&self.instance) {
            w.instance_locks.remove(&self.path);
        }
    }
}

fn enospc() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "No space left on device (os error 28)",
    )
}

impl Files for SimEdge {
    fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let w = self.0.world();
        if path == Path::new(crate::world::MARKER) {
            return Ok(Some(w.marker()));
        }
        Ok(w.files.get(path).cloned())
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)> {
        self.0.enter("files.replace", 2);
        let mut w = self.0.world();
        if w.clock_ms < w.disk_full_until || w.roll("disk_full", 0.003) {
            if w.disk_full_until <= w.clock_ms {
                w.disk_full_until = w.clock_ms + 20_000;
            }
            return Err((path.to_path_buf(), enospc()));
        }
        let before = w.files.insert(path.to_path_buf(), bytes.to_vec());
        invariants::at_write(&mut w, path, bytes, before.as_deref());
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.world().files.remove(path);
        Ok(())
    }

    fn create_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(self
            .0
            .world()
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
    }

    fn lock_instance(&self, path: &Path) -> Result<Box<dyn InstanceLock>, String> {
        let mut w = self.0.world();
        let me = w.live_instance;
        if let Some(holder) = w.instance_locks.get(path) {
            return Err(format!(
                "another dao-agent (instance {holder}) already runs on this state directory"
            ));
        }
        w.instance_locks.insert(path.to_path_buf(), me);
        Ok(Box::new(SimLock {
            sim: Arc::clone(&self.0),
            path: path.to_path_buf(),
            instance: me,
        }))
    }
}
