//! SHA-256 of blobs as they are written, so a layer is hashed both before and after compression
//! in one pass.

use std::io::{self, Write};

use ring::digest::{Context, SHA256};

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Passes writes through to `inner` and hashes what was written.
pub struct Sha256Writer<W> {
    inner: W,
    context: Context,
}

impl<W: Write> Sha256Writer<W> {
    pub fn new(inner: W) -> Self {
        Sha256Writer {
            inner,
            context: Context::new(&SHA256),
        }
    }

    /// The inner writer and the hex digest of everything written through.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex(self.context.finish().as_ref()))
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.context.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
