/*
 * replyip: the connecting (our sending) IP address that a provider's reply
 * text names, e.g. Gmail's "[203.0.113.7      15]", Microsoft's "Client
 * host [198.51.100.50] blocked" or "banned sending IP [203.0.113.7]",
 * Yahoo's "Messages from 198.51.100.50 temporarily deferred", a generic
 * "(IP: 192.0.2.1)".
 *
 * An address counts only where the wording says it is the client's: inside
 * square brackets, or right after "IP", "IP address", "host", "from",
 * "client", "sender" or "address" (optionally followed by ':' or '('). A
 * bare dotted number elsewhere ("- 4.16.55.1", a version) is not taken, and
 * neither is `skip` (the receiving server's own address, when known), a
 * loopback or an unspecified address. Pure, no allocation: the address is
 * copied into `out` (at least 46 bytes) in the form the text used.
 * Returns 0 when one was found, -1 otherwise.
 */
#ifndef DS_CORE_REPLYIP_H
#define DS_CORE_REPLYIP_H

#include <stddef.h>

#define REPLYIP_MAX 46 /* INET6_ADDRSTRLEN */

int replyip_find(const char *text, const char *skip, char *out, size_t outsz);

#endif
