//! Link options for the `broadside` binary.
//!
//! Two things, both about how much of the binary an idle server keeps in
//! memory: packed relocations, and the code a running server executes laid
//! out together.
//!
//! The binary is position-independent (ASLR), so the loader patches every
//! pointer in its read-only data at start-up. Listed one by one
//! (`.rela.dyn`), those relocations are 1.4 MB that every process reads and
//! keeps mapped; packed (`DT_RELR`) they are a few kilobytes. README
//! "Benchmarks" has the measurement.
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
    println!("cargo:rerun-if-env-changed=BROADSIDE_HOT_CODE");
    if std::env::var("PROFILE").as_deref() == Ok("release")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("BROADSIDE_HOT_CODE").as_deref() != Ok("off")
    {
        group_hot_code();
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Places the functions listed in `link/hot-code.txt` at the start of the
/// code, in the listed groups, ahead of everything else.
///
/// The kernel maps code a page-cache window at a time (64 kB or a whole
/// large folio), and start-up runs a little of nearly every crate: in the
/// linker's default order, those few functions were spread over nearly
/// every window, and an idle server had 10.5 of its 13 MB of code
/// resident. `link/hot-code.py` lists the functions that ran under
/// callgrind (start-up, the admin API, publishing, the public documents
/// and pages, on SQLite and on PostgreSQL: 3.7 MB); laid out together, an
/// idle server has about 6 MB of code resident. README "Benchmarks" has
/// the figures. Only release builds get it; the tests' debug builds link
/// as before.
///
/// The list names each function's section by a pattern without the hash
/// a symbol carries (`_ZN…17h*`, `Cs*_` for the crate in v0 names), so it
/// survives a change of compiler, dependency or profile; a function that
/// no longer exists matches nothing, and a new one is placed as before.
/// The linker script only adds an output section before `.text` (`INSERT`);
/// the default layout stays as it is. `BROADSIDE_HOT_CODE=off` builds
/// without it: for `link/hot-code.py`, whose callgrind names only the
/// functions in `.text`, and for a linker that cannot `INSERT` (mold).
fn group_hot_code() {
    let list = std::path::Path::new("link/hot-code.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let Ok(text) = std::fs::read_to_string(list) else {
        return;
    };
    let mut groups: Vec<Vec<&str>> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            groups.push(Vec::new());
        } else if !line.is_empty() && !line.starts_with('#') {
            match groups.last_mut() {
                Some(group) => group.push(line),
                None => groups.push(vec![line]),
            }
        }
    }
    let mut script = String::from("SECTIONS\n{\n  .text.hot : {\n");
    for group in groups.iter().filter(|group| !group.is_empty()) {
        script.push_str("    *(");
        // LLVM puts a `#[cold]` function (a slow path: a lock contended, a
        // table grown) in `.text.unlikely.…`; start-up runs many of those.
        for pattern in group {
            script.push_str(&format!("\n      .text.{pattern} .text.unlikely.{pattern}"));
        }
        script.push_str(")\n");
    }
    script.push_str("  }\n}\nINSERT BEFORE .text;\n");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("hot-code.ld");
    std::fs::write(&out, script).expect("write the linker script");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", out.display());
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
