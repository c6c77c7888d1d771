//! Link options for the `broadside` binary.
//!
//! The binary is position-independent (ASLR), so the loader patches every
//! pointer in its read-only data at start-up. Listed one by one
//! (`.rela.dyn`), those relocations are 1.4 MB that every process reads and
//! keeps mapped; packed (`DT_RELR`, glibc 2.36 and later: Debian 12, the
//! image's base) they are a few kilobytes. README "Benchmarks" has the
//! measurement.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
