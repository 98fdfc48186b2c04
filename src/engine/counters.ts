// The counters a kernel engineer reads first, as Linux 5.10 keeps them: the device's
// rtnl_link_stats64 (/proc/net/dev), the driver's ethtool -S, the IP, TCP and UDP MIBs
// (/proc/net/snmp), TcpExt (/proc/net/netstat) and each UDP socket's sk_drops (/proc/net/udp).
//
// Nothing here is counted per packet: every figure comes from counters the emulation keeps
// anyway (the device's per-queue counts, softnet_data's, each socket's delivered and drops),
// each with the kernel or driver function that counts it in Linux. Where rxsmp models less
// than Linux (it transmits nothing: no ACKs, no ICMP; no socket backlog), the counter is 0
// and the comment says why. report/procfs.ts prints them in the kernel's formats.

import type { Config } from '../config/schema.js';
import { nicDriver } from '../drivers/table.js';
import { ringBytes, sum } from '../drivers/driver.js';
import type { Shm } from '../shm/memory.js';
import { IPPROTO_TCP } from '../uapi/inet.js';
import type { NetdevStats, SnmpCounters } from './result_types.js';

export type { NetdevStats, SnmpCounters };

/** What the sockets took, per protocol (IPv4 and IPv6 together), summed from each socket's counters. */
export interface SocketTotals {
  udp: SocketCounts;
  tcp: SocketCounts;
  /** Every UDP socket that dropped: its flow index and sk_drops (/proc/net/udp's drops column). */
  udp_drops: { flow: number; drops: number }[];
}
export interface SocketCounts {
  sockets: number;
  /** Segments queued to the sockets (sk.delivered). */
  delivered: number;
  /** Segments the sockets refused, sk_rcvbuf full (sk.drops: sk_drops). */
  drops: number;
}

/** Sum every socket's counters by protocol (after the run; the sockets are the flows). */
export function socketTotals(shm: Shm): SocketTotals {
  const SOCK = shm.layout.SOCK;
  const out: SocketTotals = {
    udp: { sockets: 0, delivered: 0, drops: 0 },
    tcp: { sockets: 0, delivered: 0, drops: 0 },
    udp_drops: [],
  };
  for (let s = 0; s < shm.layout.skCount; s++) {
    const tcp = shm.i32[shm.skIdx(s, SOCK.proto)] === IPPROTO_TCP;
    const c = tcp ? out.tcp : out.udp;
    const drops = shm.f64[shm.skIdxF(s, SOCK.drops)];
    c.sockets++;
    c.delivered += shm.f64[shm.skIdxF(s, SOCK.delivered)];
    c.drops += drops;
    if (!tcp && drops > 0) out.udp_drops.push({ flow: shm.i32[shm.skIdx(s, SOCK.flow)], drops });
  }
  return out;
}

/** What the counters below are derived from: the run document's parts, and the sockets. */
export interface CounterInputs {
  cfg: Pick<Config, 'nic' | 'proto' | 'pcap'> & Partial<Pick<Config, 'xdp' | 'xdp_mode'>>;
  percpu: { processed: number; dropped: number; gro_merged: number }[];
  queues: {
    rx_packets: number;
    rx_bytes: number;
    rx_missed: number;
    alloc_failed: number;
    virtio?: { kicks: number; xdp?: { packets: number; tx: number; redirects: number; drops: number } };
  }[];
  dropped: Record<string, number | undefined>;
  sockets: SocketTotals;
  /** LINUX_MIB_BUSYPOLLRXPACKETS: packets napi_busy_loop's polls took (0 without busy polling). */
  busy_poll_packets?: number;
}

/**
 * dev_get_stats (net/core/dev.c): the driver's counters plus dev->rx_dropped, which the core
 * raises once per skb in enqueue_to_backlog (backlog full, flow limit: softnet's `dropped`)
 * and in __netif_receive_skb_core when no protocol takes the frame (not_ip).
 */
