//! The npm packages some tests drive (pinned by each folder's
//! package-lock.json), installed on first use so that `cargo test` alone
//! works on a fresh machine with Node.js.

use std::path::Path;
use std::process::Command;

/// Runs `npm ci` in `dir` unless `package` is already installed there;
/// `needed_for` says what fails without Node.js.
pub fn ensure(dir: &Path, package: &str, needed_for: &str) {
    if dir
        .join("node_modules")
        .join(package)
        .join("package.json")
        .exists()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("npm (Node.js) is needed for {needed_for}: {e}"));
    assert!(status.success(), "npm ci in {} failed", dir.display());
}
