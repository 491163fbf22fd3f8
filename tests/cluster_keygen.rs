//! `restgate cluster keygen --out F [--force]`: the shared key of a
//! `[cluster]`, written as base64 of 32 random bytes and a newline, mode
//! 0600, never printed, never overwritten without `--force`, replaced
//! atomically with it.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn restgate(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_restgate"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn keygen(dir: &Path, out: &Path, force: bool) -> Run {
    let out = out.to_str().unwrap();
    let mut args = vec!["cluster", "keygen", "--out", out];
    if force {
        args.push("--force");
    }
    restgate(dir, &args)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The file's key, checked to be in the format readers rely on: padded
/// standard base64 of 32 bytes, one newline, nothing else.
fn key_of(path: &Path) -> (String, Vec<u8>) {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{text:?} does not end with a newline"));
    assert!(!body.contains(char::is_whitespace), "{text:?}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_else(|e| panic!("{text:?} is not standard base64: {e}"));
    assert_eq!(bytes.len(), 32, "{text:?}");
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&bytes),
        body,
        "padded, canonical"
    );
    (body.to_owned(), bytes)
}

/// The key in every form it could leak as.
fn assert_not_leaked(run: &Run, key: &str, bytes: &[u8]) {
    let all = run.output();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    for form in [key, &key[..16], &key[key.len() - 17..], &hex, &url_safe] {
        assert!(!all.contains(form), "the key leaked ({form}):\n{all}");
    }
}

/// Names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_32_random_bytes_as_base64_mode_0600_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cluster.key");
    let run = keygen(dir.path(), &out, false);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(out.is_file());
    assert_eq!(mode(&out), 0o600, "mode {:o}", mode(&out));
    let (key, bytes) = key_of(&out);
    assert_ne!(bytes, [0u8; 32]);
    assert_not_leaked(&run, &key, &bytes);
    let path = out.to_str().unwrap();
    assert!(run.stdout.contains(path), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "[cluster]\nredis_url = \"redis://127.0.0.1:6379/0\"\nkey_file = \"{path}\"\n"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("every replica"), "{}", run.stdout);
    assert_eq!(entries(dir.path()), ["cluster.key"]);
}

#[test]
fn the_mode_is_0600_whatever_the_umask() {
    for umask in ["000", "077", "022"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cluster.key");
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" cluster keygen --out \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_restgate"))
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "umask {umask}: {status}");
        assert_eq!(mode(&out), 0o600, "umask {umask}: mode {:o}", mode(&out));
        key_of(&out);
    }
}

#[test]
fn a_relative_out_is_written_there_and_printed_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let run = restgate(dir.path(), &["cluster", "keygen", "--out", "cluster.key"]);
    assert_eq!(run.code, 0, "{}", run.output());
    let out = dir.path().join("cluster.key");
    key_of(&out);
    assert!(
        run.stdout
            .contains(&format!("key_file = \"{}\"", out.to_str().unwrap())),
        "{}",
        run.stdout
    );
}

#[test]
fn two_runs_give_different_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.key"), dir.path().join("b.key"));
    assert_eq!(keygen(dir.path(), &a, false).code, 0);
    assert_eq!(keygen(dir.path(), &b, false).code, 0);
    let (ka, ba) = key_of(&a);
    let (kb, bb) = key_of(&b);
    assert_ne!(ka, kb);
    assert_ne!(ba, bb);
}

#[test]
fn an_existing_file_is_refused_without_force_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cluster.key");
    assert_eq!(keygen(dir.path(), &out, false).code, 0);
    let before = std::fs::read(&out).unwrap();
    let run = keygen(dir.path(), &out, false);
    assert_eq!(run.code, 1, "{}", run.output());
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(mode(&out), 0o600);
    assert!(run.stderr.contains(out.to_str().unwrap()), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    let (key, bytes) = key_of(&out);
    assert_not_leaked(&run, &key, &bytes);

    // Nor is any other file there, whatever it holds.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "precious\n").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = keygen(dir.path(), &other, false);
    assert_eq!(run.code, 1, "{}", run.output());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "precious\n");
    assert_eq!(mode(&other), 0o644);
    assert_eq!(entries(dir.path()), ["cluster.key", "notes.txt"]);
}

#[test]
fn force_replaces_the_file_atomically_with_a_new_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cluster.key");
    assert_eq!(keygen(dir.path(), &out, false).code, 0);
    let (old, _) = key_of(&out);
    // Loosen the old file, and keep a second name for it: an in-place
    // rewrite would show through the link; a rename leaves it alone.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("old.key");
    std::fs::hard_link(&out, &link).unwrap();
    let inode = std::fs::metadata(&out).unwrap().ino();

    let run = keygen(dir.path(), &out, true);
    assert_eq!(run.code, 0, "{}", run.output());
    let (new, bytes) = key_of(&out);
    assert_ne!(new, old);
    assert_eq!(mode(&out), 0o600, "mode {:o}", mode(&out));
    assert_ne!(std::fs::metadata(&out).unwrap().ino(), inode, "not renamed");
    assert_eq!(key_of(&link).0, old, "the old file was rewritten in place");
    assert_not_leaked(&run, &new, &bytes);
    assert!(run.stdout.contains(out.to_str().unwrap()), "{}", run.stdout);
    // No temporary file is left behind.
    assert_eq!(entries(dir.path()), ["cluster.key", "old.key"]);

    // --force where nothing exists yet simply writes the file.
    let fresh = dir.path().join("fresh.key");
    assert_eq!(keygen(dir.path(), &fresh, true).code, 0);
    assert_eq!(mode(&fresh), 0o600);
    key_of(&fresh);
}

/// A directory the test process cannot create files in: a read-only one of
/// its own, or, when it runs privileged (root ignores permission bits),
/// sysfs, which refuses new files to everyone.
fn unwritable_dir(scratch: &Path) -> PathBuf {
    let ro = scratch.join("read-only");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    for dir in [ro, PathBuf::from("/sys")] {
        let probe = dir.join("restgate-probe");
        match std::fs::File::create(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(_) => return dir,
        }
    }
    panic!("no unwritable directory to test with");
}

#[test]
fn an_unwritable_directory_fails_naming_the_path() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = unwritable_dir(scratch.path());
    let out = dir.join("restgate-cluster.key");
    for force in [false, true] {
        let run = keygen(scratch.path(), &out, force);
        assert_eq!(run.code, 2, "force {force}: {}", run.output());
        assert!(run.stdout.is_empty(), "force {force}: {}", run.stdout);
        assert!(
            run.stderr.contains(out.to_str().unwrap()),
            "force {force}: {}",
            run.stderr
        );
        assert!(!out.exists());
    }
    let _ = std::fs::set_permissions(
        scratch.path().join("read-only"),
        std::fs::Permissions::from_mode(0o700),
    );
}

#[test]
fn a_directory_as_out_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for force in [false, true] {
        let run = keygen(dir.path(), dir.path(), force);
        assert_eq!(run.code, 1, "force {force}: {}", run.output());
        assert!(
            run.stderr.contains(dir.path().to_str().unwrap()),
            "{}",
            run.stderr
        );
        assert!(dir.path().is_dir());
        assert!(entries(dir.path()).is_empty());
    }
}
