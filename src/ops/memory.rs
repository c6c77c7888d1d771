//! Giving freed memory back to the system after start-up.
//!
//! Start-up builds things once and drops them: the admin API's OpenAPI
//! document (about 2.3 MB of utoipa's tree, built with the router and
//! dropped), the templates' sources, the migrations. glibc keeps what was
//! freed in its heap, resident, for allocations that an idle server never
//! makes. Trimming once, when the server is ready, hands those pages back.

/// Returns the heap's free pages to the system (glibc `malloc_trim`); a
/// no-op where the C library has no such call.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists and takes the
    // allocator's locks; it touches no memory the program holds.
    unsafe {
        libc::malloc_trim(0);
    }
}
