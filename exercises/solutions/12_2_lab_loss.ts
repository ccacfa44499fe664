/**
 * Solution: predict, then measure: UDP and TCP on a lossy path (section
 * 12.2). For teachers.
 *
 * Each datagram is dropped with probability 0.2, on its own, and nobody
 * sends it again: about 1,000 × 0.8 = 800 arrive, give or take a standard
 * deviation of sqrt(1000 × 0.2 × 0.8) ≈ 12.6 (the check accepts 4 of
 * those). TCP delivers every byte: it resends what was not acknowledged.
 * The price is time: finding out that a segment was lost (three duplicate
 * acknowledgments, or a timeout) and sending it again, and the congestion
 * window that halves (or falls to one segment) after each loss.
 *
 * @module
 */

/** How many of the 1,000 UDP datagrams reach B? (a number) */
const udpArrived = 800;

/** How many of the 4,194,304 bytes sent over TCP reach B's program? */
const tcpBytesArrived = 4_194_304;

/** Why TCP takes longer: the letter of the right explanation. */
const why = "B";

// The check reads this line: leave it as it is.
console.log(JSON.stringify({ udpArrived, tcpBytesArrived, why }));
