//! The allocator's free memory, handed back to the operating system after a burst of work. glibc keeps what a
//! burst freed in its arenas (only the top of the main heap goes back by itself), so the resident size stays at
//! the burst's peak: opening a sled store that must replay its log (after a crash, or a stop that did not finish)
//! allocates and frees ~150 MiB at 1,000,000 tokens, which then stayed resident for the life of the process.

/// Give the allocator's free pages back to the operating system (glibc's `malloc_trim`); nothing elsewhere.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas; it takes their locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}
