//! restgate's own client, as every fake provider knows it, and the Unix
//! time the fakes date their tokens by.

/// restgate's client id at the fake providers.
#[allow(dead_code, reason = "some test binaries only write the secret")]
pub const CLIENT_ID: &str = "restgate-gw";
/// Its secret, which the gateway fixtures write to `{secret_file}`.
pub const CLIENT_SECRET: &str = "s3cr3t-client-value-9f8e7d";

/// Seconds since the epoch.
#[allow(dead_code, reason = "some test binaries date no token")]
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
