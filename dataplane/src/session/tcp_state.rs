//! IPVS connection states, their timeouts and the TCP transition tables (kernel `ip_vs_proto_tcp.c`,
//! normal mode, not `secure_tcp`).
//!
//! States are small integers so a session stores one byte: TCP states use the kernel's indices
//! (0 = `NONE` .. 10 = `SYNACK`, 11 = `BUG!`), UDP's single state is [`UDP`]. The event of a segment is
//! chosen with the kernel's priority: RST, then SYN, then FIN, then ACK; a segment with none of them
//! moves the connection to `CLOSE` (as the kernel does).

/// `NONE`.
pub const NONE: u8 = 0;
/// `ESTABLISHED`: the only state counted as an active connection.
pub const ESTABLISHED: u8 = 1;
/// `SYN_SENT`.
pub const SYN_SENT: u8 = 2;
/// `SYN_RECV`.
pub const SYN_RECV: u8 = 3;
/// `FIN_WAIT`.
pub const FIN_WAIT: u8 = 4;
/// `TIME_WAIT`.
pub const TIME_WAIT: u8 = 5;
/// `CLOSE`.
pub const CLOSE: u8 = 6;
/// `CLOSE_WAIT`.
pub const CLOSE_WAIT: u8 = 7;
/// `LAST_ACK`.
pub const LAST_ACK: u8 = 8;
/// `LISTEN`.
pub const LISTEN: u8 = 9;
/// `SYNACK`.
pub const SYNACK: u8 = 10;
/// `BUG!` (the kernel's LAST marker; never entered).
pub const BUG: u8 = 11;
/// UDP's single state (`UDP`).
pub const UDP: u8 = 12;
/// Number of states (the size of a timeout table).
pub const N_STATES: usize = 13;

/// State names as `ipvsadm -Lnc` prints them.
pub const STATE_NAMES: [&str; N_STATES] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
    "BUG!",
    "UDP",
];

/// The name of state `s` (`ERR!` when out of range, as the kernel prints it).
pub fn state_name(s: u8) -> &'static str {
    STATE_NAMES.get(usize::from(s)).copied().unwrap_or("ERR!")
}

/// Default timeouts in seconds, indexed by state.
pub const DEFAULT_TIMEOUTS_S: [u32; N_STATES] =
    [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120, 2, 300];

/// The timeout of each state, in seconds. `--set tcp tcpfin udp` changes `ESTABLISHED`, `FIN_WAIT` and
/// `UDP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutTable {
    /// Seconds, indexed by state.
    pub secs: [u32; N_STATES],
}

impl Default for TimeoutTable {
    fn default() -> Self {
        TimeoutTable {
            secs: DEFAULT_TIMEOUTS_S,
        }
    }
}

impl TimeoutTable {
    /// The timeout of `state` in milliseconds (2 s for an unknown state, like `BUG!`).
    #[inline]
    pub fn ms(&self, state: u8) -> u64 {
        u64::from(self.secs.get(usize::from(state)).copied().unwrap_or(2)) * 1000
    }
}

/// Which way a segment travels, selecting the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpDir {
    /// Client -> real server (the kernel's INPUT table).
    Input,
    /// Real server -> client (OUTPUT).
    Output,
    /// Client -> real server when replies are never seen (DR/TUN: INPUT_ONLY).
    InputOnly,
}

use self::{
    CLOSE as CL, CLOSE_WAIT as CW, ESTABLISHED as ES, FIN_WAIT as FW, LAST_ACK as LA, LISTEN as LI,
    SYN_RECV as SR, SYN_SENT as SS, TIME_WAIT as TW,
};

/// Transition rows [event][current state]; events syn, fin, ack, rst; states sNO..sSA.
type Table = [[u8; 11]; 4];

