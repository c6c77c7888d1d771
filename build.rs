//! Link options for the `broadside` binary: packed relocations.
//!
//! The binary is position-independent (ASLR), so the loader patches every
//! pointer in its read-only data at start-up. Listed one by one
//! (`.rela.dyn`), those relocations are 1.4 MB that every process reads and
//! keeps mapped; packed (`DT_RELR`) they are a few kilobytes.
//!
//! Only glibc 2.36 and later (Debian 12, the image's base) load a packed
//! binary: the linker marks it as needing `GLIBC_ABI_DT_RELR`, which an
//! older glibc refuses at start. So the option is passed only when this
//! build runs on such a glibc and builds for it (not cross-compiling); a
//! build on Ubuntu 22.04 (glibc 2.35) gets a binary that runs there.

fn main() {
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if native && glibc_loads_packed_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Whether the glibc this build script runs on is 2.36 or later.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_loads_packed_relocations() -> bool {
    unsafe extern "C" {
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: glibc returns a static, NUL-terminated string such as "2.36".
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version
        .to_str()
        .unwrap_or_default()
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_loads_packed_relocations() -> bool {
    false
}
