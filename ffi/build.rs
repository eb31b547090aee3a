//! Generates the C header with cbindgen. In a checkout, `include/omnitron.h` is rewritten when the
//! API changes (only then, so the file's timestamp does not churn); `make test` then fails on
//! `git diff --exit-code include/omnitron.h` until the new header is committed.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(b) => b,
        Err(e) => panic!("cbindgen could not generate the header: {e}"),
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("omnitron.h");
    bindings.write_to_file(&out);
    let include = crate_dir.join("..").join("include");
    if include.is_dir() {
        let target = include.join("omnitron.h");
        let new = std::fs::read(&out).unwrap();
        if std::fs::read(&target).ok().as_deref() != Some(&new[..]) {
            std::fs::write(&target, new).expect("write include/omnitron.h");
        }
    }
}
