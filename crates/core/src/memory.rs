//! How the process asks the C allocator for memory.
//!
//! glibc's `malloc` serves a request of 128 KiB or more with its own `mmap`, returned to the
//! system at `free`. Its *dynamic* threshold then raises that limit to the size of each such
//! block freed, up to 32 MiB, so after the first few big buffers (redb's dirty pages, the search
//! writer's arenas, an import batch) every later one comes from the thread's heap instead. Freed
//! there, it stays resident until everything above it is freed too. Measured on the Online Retail
//! export (release, `/usr/bin/time`, six runs each, side by side; BENCHMARKS.md): `countertop
//! import` peaked at 113–118 MB and `countertop rebuild` at 101–109 MB with the dynamic
//! threshold, and at 90–98 MB and 92–99 MB with it fixed at 256 KiB, at the same speed. mimalloc instead was ~10 %
//! faster to import but peaked at 210–231 MB.

/// Fixes glibc's mmap threshold at 256 KiB (see the module's comment). Call it first thing in
/// `main`, before any thread starts. Does nothing on other C libraries, or when the user set the
/// threshold with glibc's own `MALLOC_MMAP_THRESHOLD_` variable.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        const MMAP_THRESHOLD: libc::c_int = 256 * 1024;
        // SAFETY: `mallopt` only sets a tuning parameter of the allocator; the value is in the
        // range glibc accepts (0 ..= 32 MiB on 64-bit). Its result says whether it took, which
        // changes nothing for us either way.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}
