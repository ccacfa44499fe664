/**
 * Exercise: predict, then measure: UDP and TCP on a lossy path (section
 * 12.2: "TCP guarantees that sent data will arrive intact")
 *
 * `deno task lab loss` makes two computers on this one (Linux network
 * namespaces) joined through a router that drops 20 % of what it passes
 * on to B, at random. A sends B 1,000 numbered UDP datagrams, then 4 MiB
 * (4,194,304 bytes) over TCP, through the same router, and times it.
 *
 * Your task: BEFORE you run it, write your predictions below. The check
 * will not run the experiment until all three are there; then it runs it
 * and compares. (It needs Linux, as root or with user namespaces; where
 * the lab cannot run, the check says so and exits 77.)
 *
 *   Check it:  deno task exercise lab-loss
 *   Then see:  deno task lab loss      (the whole story, packet counters too)
 *
 * @module
 */

// TODO: your three predictions, written down before you run the lab.

/** How many of the 1,000 UDP datagrams reach B? (a number) */
const udpArrived = NaN;

/** How many of the 4,194,304 bytes sent over TCP reach B's program? */
const tcpBytesArrived = NaN;

/**
 * On the lossy path the TCP transfer takes longer than on a good one.
 * Why, mostly? One letter:
 *   A. TCP's segments are bigger than UDP's datagrams, and a lossy path
 *      carries big packets slowly.
 *   B. Each lost segment must be sent again, once the sender has found out
 *      it was lost (a timeout, or acknowledgments that stop advancing);
 *      and after a loss TCP slows down, sending less before it waits.
 *   C. B computes a SHA-256 of every segment, and that takes time.
 *   D. B acknowledges nothing until all 4 MiB have arrived.
 */
const why = "";

// The check reads this line: leave it as it is.
console.log(JSON.stringify({ udpArrived, tcpBytesArrived, why }));
