//! Certificates for serving-port tests, made with `openssl` as `tests/env/testenv.sh` makes the
//! environment's own (EC P-256, CA:TRUE roots, CA:FALSE leaves).
//!
//! [`Pki::environment_client_ca`] is the CA the test apiserver trusts for client certificates
//! (`pki/client-ca.{crt,key}`); [`Pki::new_ca`] makes others (a front-proxy CA, an unrelated CA).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::TestEnv;

/// A CA that can issue leaves, in a directory of its own.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    name: String,
}

/// A certificate and its key on disk.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// The environment's client CA (the apiserver's `--client-ca-file`).
    pub fn environment_client_ca(env: &TestEnv) -> Self {
        Pki {
            dir: env.dir().join("pki"),
            name: "client-ca".to_owned(),
        }
    }

    /// A new self-signed CA `dir/<name>.{crt,key}` with common name `cn`.
    pub fn new_ca(dir: &Path, name: &str, cn: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let key = dir.join(format!("{name}.key"));
        let crt = dir.join(format!("{name}.crt"));
        new_key(&key)?;
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            path(&key),
            "-out",
            path(&crt),
            "-days",
            "365",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectKeyIdentifier=hash",
        ])?;
        Ok(Pki {
            dir: dir.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join(format!("{}.crt", self.name))
    }

    fn ca_key(&self) -> PathBuf {
        self.dir.join(format!("{}.key", self.name))
    }

    /// A client certificate (`extendedKeyUsage=clientAuth`) for `cn` in groups `orgs`, written
    /// to `out/<file>.{crt,key}`.
    pub fn client(&self, out: &Path, file: &str, cn: &str, orgs: &[&str]) -> anyhow::Result<Pair> {
        let subject: String = orgs
            .iter()
            .map(|o| format!("/O={o}"))
            .chain(std::iter::once(format!("/CN={cn}")))
            .collect();
        self.leaf(
            out,
            file,
            &subject,
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
    }

    /// A serving certificate for `localhost`/127.0.0.1 with common name `cn`.
    pub fn server(&self, out: &Path, file: &str, cn: &str) -> anyhow::Result<Pair> {
        self.leaf(
            out,
            file,
            &format!("/CN={cn}"),
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
    }

    fn leaf(&self, out: &Path, file: &str, subject: &str, ext: &str) -> anyhow::Result<Pair> {
        std::fs::create_dir_all(out)?;
        let key = out.join(format!("{file}.key"));
        let crt = out.join(format!("{file}.crt"));
        let csr = out.join(format!("{file}.csr"));
        let extfile = out.join(format!("{file}.ext"));
        new_key(&key)?;
        openssl(&[
            "req",
            "-new",
            "-key",
            path(&key),
            "-out",
            path(&csr),
            "-subj",
            subject,
        ])?;
        std::fs::write(
            &extfile,
            format!("basicConstraints=critical,CA:FALSE\nauthorityKeyIdentifier=keyid\n{ext}"),
        )?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            path(&csr),
            "-CA",
            path(&self.ca_cert()),
            "-CAkey",
            path(&self.ca_key()),
            "-CAcreateserial",
            "-CAserial",
            path(&out.join(format!("{file}.srl"))),
            "-out",
            path(&crt),
            "-days",
            "365",
            "-extfile",
            path(&extfile),
        ])?;
        let _ = std::fs::remove_file(&csr);
        let _ = std::fs::remove_file(&extfile);
        Ok(Pair { cert: crt, key })
    }
}

fn new_key(path_: &Path) -> anyhow::Result<()> {
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        path(path_),
    ])
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn openssl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("running openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
