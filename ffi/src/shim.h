/*
 * rvs-ffi C shim: the part of DPDK 22.11 that bindgen cannot see.
 *
 * DPDK's fast path (rx/tx burst, mbuf alloc/free/prepend/adj, rte_lcore_id, rte_errno, ...) is made of
 * static inline functions, and its flag constants are RTE_BIT64() macros; bindgen emits neither. Each
 * function here is a thin, non-inline wrapper with the same contract as the DPDK function it names
 * (see the DPDK API docs); each RVS_* constant equals the DPDK constant of the same suffix, which
 * shim.c checks with static asserts. The shim is compiled with DPDK's own cflags (pkg-config libdpdk).
 *
 * Rust calls these through the bindgen output (bindings.rs), never directly from other crates.
 */
#ifndef RVS_SHIM_H
#define RVS_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_dev.h>
#include <rte_bus.h>

/* ethdev rx offload capabilities (RTE_ETH_RX_OFFLOAD_*). */
#define RVS_ETH_RX_OFFLOAD_IPV4_CKSUM 0x2ULL
#define RVS_ETH_RX_OFFLOAD_UDP_CKSUM 0x4ULL
#define RVS_ETH_RX_OFFLOAD_TCP_CKSUM 0x8ULL
#define RVS_ETH_RX_OFFLOAD_RSS_HASH 0x80000ULL
/* ethdev tx offload capabilities (RTE_ETH_TX_OFFLOAD_*). */
#define RVS_ETH_TX_OFFLOAD_IPV4_CKSUM 0x2ULL
#define RVS_ETH_TX_OFFLOAD_UDP_CKSUM 0x4ULL
#define RVS_ETH_TX_OFFLOAD_TCP_CKSUM 0x8ULL
#define RVS_ETH_TX_OFFLOAD_MULTI_SEGS 0x8000ULL
#define RVS_ETH_TX_OFFLOAD_MBUF_FAST_FREE 0x10000ULL
/* RSS hash types (RTE_ETH_RSS_*). */
#define RVS_ETH_RSS_IPV4 0x4ULL
#define RVS_ETH_RSS_FRAG_IPV4 0x8ULL
#define RVS_ETH_RSS_NONFRAG_IPV4_TCP 0x10ULL
#define RVS_ETH_RSS_NONFRAG_IPV4_UDP 0x20ULL
#define RVS_ETH_RSS_NONFRAG_IPV4_OTHER 0x80ULL
/* mbuf offload flags (RTE_MBUF_F_*). */
#define RVS_MBUF_F_RX_RSS_HASH 0x2ULL
#define RVS_MBUF_F_RX_L4_CKSUM_BAD 0x8ULL
#define RVS_MBUF_F_RX_L4_CKSUM_GOOD 0x100ULL
#define RVS_MBUF_F_RX_L4_CKSUM_MASK 0x108ULL
#define RVS_MBUF_F_TX_TCP_CKSUM 0x10000000000000ULL
#define RVS_MBUF_F_TX_UDP_CKSUM 0x30000000000000ULL
#define RVS_MBUF_F_TX_L4_MASK 0x30000000000000ULL
#define RVS_MBUF_F_TX_IP_CKSUM 0x40000000000000ULL
#define RVS_MBUF_F_TX_IPV4 0x80000000000000ULL
/* Limits. */
#define RVS_MAX_LCORE RTE_MAX_LCORE
#define RVS_PKTMBUF_HEADROOM RTE_PKTMBUF_HEADROOM
#define RVS_MBUF_DEFAULT_BUF_SIZE RTE_MBUF_DEFAULT_BUF_SIZE

/* Errors and lcores. */
int rvs_errno(void);
unsigned int rvs_lcore_id(void);
void rvs_pause(void);

/* Receive up to nb_pkts mbufs into rx_pkts (rte_eth_rx_burst). */
uint16_t rvs_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
/* rte_eth_tx_prepare then rte_eth_tx_burst of the prepared prefix: returns how many of tx_pkts the driver
 * took (the first n). Packets after the first one tx_prepare rejects are not sent. */
uint16_t rvs_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts);
/* rte_eth_dev_configure with a zeroed rte_eth_conf plus: RSS (mq_mode RSS, default key, rss_hf) when
 * rss_hf != 0, rx/tx port offloads, and the MTU when mtu != 0. */
int rvs_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_q, uint16_t nb_tx_q, uint64_t rss_hf,
                          uint64_t rx_offloads, uint64_t tx_offloads, uint32_t mtu);
/* Link state without the bitfields: out_speed in Mbps, returns 0 or -errno. */
int rvs_eth_link_get_nowait(uint16_t port_id, uint32_t *out_speed, int *out_up, int *out_full_duplex);

/* mbufs. */
struct rte_mbuf *rvs_pktmbuf_alloc(struct rte_mempool *mp);
void rvs_pktmbuf_free(struct rte_mbuf *m);
uint8_t *rvs_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t rvs_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t rvs_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t rvs_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t rvs_pktmbuf_tailroom(const struct rte_mbuf *m);
/* Single-segment length edits: return 0, or -1 changing nothing. */
int rvs_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
int rvs_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int rvs_pktmbuf_set_len(struct rte_mbuf *m, uint16_t len);
/* mbuf->hash.rss when RTE_MBUF_F_RX_RSS_HASH is set: returns 1 and writes *out, else 0. */
int rvs_pktmbuf_rss_hash(const struct rte_mbuf *m, uint32_t *out);
uint64_t rvs_pktmbuf_ol_flags(const struct rte_mbuf *m);
/* Replace the TX_* part of ol_flags with tx_flags and set l2_len/l3_len/l4_len. */
void rvs_pktmbuf_set_tx_offload(struct rte_mbuf *m, uint64_t tx_flags, uint16_t l2_len, uint16_t l3_len,
                                uint16_t l4_len);
/* Reads back l2_len / l3_len / l4_len (tests). */
void rvs_pktmbuf_tx_lens(const struct rte_mbuf *m, uint16_t *l2, uint16_t *l3, uint16_t *l4);
uint16_t rvs_pktmbuf_nb_segs(const struct rte_mbuf *m);

#endif
