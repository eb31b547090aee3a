//! {{name}}: services, DI modules and workflows. They live in this library so that the binary
//! (src/main.rs), the integration tests (tests/) and each module's own unit tests share them.
//!
//! `omnitron generate service|module|workflow NAME` writes `src/NAME_<kind>.rs`, with its tests
//! inside, and declares it here (`pub mod NAME_<kind>;`).

pub mod greeter;
