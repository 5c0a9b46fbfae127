//! Creating output files so that a failure leaves nothing behind.

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// The buffer of sequential output.
pub const OUTPUT_BUFFER: usize = 1 << 20;

/// How an output file comes into being.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// Through a temporary file beside it, renamed into place on success.
    Atomic,
    /// In place, and removed on failure: for a Nix output, whose directory
    /// is the store and which Nix discards when a build fails anyway.
    InPlace,
}

/// Creates `output` with what `write` writes front to back, with mode 0644
/// (0755 when `executable`). On any error nothing is left at `output`.
pub fn write_file(
    output: &Path,
    mode: OutputMode,
    executable: bool,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<()>,
) -> Result<()> {
    fill_file(output, mode, executable, |file| {
        let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, file);
        write(&mut out)?;
        out.flush()
            .with_context(|| format!("cannot write {}", output.display()))
    })
}

/// Creates `output` with what `fill` writes into the file, in any order and
/// from any thread, with mode 0644 (0755 when `executable`). On any error
/// nothing is left at `output`.
pub fn fill_file(
    output: &Path,
    mode: OutputMode,
    executable: bool,
    fill: impl FnOnce(&File) -> Result<()>,
) -> Result<()> {
    let permissions = Permissions::from_mode(if executable { 0o755 } else { 0o644 });
    let fill = |file: &File| -> Result<()> {
        fill(file)?;
        file.set_permissions(permissions)
            .with_context(|| format!("cannot set the mode of {}", output.display()))
    };
    match mode {
        OutputMode::Atomic => {
            let dir = parent_dir(output);
            let temp = tempfile::Builder::new()
                .prefix(".strata-")
                .tempfile_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            fill(temp.as_file())?;
            temp.persist(output)
                .with_context(|| format!("cannot create {}", output.display()))?;
        }
        OutputMode::InPlace => {
            let file = File::create(output)
                .with_context(|| format!("cannot create {}", output.display()))?;
            if let Err(error) = fill(&file) {
                drop(file);
                let _ = std::fs::remove_file(output);
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Creates the directory `output` with what `fill` puts into it (mode 0755);
/// on any error nothing is left at `output`. By hand, it replaces what was
/// at `output`.
pub fn fill_dir(
    output: &Path,
    mode: OutputMode,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    match mode {
        OutputMode::Atomic => {
            let parent = parent_dir(output);
            let temp = tempfile::Builder::new()
                .prefix(".strata-")
                .tempdir_in(parent)
                .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
            fill(temp.path())?;
            std::fs::set_permissions(temp.path(), Permissions::from_mode(0o755))?;
            if output.exists() {
                std::fs::remove_dir_all(output)
                    .with_context(|| format!("cannot replace {}", output.display()))?;
            }
            let path = temp.keep();
            std::fs::rename(&path, output)
                .with_context(|| format!("cannot create {}", output.display()))?;
        }
        OutputMode::InPlace => {
            std::fs::create_dir(output)
                .with_context(|| format!("cannot create {}", output.display()))?;
            if let Err(error) = fill(output) {
                let _ = std::fs::remove_dir_all(output);
                return Err(error);
            }
        }
    }
    Ok(())
}

/// The directory `output` is in, where its temporary twin is made.
fn parent_dir(output: &Path) -> &Path {
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes to a file from a given offset on, without moving any shared file
/// position: several can write to one file at once.
pub struct PositionedWriter<'a> {
    file: &'a File,
    offset: u64,
}

impl<'a> PositionedWriter<'a> {
    pub fn new(file: &'a File, offset: u64) -> Self {
        PositionedWriter { file, offset }
    }
}

impl Write for PositionedWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.file.write_at(bytes, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
