//! The process's open-file limit (`RLIMIT_NOFILE`): every link and listener is a file
//! descriptor, and the soft limit most shells start with (1024, or whatever the
//! container sets) is far below what a big in-process mesh or a busy servent needs. At
//! start the soft limit is raised to the hard one, which any process may do; raising the
//! hard limit needs privilege, so a mesh that needs more says so instead of failing on
//! its thousandth connect.

use std::io;

/// Descriptors a servent process uses besides its links and listeners: the executor's
/// poller and notifier, standard streams, log and data files, the HTTP side's files.
pub const SPARE_FILES: u64 = 64;

/// The open-file limit after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit before raising.
    pub was: u64,
    /// The soft limit now: what the process may open.
    pub soft: u64,
    /// The hard limit (the most the soft one can be raised to without privilege).
    pub hard: u64,
}

fn get() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

/// Raises the soft open-file limit to the hard limit (no privilege needed) and returns
/// both. When raising fails the limits stay as they were and are returned as they are.
pub fn raise_open_files() -> io::Result<OpenFiles> {
    let lim = get()?;
    let was = lim.rlim_cur as u64;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit from a struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            log::warn!(
                "cannot raise the open-file limit from {was}: {}",
                io::Error::last_os_error()
            );
        }
    }
    let now = get()?;
    Ok(OpenFiles {
        was,
        soft: now.rlim_cur as u64,
        hard: now.rlim_max as u64,
    })
}

/// [`raise_open_files`] at a servent's start: says in the log what the limit became, or
/// why it stays.
pub fn raise_open_files_or_warn() {
    match raise_open_files() {
        Ok(l) if l.soft > l.was => {
            log::info!("open-file limit raised from {} to {}", l.was, l.soft)
        }
        Ok(l) => log::debug!("open-file limit {} (hard {})", l.soft, l.hard),
        Err(e) => log::warn!("cannot read the open-file limit: {e}"),
    }
}

/// Descriptors each servent holds besides its links: the TCP listener, and its UDP socket
/// twice (the receiving task's and the clone datagrams are sent from, `rt::bind_udp`).
pub const FILES_PER_SERVENT: u64 = 3;

/// Descriptors an in-process mesh of `servents` with `links` links needs:
/// [`FILES_PER_SERVENT`] per servent, both ends of every link, and [`SPARE_FILES`].
pub fn mesh_files(servents: usize, links: usize) -> u64 {
    FILES_PER_SERVENT * servents as u64 + 2 * links as u64 + SPARE_FILES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let l = raise_open_files().unwrap();
        assert_eq!(l.soft, l.hard, "raised to the hard limit");
        assert!(l.soft >= l.was);
        assert_eq!(
            raise_open_files().unwrap().was,
            l.soft,
            "and it stays there"
        );
    }

    #[test]
    fn a_mesh_needs_a_listener_and_a_udp_socket_per_servent_and_two_ends_per_link() {
        assert_eq!(mesh_files(10_000, 20_000), 70_000 + SPARE_FILES);
    }
}
