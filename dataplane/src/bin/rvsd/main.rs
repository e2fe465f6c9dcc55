//! rvsd: the rvs dataplane daemon.
mod dpdk_io;

fn main() {
    eprintln!("rvsd: not built yet");
    std::process::exit(2);
}