export function netdevStats(x: CounterInputs): NetdevStats {
  const d = x.dropped;
  const missed = sum(x.queues, (q) => q.rx_missed);
  const missedAs = nicDriver(x.cfg.nic).missed_counter;
  return {
    // ixgbe_get_stats64 / virtnet_stats sum the rings' stats; 3c59x's boomerang_rx counts rx_packets++
    rx_packets: sum(x.queues, (q) => q.rx_packets),
    rx_bytes: sum(x.queues, ringBytes),
    rx_errors: 0, // ixgbe_update_stats: crcerrs + rlec; the wire corrupts nothing
    rx_dropped: sum(x.percpu, (p) => p.dropped) + (d.not_ip ?? 0),
    // 3c59x update_stats: window 6 register 5 (RxOverruns), frames the chip could not upload
    rx_fifo_errors: missedAs === 'rx_fifo_errors' ? missed : 0,
    // ixgbe_update_stats: the MPC registers summed. (With SRRCTL.DROP_EN a real 82599 counts a queue
    // without descriptors in QPRDC, rx_no_dma_resources; rxsmp's NIC counts it here.) virtio-net: the
    // tap's tun queue drops (packets.dropped.tun) happen in the host, which no guest counter sees.
    rx_missed_errors: missedAs === 'rx_missed_errors' ? missed : 0,
    // virtio_net's receive_buf: a buffer too short for its header, dev->stats.rx_length_errors++
    rx_length_errors: d.virtio_length ?? 0,
    rx_over_errors: 0,
    rx_crc_errors: 0,
    rx_frame_errors: 0,
    rx_compressed: 0,
    multicast: 0,
  };
}

/**
 * ethtool -S: the counters of the driver's get_strings list that rxsmp counts, by name, in the
 * driver's order. procfs.ts prints the whole list (ethtoolNames), the others 0.
 */
export function nicStats(x: CounterInputs, n: NetdevStats): Record<string, number> {
  return nicDriver(x.cfg.nic).ethtool_stats(x.queues, n);
}

/**
 * Every name ethtool -S prints for the NIC, in the driver's get_strings order (drivers/table.ts:
 * ixgbe's adapter list and 64 rings each way, virtio-net its queue pairs', 3c59x five keys);
 * none for a NIC this build does not know.
 */
export function ethtoolNames(nic: string, queues: number): string[] {
  return nicDriver(nic)?.ethtool_names(queues) ?? [];
}

/** snmp4_ipstats_list (net/ipv4/proc.c), after Forwarding and DefaultTTL. */
export const IP_MIB = [
  'InReceives',
  'InHdrErrors',
  'InAddrErrors',
  'ForwDatagrams',
  'InUnknownProtos',
  'InDiscards',
  'InDelivers',
  'OutRequests',
  'OutDiscards',
  'OutNoRoutes',
  'ReasmTimeout',
  'ReasmReqds',
  'ReasmOKs',
  'ReasmFails',
  'FragOKs',
  'FragFails',
  'FragCreates',
];
/** snmp4_tcp_list. */
export const TCP_MIB = [
  'RtoAlgorithm',
  'RtoMin',
  'RtoMax',
  'MaxConn',
  'ActiveOpens',
  'PassiveOpens',
  'AttemptFails',
  'EstabResets',
  'CurrEstab',
  'InSegs',
  'OutSegs',
  'RetransSegs',
  'InErrs',
  'OutRsts',
  'InCsumErrors',
];
/** snmp4_udp_list. */
export const UDP_MIB = [
  'InDatagrams',
  'NoPorts',
  'InErrors',
  'OutDatagrams',
  'RcvbufErrors',
  'SndbufErrors',
  'InCsumErrors',
  'IgnoredMulti',
  'MemErrors',
];

const zeros = (names: readonly string[]) => Object.fromEntries(names.map((k) => [k, 0])) as Record<string, number>;

/**
 * The IP, TCP and UDP MIBs. Linux counts an skb once in ip_rcv and tcp_v4_rcv, so a GRO train
 * is one InReceives and one InSegs (rxsmp's drop counters and sockets count segments; UDP is
 * never merged). IPv6 traffic, which Linux counts in /proc/net/snmp6 (Ip6*, Udp6*), is folded
 * into Ip and Udp here; TCP has one MIB for both in Linux too. Drops before a socket (no_socket,
 * l4_csum) are not split by protocol: they count for TCP in a TCP-only run, else for UDP.
 */
