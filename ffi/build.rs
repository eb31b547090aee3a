//! Generates the C header with cbindgen. In a checkout, `include/omnitron.h` is rewritten when the
//! API changes (only then, so the file's timestamp does not churn); `make test` then fails on
//! `git diff --exit-code include/omnitron.h` until the new header is committed.
//!
//! The version macros (`OMNITRON_VERSION_MAJOR` ... `OMNITRON_VERSION_NUMBER`) are written here from
//! the crate's version, so the header cannot disagree with the library it comes from.

use std::path::PathBuf;

fn version_macros() -> String {
    let part = |name: &str| -> u32 {
        let v = std::env::var(name).unwrap();
        v.parse().unwrap_or_else(|_| panic!("{name} is not a number: {v}"))
    };
    let (major, minor, patch) =
        (part("CARGO_PKG_VERSION_MAJOR"), part("CARGO_PKG_VERSION_MINOR"), part("CARGO_PKG_VERSION_PATCH"));
    // OMNITRON_VERSION_NUMBER packs each part in three decimal digits.
    assert!(minor < 1000 && patch < 1000, "OMNITRON_VERSION_NUMBER needs minor and patch below 1000");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap();
    format!(
        "\n// The version of this header, from the library's crate version. Test for newer functions with
// `#if OMNITRON_VERSION_NUMBER >= OMNITRON_MAKE_VERSION(0, 2, 0)`; compare with
// omnitron_version_number() at run time to check the library you linked.
#define OMNITRON_VERSION_MAJOR {major}
#define OMNITRON_VERSION_MINOR {minor}
#define OMNITRON_VERSION_PATCH {patch}
// MAJOR * 1000000 + MINOR * 1000 + PATCH (minor and patch stay below 1000).
#define OMNITRON_MAKE_VERSION(major, minor, patch) ((major) * 1000000 + (minor) * 1000 + (patch))
#define OMNITRON_VERSION_NUMBER {number}
#define OMNITRON_VERSION_STRING \"{version}\"
",
        number = major * 1_000_000 + minor * 1_000 + patch,
    )
}

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    // The shared library's SONAME is libomnitron.so.<major>: programs record it, and a library
    // with another major version (another ABI) is not loaded in its place.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libomnitron.so.{major}");
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let mut after = config.after_includes.take().unwrap_or_default();
    after.push_str(&version_macros());
    config.after_includes = Some(after);
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
