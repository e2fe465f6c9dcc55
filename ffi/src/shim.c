/*
 * rvs-ffi C shim: non-inline wrappers of DPDK's static inline fast path. See shim.h for the contract;
 * every function keeps the semantics of the DPDK function it wraps.
 */
#include "shim.h"

#include <string.h>

/* The constants redefined in shim.h must equal DPDK's. */
_Static_assert(RVS_ETH_RX_OFFLOAD_IPV4_CKSUM == RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, "rx ipv4 cksum");
_Static_assert(RVS_ETH_RX_OFFLOAD_UDP_CKSUM == RTE_ETH_RX_OFFLOAD_UDP_CKSUM, "rx udp cksum");
_Static_assert(RVS_ETH_RX_OFFLOAD_TCP_CKSUM == RTE_ETH_RX_OFFLOAD_TCP_CKSUM, "rx tcp cksum");
_Static_assert(RVS_ETH_RX_OFFLOAD_RSS_HASH == RTE_ETH_RX_OFFLOAD_RSS_HASH, "rx rss hash");
_Static_assert(RVS_ETH_TX_OFFLOAD_IPV4_CKSUM == RTE_ETH_TX_OFFLOAD_IPV4_CKSUM, "tx ipv4 cksum");
_Static_assert(RVS_ETH_TX_OFFLOAD_UDP_CKSUM == RTE_ETH_TX_OFFLOAD_UDP_CKSUM, "tx udp cksum");
_Static_assert(RVS_ETH_TX_OFFLOAD_TCP_CKSUM == RTE_ETH_TX_OFFLOAD_TCP_CKSUM, "tx tcp cksum");
_Static_assert(RVS_ETH_TX_OFFLOAD_MULTI_SEGS == RTE_ETH_TX_OFFLOAD_MULTI_SEGS, "tx multi segs");
_Static_assert(RVS_ETH_TX_OFFLOAD_MBUF_FAST_FREE == RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE, "tx fast free");
_Static_assert(RVS_ETH_RSS_IPV4 == RTE_ETH_RSS_IPV4, "rss ipv4");
_Static_assert(RVS_ETH_RSS_FRAG_IPV4 == RTE_ETH_RSS_FRAG_IPV4, "rss frag ipv4");
_Static_assert(RVS_ETH_RSS_NONFRAG_IPV4_TCP == RTE_ETH_RSS_NONFRAG_IPV4_TCP, "rss ipv4 tcp");
_Static_assert(RVS_ETH_RSS_NONFRAG_IPV4_UDP == RTE_ETH_RSS_NONFRAG_IPV4_UDP, "rss ipv4 udp");
_Static_assert(RVS_ETH_RSS_NONFRAG_IPV4_OTHER == RTE_ETH_RSS_NONFRAG_IPV4_OTHER, "rss ipv4 other");
_Static_assert(RVS_MBUF_F_RX_RSS_HASH == RTE_MBUF_F_RX_RSS_HASH, "rx rss hash flag");
_Static_assert(RVS_MBUF_F_RX_L4_CKSUM_BAD == RTE_MBUF_F_RX_L4_CKSUM_BAD, "rx l4 cksum bad");
_Static_assert(RVS_MBUF_F_RX_L4_CKSUM_GOOD == RTE_MBUF_F_RX_L4_CKSUM_GOOD, "rx l4 cksum good");
_Static_assert(RVS_MBUF_F_RX_L4_CKSUM_MASK == RTE_MBUF_F_RX_L4_CKSUM_MASK, "rx l4 cksum mask");
_Static_assert(RVS_MBUF_F_TX_TCP_CKSUM == RTE_MBUF_F_TX_TCP_CKSUM, "tx tcp flag");
_Static_assert(RVS_MBUF_F_TX_UDP_CKSUM == RTE_MBUF_F_TX_UDP_CKSUM, "tx udp flag");
_Static_assert(RVS_MBUF_F_TX_L4_MASK == RTE_MBUF_F_TX_L4_MASK, "tx l4 mask");
_Static_assert(RVS_MBUF_F_TX_IP_CKSUM == RTE_MBUF_F_TX_IP_CKSUM, "tx ip flag");
_Static_assert(RVS_MBUF_F_TX_IPV4 == RTE_MBUF_F_TX_IPV4, "tx ipv4 flag");
_Static_assert(sizeof(struct rte_mbuf) == 128, "rte_mbuf is two cache lines");

int rvs_errno(void) { return rte_errno; }

unsigned int rvs_lcore_id(void) { return rte_lcore_id(); }

void rvs_pause(void) { rte_pause(); }

uint16_t rvs_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t rvs_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	uint16_t ready = rte_eth_tx_prepare(port_id, queue_id, tx_pkts, nb_pkts);
	if (ready == 0)
		return 0;
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, ready);
}

int rvs_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_q, uint16_t nb_tx_q, uint64_t rss_hf,
                          uint64_t rx_offloads, uint64_t tx_offloads, uint32_t mtu)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	if (rss_hf != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = NULL; /* the driver's default key */
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
	}
	conf.rxmode.offloads = rx_offloads;
	conf.rxmode.mtu = mtu;
	conf.txmode.offloads = tx_offloads;
	return rte_eth_dev_configure(port_id, nb_rx_q, nb_tx_q, &conf);
}

int rvs_eth_link_get_nowait(uint16_t port_id, uint32_t *out_speed, int *out_up, int *out_full_duplex)
{
	struct rte_eth_link link;
	int rc;

	memset(&link, 0, sizeof(link));
	rc = rte_eth_link_get_nowait(port_id, &link);
	if (rc < 0)
		return rc;
	*out_speed = link.link_speed;
	*out_up = link.link_status == RTE_ETH_LINK_UP;
	*out_full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	return 0;
}

struct rte_mbuf *rvs_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }

void rvs_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

uint8_t *rvs_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }

uint16_t rvs_pktmbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }

uint32_t rvs_pktmbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }

uint16_t rvs_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }

uint16_t rvs_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }

int rvs_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len) == NULL ? -1 : 0;
}

int rvs_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len) == NULL ? -1 : 0;
}

int rvs_pktmbuf_set_len(struct rte_mbuf *m, uint16_t len)
{
	uint16_t cur;

	if (m->nb_segs != 1)
		return -1;
	cur = m->data_len;
	if (len >= cur)
		return rte_pktmbuf_append(m, (uint16_t)(len - cur)) == NULL ? -1 : 0;
	return rte_pktmbuf_trim(m, (uint16_t)(cur - len));
}

int rvs_pktmbuf_rss_hash(const struct rte_mbuf *m, uint32_t *out)
{
	if ((m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) == 0)
		return 0;
	*out = m->hash.rss;
	return 1;
}

uint64_t rvs_pktmbuf_ol_flags(const struct rte_mbuf *m) { return m->ol_flags; }

void rvs_pktmbuf_set_tx_offload(struct rte_mbuf *m, uint64_t tx_flags, uint16_t l2_len, uint16_t l3_len,
                                uint16_t l4_len)
{
	m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK) | (tx_flags & RTE_MBUF_F_TX_OFFLOAD_MASK);
	m->l2_len = l2_len;
	m->l3_len = l3_len;
	m->l4_len = l4_len;
}

void rvs_pktmbuf_tx_lens(const struct rte_mbuf *m, uint16_t *l2, uint16_t *l3, uint16_t *l4)
{
	*l2 = m->l2_len;
	*l3 = m->l3_len;
	*l4 = m->l4_len;
}

uint16_t rvs_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
