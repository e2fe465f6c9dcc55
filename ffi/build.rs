//! Build script of rvs-ffi: finds DPDK with `pkg-config libdpdk`, generates Rust bindings for the
//! allowlisted part of its API with bindgen, and compiles the C shim (`src/shim.c`) that wraps DPDK's
//! static inline fast path. The shim is compiled (and its link line emitted) before the DPDK libraries,
//! so that the linker sees the shim's references to DPDK symbols first. DPDK is linked dynamically: the
//! PMDs are not on the link line, EAL loads them from its plugin directory at init.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Runs `pkg-config <args> libdpdk` and splits its output into words.
fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| panic!("rvs-ffi: cannot run pkg-config: {e}"));
    if !out.status.success() {
        panic!(
            "rvs-ffi: `pkg-config {} libdpdk` failed (is libdpdk-dev installed?): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Types every `RVS_*` constant of the shim header as `u64` (DPDK's flags are 64-bit masks), and the
/// limits as `u32`.
#[derive(Debug)]
struct ConstTypes;

impl bindgen::callbacks::ParseCallbacks for ConstTypes {
    fn int_macro(&self, name: &str, _value: i64) -> Option<bindgen::callbacks::IntKind> {
        if name.starts_with("RVS_MAX_")
            || name.starts_with("RVS_PKTMBUF_")
            || name.starts_with("RVS_MBUF_DEFAULT")
        {
            Some(bindgen::callbacks::IntKind::U32)
        } else if name.starts_with("RVS_") {
            Some(bindgen::callbacks::IntKind::U64)
        } else {
            None
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=src/shim.h");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let cflags = pkg_config(&["--cflags"]);
    let libs = pkg_config(&["--libs"]);

    // 1. The shim, with DPDK's own cflags (they carry `-include rte_config.h` and `-march=...`).
    let mut build = cc::Build::new();
    build
        .file("src/shim.c")
        .include("src")
        .warnings(true)
        .extra_warnings(true)
        .opt_level(3);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("rvs_shim");

    // 2. The DPDK link lines, after the shim.
    for word in &libs {
        if let Some(lib) = word.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        } else if let Some(dir) = word.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else {
            println!("cargo:rustc-link-arg={word}");
        }
    }

    // 3. Bindings: the shim header (which includes the DPDK headers we use), allowlisted.
    // `-include rte_config.h` comes as two words; keep the pair together.
    let mut args = Vec::new();
    let mut it = cflags.iter().peekable();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(h) = it.next() {
                args.push(f.clone());
                args.push(h.clone());
            }
        } else if f.starts_with("-I") || f.starts_with("-D") {
            args.push(f.clone());
        }
    }

    let bindings = bindgen::Builder::default()
        .header("src/shim.h")
        .clang_args(&args)
        .clang_arg("-Isrc")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .parse_callbacks(Box::new(ConstTypes))
        .allowlist_function("rvs_.*")
        .allowlist_var("RVS_.*")
        .allowlist_function("rte_eal_init")
        .allowlist_function("rte_eal_cleanup")
        .allowlist_function("rte_eal_remote_launch")
        .allowlist_function("rte_eal_wait_lcore")
        .allowlist_function("rte_eal_get_lcore_state")
        .allowlist_function("rte_get_next_lcore")
        .allowlist_function("rte_get_main_lcore")
        .allowlist_function("rte_lcore_count")
        .allowlist_function("rte_lcore_is_enabled")
        .allowlist_function("rte_lcore_to_socket_id")
        .allowlist_function("rte_socket_id")
        .allowlist_function("rte_strerror")
        .allowlist_function("rte_pktmbuf_pool_create")
        .allowlist_function("rte_mempool_free")
        .allowlist_function("rte_mempool_avail_count")
        .allowlist_function("rte_mempool_in_use_count")
        .allowlist_function("rte_eth_dev_count_avail")
        .allowlist_function("rte_eth_dev_get_port_by_name")
        .allowlist_function("rte_eth_dev_get_name_by_port")
        .allowlist_function("rte_eth_dev_is_valid_port")
        .allowlist_function("rte_eth_dev_info_get")
        .allowlist_function("rte_eth_dev_adjust_nb_rx_tx_desc")
        .allowlist_function("rte_eth_rx_queue_setup")
        .allowlist_function("rte_eth_tx_queue_setup")
        .allowlist_function("rte_eth_dev_start")
        .allowlist_function("rte_eth_dev_stop")
        .allowlist_function("rte_eth_dev_close")
        .allowlist_function("rte_eth_dev_socket_id")
        .allowlist_function("rte_eth_macaddr_get")
        .allowlist_function("rte_eth_promiscuous_enable")
        .allowlist_function("rte_eth_promiscuous_get")
        .allowlist_function("rte_eth_stats_get")
        .allowlist_function("rte_eth_stats_reset")
        .allowlist_function("rte_eth_dev_set_mtu")
        .allowlist_function("rte_eth_dev_get_mtu")
        .allowlist_function("rte_dev_probe")
        .allowlist_type("rte_mbuf")
        .allowlist_type("rte_mempool")
        .allowlist_type("rte_eth_dev_info")
        .allowlist_type("rte_eth_stats")
        .allowlist_type("rte_ether_addr")
        .allowlist_type("rte_lcore_state_t")
        // Packed structs holding aligned members (E0588) and packed bitfield structs: opaque.
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .derive_debug(true)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .generate()
        .expect("rvs-ffi: bindgen failed on src/shim.h");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("rvs-ffi: cannot write bindings.rs");
}