export function snmpCounters(x: CounterInputs): SnmpCounters {
  const d = (k: string) => x.dropped[k] ?? 0;
  const s = x.sockets;
  const tcpOnly = x.cfg.proto === 'tcp' && x.cfg.pcap === '';
  // Skbs that reached ip_rcv: __netif_receive_skb_core's (softnet `processed`) but the non-IP
  // ones; l4_csum drops happen in rxsmp's GRO, before the core, where Linux drops them in
  // udp_rcv / tcp_v4_rcv, after ip_rcv.
  // Generic XDP runs after `processed` is counted and before ip_rcv: what it consumed never got there.
  const generic = x.cfg.xdp && x.cfg.xdp_mode === 'generic' ? d('xdp_drop') + d('xdp_aborted') + d('xdp_tx') + d('xdp_redirect_err') : 0;
  const inReceives = sum(x.percpu, (p) => p.processed) - d('not_ip') + d('l4_csum') - generic;
  const hdrErrors = d('ip_hdr') + d('ip_csum');
  const inDelivers = inReceives - hdrErrors - d('ip_frag');
  const udpCsum = tcpOnly ? 0 : d('l4_csum');
  const noPorts = tcpOnly ? 0 : d('no_socket');
  const udpSkbs = s.udp.delivered + s.udp.drops + noPorts + udpCsum;
  const tcpCsum = tcpOnly ? d('l4_csum') : 0;
  const Ip = {
    ...zeros(IP_MIB),
    InReceives: inReceives, // ip_rcv_core: IPSTATS_MIB_IN
    InHdrErrors: hdrErrors, // ip_rcv_core: inhdr_error, csum_error (a truncated packet counts here too)
    // InUnknownProtos (ip_protocol_deliver_rcu): rxsmp counts a protocol without a handler as no_socket
    InDelivers: inDelivers, // ip_protocol_deliver_rcu: every skb handed to tcp_v4_rcv / udp_rcv
    ReasmReqds: d('ip_frag'), // ip_defrag: each fragment (reassembly is not modelled: none completes)
  };
  const Tcp = {
    ...zeros(TCP_MIB),
    RtoAlgorithm: 1, // tcp_mib_init
    RtoMin: 200,
    RtoMax: 120_000,
    MaxConn: -1,
    PassiveOpens: s.tcp.sockets, // each socket's connection was accepted before the traffic
    CurrEstab: s.tcp.sockets, // tcp_set_state(TCP_ESTABLISHED)
    InSegs: inDelivers - udpSkbs, // tcp_v4_rcv: every skb, "even if it's bad"
    InErrs: tcpCsum, // tcp_v4_rcv: csum_error (OutSegs, OutRsts: rxsmp sends no ACK nor RST)
    InCsumErrors: tcpCsum,
  };
  const Udp = {
    ...zeros(UDP_MIB),
    InDatagrams: s.udp.delivered, // udp_recvmsg counts a datagram read; after the drain every queued one is
    NoPorts: noPorts, // __udp4_lib_rcv: no socket
    InErrors: s.udp.drops + udpCsum, // __udp_queue_rcv_skb, csum_error
    RcvbufErrors: s.udp.drops, // __udp_queue_rcv_skb: __udp_enqueue_schedule_skb said -ENOMEM
    InCsumErrors: udpCsum,
  };
  const TcpExt = {
    // tcp_data_queue: tcp_try_rmem_schedule failed, the receive queue over sk_rcvbuf
    TCPRcvQDrop: s.tcp.drops,
    // tcp_add_backlog: rxsmp's readers never own a socket while softirq delivers (no socket backlog)
    TCPBacklogDrop: 0,
    // tcp_data_queue: data past a zero window (the generator's senders respect the window)
    TCPZeroWindowDrop: 0,
    // napi_busy_loop: what the busy poller's napi polls took (sk_busy_loop from recvmsg)
    BusyPollRxPackets: x.busy_poll_packets ?? 0,
  };
  return { Ip, Tcp, Udp, TcpExt };
}

/** snmp4_net_list (net/ipv4/proc.c, 5.10): /proc/net/netstat's TcpExt names, in order. */
export const TCPEXT_MIB = (
  'SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps ' +
  'LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab DelayedACKs DelayedACKLocked DelayedACKLost ' +
  'ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging ' +
  'TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit ' +
  'TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes ' +
  'TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent ' +
  'TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout ' +
  'TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard TCPDSACKIgnoredOld ' +
  'TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged ' +
  'TCPSackShiftFallback TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter ' +
  'TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce TCPOFOQueue TCPOFODrop ' +
  'TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive TCPFastOpenActiveFail TCPFastOpenPassive ' +
  'TCPFastOpenPassiveFail TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPFastOpenBlackhole ' +
  'TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv ' +
  'TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect ' +
  'TCPHystartDelayCwnd TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 ' +
  'TCPACKSkippedTimeWait TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered ' +
  'TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey ' +
  'TcpTimeoutRehash TcpDuplicateDataRehash TCPDSACKRecvSegs TCPDSACKIgnoredDubious'
).split(' ');
