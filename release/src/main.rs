//! `kcm-release`: writes the kcm-rs release image archive (see the library docs). `make release`
//! runs it on the release build; the last line it prints is the archive's path.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;

/// Packages a kcm-rs binary as an OCI image archive, without a container daemon.
#[derive(Debug, Parser)]
#[command(name = "kcm-release", version)]
struct Args {
    /// The kcm-rs binary (e.g. target/release/kcm-rs).
    #[arg(long, value_name = "PATH")]
    binary: PathBuf,
    /// Directory for the stripped binary and kcm-rs.oci.tar.
    #[arg(long, value_name = "DIR", default_value = "target/release-image")]
    output: PathBuf,
    /// Image repository for the archive's reference.
    #[arg(long, default_value = kcm_release::DEFAULT_NAME)]
    name: String,
    /// Image tag [default: the binary's version, e.g. v0.1.0].
    #[arg(long)]
    tag: Option<String>,
    /// URL of the source code, for the org.opencontainers.image.source label.
    #[arg(long, value_name = "URL")]
    source: Option<String>,
    /// CA bundle to install [default: the system's, e.g. /etc/ssl/certs/ca-certificates.crt].
    #[arg(long, value_name = "PATH")]
    ca_bundle: Option<PathBuf>,
    /// Package the binary as it is instead of a stripped copy.
    #[arg(long)]
    no_strip: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = kcm_release::Options {
        binary: args.binary,
        output_dir: args.output,
        name: args.name,
        tag: args.tag,
        source: args.source,
        ca_bundle: args.ca_bundle,
        strip: !args.no_strip,
    };
    match kcm_release::build(&options) {
        Ok(built) => {
            let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
            eprintln!(
                "kcm-release: {} ({} {}, commit {}, built {})",
                built.reference,
                built.version.program,
                built.version.version,
                built.version.commit,
                built.version.built
            );
            eprintln!("kcm-release: manifest {}", built.manifest_digest);
            eprintln!(
                "kcm-release: archive {:.1} MiB, compressed layer {:.1} MiB, binary {}",
                mib(built.archive_size),
                mib(built.layer_size),
                built.binary.display()
            );
            println!("{}", built.archive.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            let mut message = format!("kcm-release: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
