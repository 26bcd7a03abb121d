//! Synthetic logs: the sample bundles under `samples/` and the large benchmark logs. No public log
//! holds an Exchange rollup failing on a file in use, so the project writes its own, laid out as
//! Windows writes them ([`events`]), around one server at a time ([`host`]), with the installs that
//! fail or succeed ([`incident`]) inside ordinary traffic ([`noise`]).

pub mod biglog;
pub mod events;
pub mod exchange2016;
pub mod fixtures;
pub mod host;
pub mod hostile;
pub mod incident;
pub mod legacy;
pub mod noise;
pub mod realchunks;
pub mod samples;
pub mod servicing;
pub mod textlogs;