const INPUT: Table = [
    /* syn */ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /* fin */ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    /* ack */ [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /* rst */ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
];
const OUTPUT: Table = [
    /* syn */ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    /* fin */ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /* ack */ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /* rst */ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
];
const INPUT_ONLY: Table = [
    /* syn */ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /* fin */ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /* ack */ [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /* rst */ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// The TCP flags that drive the state machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// ACK.
    pub ack: bool,
    /// RST.
    pub rst: bool,
}

impl TcpFlags {
    /// From the flags byte of a TCP header (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10).
    pub fn from_byte(b: u8) -> Self {
        TcpFlags {
            fin: b & 0x01 != 0,
            syn: b & 0x02 != 0,
            rst: b & 0x04 != 0,
            ack: b & 0x10 != 0,
        }
    }
}

/// True when the TCP flags byte `b` is a combination some endpoint sends: netfilter conntrack's
/// `tcp_valid_flags` table (SYN, SYN+URG, SYN+ACK, RST, RST+ACK, FIN+ACK, FIN+ACK+URG, ACK, ACK+URG),
/// ignoring PSH, ECE and CWR. Everything else (SYN+FIN, SYN+RST, no flags, FIN or URG without ACK,
/// "Christmas tree" segments...) is only ever crafted: scans, fingerprinting, state-table abuse.
pub fn flags_valid(b: u8) -> bool {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    const URG: u8 = 0x20;
    matches!(
        b & (FIN | SYN | RST | ACK | URG),
        SYN | 0x22 | 0x12 | RST | 0x14 | 0x11 | 0x31 | ACK | 0x30
    )
}

/// The next TCP state from `cur` for a segment with `flags` travelling `dir` (kernel `set_tcp_state`).
/// An out-of-range current state, or a segment with none of RST/SYN/FIN/ACK, gives `CLOSE`.
pub fn next_state(cur: u8, dir: TcpDir, flags: TcpFlags) -> u8 {
    let event = if flags.rst {
        3
    } else if flags.syn {
        0
    } else if flags.fin {
        1
    } else if flags.ack {
        2
    } else {
        return CLOSE;
    };
    let table = match dir {
        TcpDir::Input => &INPUT,
        TcpDir::Output => &OUTPUT,
        TcpDir::InputOnly => &INPUT_ONLY,
    };
    table[event].get(usize::from(cur)).copied().unwrap_or(CLOSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_valid_follows_the_conntrack_table() {
        // FIN 01 SYN 02 RST 04 PSH 08 ACK 10 URG 20 ECE 40 CWR 80.
        let valid: Vec<u8> = (0..=255u8).filter(|b| flags_valid(*b)).collect();
        for b in [0x02, 0x22, 0x12, 0x04, 0x14, 0x11, 0x31, 0x10, 0x30] {
            for extra in [0x00, 0x08, 0x40, 0x80, 0xc8] {
                assert!(valid.contains(&(b | extra)), "{:#04x}", b | extra);
            }
        }
        assert_eq!(valid.len(), 9 * 8, "only the table, times PSH/ECE/CWR");
        for bad in [
            0x03, 0x06, 0x00, 0x01, 0x29, 0x08, 0x20, 0x07, 0x3f, 0x16, 0x13,
        ] {
            assert!(!flags_valid(bad), "{bad:#04x}");
        }
    }

    const SYN: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        ack: false,
        rst: false,
    };
    const SYNACK_F: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        ack: true,
        rst: false,
    };
    const ACK: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        ack: true,
        rst: false,
    };
    const FINACK: TcpFlags = TcpFlags {
        syn: false,
        fin: true,
        ack: true,
        rst: false,
    };
    const RSTACK: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        ack: true,
        rst: true,
    };

    #[test]
    fn handshake_and_close_from_client_side() {
        let mut s = NONE;
        s = next_state(s, TcpDir::Input, SYN);
        assert_eq!(s, SYN_RECV);
        s = next_state(s, TcpDir::Output, SYNACK_F);
        assert_eq!(s, SYN_RECV);
        s = next_state(s, TcpDir::Input, ACK);
        assert_eq!(s, ESTABLISHED);
        s = next_state(s, TcpDir::Input, FINACK);
        assert_eq!(s, CLOSE_WAIT);
        s = next_state(s, TcpDir::Output, FINACK);
        assert_eq!(s, TIME_WAIT);
        s = next_state(s, TcpDir::Input, ACK);
        assert_eq!(s, TIME_WAIT);
    }

    #[test]
    fn server_closes_first() {
        let s = next_state(ESTABLISHED, TcpDir::Output, FINACK);
        assert_eq!(s, FIN_WAIT);
        assert_eq!(next_state(s, TcpDir::Input, FINACK), TIME_WAIT);
    }

    #[test]
    fn priority_rst_then_syn_then_fin_then_ack() {
        let all = TcpFlags {
            syn: true,
            fin: true,
            ack: true,
            rst: true,
        };
        assert_eq!(next_state(ESTABLISHED, TcpDir::Input, all), CLOSE);
        let synfin = TcpFlags {
            syn: true,
            fin: true,
            ack: false,
            rst: false,
        };
        assert_eq!(next_state(ESTABLISHED, TcpDir::Input, synfin), ESTABLISHED);
        assert_eq!(next_state(ESTABLISHED, TcpDir::Input, RSTACK), CLOSE);
        assert_eq!(
            next_state(ESTABLISHED, TcpDir::Input, TcpFlags::default()),
            CLOSE
        );
        assert_eq!(next_state(ESTABLISHED, TcpDir::InputOnly, FINACK), FIN_WAIT);
        assert_eq!(next_state(SYN_RECV, TcpDir::InputOnly, RSTACK), SYN_RECV);
        assert_eq!(next_state(200, TcpDir::Input, ACK), CLOSE);
    }

    #[test]
    fn names_and_timeouts() {
        assert_eq!(state_name(ESTABLISHED), "ESTABLISHED");
        assert_eq!(state_name(UDP), "UDP");
        assert_eq!(state_name(99), "ERR!");
        let t = TimeoutTable::default();
        assert_eq!(t.ms(ESTABLISHED), 900_000);
        assert_eq!(t.ms(FIN_WAIT), 120_000);
        assert_eq!(t.ms(UDP), 300_000);
        assert_eq!(t.ms(CLOSE), 10_000);
        assert_eq!(TcpFlags::from_byte(0x12), SYNACK_F);
    }
}
