//! `restgate oauth1 keygen --out F`: a new RSA key for the `oauth1` hand-off,
//! and what to paste into the product's incoming application link.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::shared::{EXIT_INVALID, EXIT_RUNTIME};

/// `restgate oauth1 …`
#[derive(Debug, clap::Subcommand)]
pub enum OAuth1Command {
    /// Write a new RSA private key and print the incoming link's fields.
    Keygen(KeygenArgs),
}

/// Options of `oauth1 keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600).
    #[arg(long)]
    pub out: PathBuf,
    /// The consumer key to use in the product and in [upstream.oauth1].
    #[arg(long, default_value = "restgate")]
    pub consumer_key: String,
    /// Key size in bits (2048 or more).
    #[arg(long, default_value_t = 2048)]
    pub bits: usize,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Runs an `oauth1` subcommand.
pub fn run(cmd: &OAuth1Command) -> ExitCode {
    match cmd {
        OAuth1Command::Keygen(args) => keygen(args),
    }
}

fn keygen(args: &KeygenArgs) -> ExitCode {
    if args.bits < 2048 {
        eprintln!("--bits must be at least 2048");
        return ExitCode::from(EXIT_INVALID);
    }
    if args.out.exists() && !args.force {
        eprintln!("{} exists; use --force to replace it", args.out.display());
        return ExitCode::from(EXIT_INVALID);
    }
    // OpenSSL generates the key (its primes from the system's CSPRNG) and
    // writes it as PKCS#8, the public half as SubjectPublicKeyInfo.
    let key = match u32::try_from(args.bits)
        .ok()
        .and_then(|bits| openssl::rsa::Rsa::generate(bits).ok())
        .and_then(|rsa| openssl::pkey::PKey::from_rsa(rsa).ok())
    {
        Some(k) => k,
        None => {
            eprintln!("cannot generate a {}-bit RSA key", args.bits);
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let pems = key
        .private_key_to_pem_pkcs8()
        .ok()
        .map(zeroize::Zeroizing::new)
        .zip(
            key.public_key_to_pem()
                .ok()
                .and_then(|q| String::from_utf8(q).ok()),
        );
    let Some((private_pem, public_pem)) = pems else {
        eprintln!("cannot encode the key");
        return ExitCode::from(EXIT_RUNTIME);
    };
    if let Err(e) = write_private(&args.out, &private_pem) {
        eprintln!("cannot write {}: {e}", args.out.display());
        return ExitCode::from(EXIT_RUNTIME);
    }
    print!(
        "{}",
        instructions(&args.consumer_key, &public_pem, &args.out)
    );
    ExitCode::SUCCESS
}

/// Writes the key readable by its owner only, from the first byte on.
fn write_private(path: &std::path::Path, pem: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let mut f = opts.open(path)?;
        // An existing file keeps its mode on open: set it.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(pem)?;
        f.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut f = opts.open(path)?;
        f.write_all(pem)
    }
}

/// What to paste where.
fn instructions(consumer_key: &str, public_pem: &str, out: &std::path::Path) -> String {
    let body: String = public_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    format!(
        "Wrote the private key to {out} (mode 0600). Keep it secret; restgate reads it at start.

In Jira, Confluence or Bitbucket: Administration → Application links → Create link.
Choose \"Atlassian product\" (\"External application\" in older versions), enter
restgate's URL, continue past \"no response\", choose \"Generic Application\",
then Edit → Incoming Authentication and fill in:

  Consumer Key:                                      {consumer_key}
  Consumer Name:                                     restgate
  Public Key:                                        {body}
  Consumer Callback URL:                             (leave empty)
  Allow 2-Legged OAuth:                              yes
  Execute as:                                        (leave empty)
  Allow user impersonation through 2-Legged OAuth:   yes

The public key as PEM:

{public_pem}
In restgate's config:

[upstream]
identity = \"oauth1\"

[upstream.oauth1]
consumer_key = \"{consumer_key}\"
private_key_file = \"{out}\"
signed_base_url = \"https://jira.example.com\"   # the product's public URL (its base URL without the context path)
",
        out = out.display()
    )
}
