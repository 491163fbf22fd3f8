//! `restgate cluster keygen --out F`: the key the replicas of a `[cluster]`
//! share, and what to do with it.
//!
//! The file is the format every reader relies on: standard padded base64 of
//! 32 random bytes, then a newline. It is created readable by its owner only
//! from the first byte on, never overwritten without `--force`, and replaced
//! atomically with it. The key itself is never printed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use rand::TryRngCore as _;

use super::shared::{EXIT_INVALID, EXIT_RUNTIME};

/// Bytes of key `keygen` writes (what `[cluster]` requires at least).
const KEY_BYTES: usize = 32;

/// `restgate cluster …`
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Write a new cluster key (the secret every replica shares) and print
    /// the [cluster] block that uses it.
    Keygen(KeygenArgs),
}

/// Options of `cluster keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key (base64 of 32 random bytes, mode 0600).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing file (atomically); every replica then needs the
    /// new one.
    #[arg(long)]
    pub force: bool,
}

/// Runs a `cluster` subcommand.
pub fn run(cmd: &ClusterCommand) -> ExitCode {
    match cmd {
        ClusterCommand::Keygen(args) => keygen(args),
    }
}

fn keygen(args: &KeygenArgs) -> ExitCode {
    let out = match std::path::absolute(&args.out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("--out {:?} is not a usable path: {e}", args.out);
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if out.file_name().is_none() || out.is_dir() {
        eprintln!(
            "--out {} is a directory; name the key file, e.g. {}",
            out.display(),
            out.join("cluster.key").display()
        );
        return ExitCode::from(EXIT_INVALID);
    }
    let mut key = [0u8; KEY_BYTES];
    if let Err(e) = rand::rngs::OsRng.try_fill_bytes(&mut key) {
        eprintln!("cannot read random bytes from the operating system: {e}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    let mut text = base64::engine::general_purpose::STANDARD.encode(key);
    text.push('\n');
    let written = if args.force {
        replace(&out, text.as_bytes())
    } else {
        create(&out, text.as_bytes())
    };
    match written {
        Ok(()) => {}
        Err(e) if !args.force && e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "{} exists; left it unchanged. `--force` overwrites it with a new key \
                 (every replica then needs the new file).",
                out.display()
            );
            return ExitCode::from(EXIT_INVALID);
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", out.display());
            return ExitCode::from(EXIT_RUNTIME);
        }
    }
    print!("{}", instructions(&out, args.force));
    ExitCode::SUCCESS
}

/// Opens a new file readable by its owner only; fails if `path` exists.
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        opts.mode(0o600);
        let f = opts.open(path)?;
        // The umask only takes bits away; make it exactly 0600 whatever it is.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(f)
    }
    #[cfg(not(unix))]
    {
        opts.open(path)
    }
}

/// Writes `bytes` to `path`, which must not exist. A failed write leaves
/// no file behind.
fn create(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = create_new_private(path)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if written.is_err() {
        drop(f);
        let _ = std::fs::remove_file(path);
    }
    written?;
    sync_dir(path);
    Ok(())
}

/// Replaces `path` (or creates it) atomically: a new private file in the
/// same directory, renamed over it. Readers see the old key or the new one,
/// never a part of either.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent(path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut attempt = 0;
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(".{name}.{:08x}.tmp", rand::random::<u32>()));
        match create_new_private(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                attempt += 1;
            }
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot create a temporary file in {}: {e}", dir.display()),
                ));
            }
        }
    };
    let done = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| {
            drop(f);
            std::fs::rename(&tmp, path)
        });
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done?;
    sync_dir(path);
    Ok(())
}

/// The directory `path` is in.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes the new directory entry durable (best effort: the key is written
/// either way).
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(parent(path)) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// What was written and what to do next; never the key.
fn instructions(out: &Path, replaced: bool) -> String {
    let path = out.display().to_string();
    let quoted = toml::Value::String(path.clone()).to_string();
    let what = if replaced {
        "Replaced the cluster key in"
    } else {
        "Wrote a new cluster key to"
    };
    let warning = if replaced {
        "\nReplicas still holding the old key share nothing with those holding the new one:\n\
         give every replica the new file and restart them.\n"
    } else {
        ""
    };
    format!(
        "{what} {path}
(32 random bytes, base64, mode 0600). Keep it secret: whoever holds it can read
and forge what the replicas share in Redis.
{warning}
Next:
  1. Copy this same file to every replica: all must hold the same key, readable
     only by the user restgate runs as.
  2. In every replica's config, point [cluster] at it and at your Redis:

[cluster]
redis_url = \"redis://127.0.0.1:6379/0\"
key_file = {quoted}

  3. Run `restgate check` on each replica: it reads the key and the section.
"
    )
}
