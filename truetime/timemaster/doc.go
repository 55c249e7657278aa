// Package timemaster is Meridian's time master: an NTP responder (RFC 5905,
// client mode 3 in, server mode 4 out, versions 1–4) that declares its own
// uncertainty as root dispersion. TrueTime clients turn each reply into the
// interval offset ± (rtt/2 + uncertainty), so the declared uncertainty is a
// promise: the master's clock is within it of true time. It answers any NTP
// client (chrony, ntpsec's ntpdig, beevik/ntp).
//
// # Flow
//
//	UDP datagram ─► Serve (read loop, receive timestamp t2)
//	             ─► Respond (deterministic: parse, check, build reply)
//	             ─► transmit timestamp t3 ─► WriteTo
//
// Respond takes the receive time and a function for the transmit time; it
// does no I/O, so tests feed it arbitrary bytes. Serve is the thin edge that
// `meridian timemaster` and a node's --time-master run.
//
// # Invariants
//
//  1. A reply is sent only for a well-formed client request (48 bytes plus
//     whole 32-bit words, at most ntpwire.MaxPacketLen, version 1–4, mode 3);
//     anything else is dropped and counted by reason, never answered, never
//     a crash.
//  2. The reply echoes the request's transmit timestamp as its origin
//     timestamp bit for bit (clients match replies to requests with it) and
//     is never larger than the request (no amplification).
//  3. The declared root dispersion is the configured uncertainty rounded up
//     to the 16.16 format: never less than configured.
//  4. Receive timestamp ≤ transmit timestamp, both from the same clock.
//
// # What it must never do
//
//   - Answer a reply, a control (mode 6/7) or a symmetric packet: that is
//     how reflection loops and amplification start.
//   - Declare less uncertainty than configured, or claim synchronisation it
//     was not told it has.
//   - Stop serving because of a bad packet or a transient read error.
package timemaster
