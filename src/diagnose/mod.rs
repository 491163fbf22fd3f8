//! What an admin asks of restgate by hand: how one credential would be
//! decided, with each provider's raw answer (`restgate test-token`, the
//! console's "test a token"), and whether a provider's client-credentials
//! grant works end to end (`restgate fetch-token`, "test a provider"). One
//! engine for the command line and the console.

pub mod fetch;
pub mod inspect;
