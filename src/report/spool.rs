//! A spool: report parts written to a temporary file as trials finish, and
//! copied into the report in name order at the end, so that a report never
//! holds every transcript in memory at once.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Numbers the spools of this process.
static SPOOLS: AtomicUsize = AtomicUsize::new(0);

/// Parts of a report by key, kept on disk until the report is assembled.
#[derive(Debug)]
pub struct Spool {
    file: File,
    /// (key, offset, length) of every part, in the order written.
    parts: Vec<(String, u64, u64)>,
    end: u64,
}

impl Spool {
    /// A fresh spool in the temporary directory; the file is unlinked at
    /// once where the system allows it (it lives as long as the spool).
    pub fn new() -> io::Result<Spool> {
        let path = std::env::temp_dir().join(format!(
            "ipdr-conformance-{}-{}.spool",
            std::process::id(),
            SPOOLS.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Unix keeps an unlinked file open; elsewhere it is left to the temp dir's cleaning.
        let _ = std::fs::remove_file(&path);
        Ok(Spool {
            file,
            parts: Vec::new(),
            end: 0,
        })
    }

    /// Appends one part under `key`.
    pub fn push(&mut self, key: &str, text: &str) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(text.as_bytes())?;
        let length = text.len() as u64;
        self.parts.push((key.to_string(), self.end, length));
        self.end += length;
        Ok(())
    }

    /// How many parts it holds.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether it holds no part.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Copies every part into `out` in key order (parts of one key in the
    /// order written), with `separator` between parts.
    pub fn copy_sorted(&mut self, out: &mut impl Write, separator: &str) -> io::Result<()> {
        let mut order: Vec<usize> = (0..self.parts.len()).collect();
        order.sort_by(|a, b| self.parts[*a].0.cmp(&self.parts[*b].0).then(a.cmp(b)));
        let mut buffer = Vec::new();
        for (at, index) in order.into_iter().enumerate() {
            if at > 0 {
                out.write_all(separator.as_bytes())?;
            }
            let (_, offset, length) = &self.parts[index];
            buffer.resize(*length as usize, 0);
            self.file.seek(SeekFrom::Start(*offset))?;
            self.file.read_exact(&mut buffer)?;
            out.write_all(&buffer)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_back_in_key_order() {
        let mut spool = Spool::new().unwrap();
        spool.push("b", "second").unwrap();
        spool.push("a", "first").unwrap();
        spool.push("c", "third").unwrap();
        let mut out = Vec::new();
        spool.copy_sorted(&mut out, ",").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "first,second,third");
        assert_eq!(spool.len(), 3);
    }
}
