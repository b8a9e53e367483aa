/*
 * bounce_text_patterns: the layout knowledge of the plain-text notice
 * reader (bounce_text.c) — each family's signature, the lines where the
 * returned message starts, the labels and lead-ins a recipient stands
 * after, delay and expiry wording — as POSIX EREs compiled once.
 */
#include "core/log.h"
#include "ingest/bounce_text_int.h"

#include <glib.h>

/* Layout families, most distinctive first: the first whose signature
 * occurs names the format. Written from each MTA's documented or widely
 * known notice text. */
const struct btext_family btext_families[] = {
    {"zoho", "ERROR_CODE[[:space:]]*:|zoho(mail)?\\.com"},
    {"qmail", "qmail-send program|I'm afraid I wasn't able to deliver your message|"
              "I'm not going to try again; this message has been in the queue too long"},
    {"dma", "DragonFly Mail Agent|There was an error delivering your mail to"},
    {"gmail", "Delivery to the following recipients? (failed permanently|has been delayed)|"
              "Technical details of (permanent|temporary) failure|"
              "Google tried to deliver your message"},
    {"office365", "Delivery has failed to these recipients or groups|"
                  "Diagnostic information for administrators|Remote Server returned '"},
    {"exchange", "did not reach the following recipient|"
                 "could not be reached:?[[:space:]]*$|"
                 "did not reach some or all of the intended recipients"},
    {"domino", "was not delivered to:|Domino Directory"},
    {"courier", "Courier mail server|This is a delivery status notification from"},
    {"opensmtpd", "This is the MAILER-DAEMON, please DO NOT REPLY|"
                  "An error has occurred while attempting to deliver a message for"},
    {"imail", "Ipswitch|IMail|^Unknown user: "},
    {"gateway", "(Sent|Out) <<<|(Received|In) >>>|<<< RCPT TO"},
    {"sendmail", "Transcript of session follows|"
                 "The following addresses had (permanent fatal|transient non-fatal) errors|"
                 "\\.\\.\\. (User unknown|Deferred|Service unavailable)"},
    {"exim", "SMTP error from remote (mail )?server|mail delivery software|"
             "retry timeout exceeded|The following address\\(es\\) failed|"
             "all relevant MX records point to non-existent hosts|Unrouteable address"},
};
#define NFAMILIES (sizeof btext_families / sizeof btext_families[0])

/* Where the returned message starts (a line; the notice is cut there). */
static const char re_cut_src[] =
    "^[[:space:]]*[-=_*]*[[:space:]]*(original message|returned message|"
    "below this line is a copy|this is a copy of (the|your) message|"
    "(a )?copy of the original message|original message (headers|follows)|"
    "message headers follow|(the )?headers? of the original message|"
    "undelivered message (headers )?(is attached|follows)|unsent message below|"
    "returned mail follows|original message header|"
    "below is a copy of the original message|content-type: message/rfc822|"
    "text of (the )?(original|returned) message|message text follows)";

/* An address right after these is a recipient (the text before it,
 * lower-cased, ends so). */
static const char re_label_src[] =
    "(^|[^a-z])(recipients?|recipient address(es)?|failed recipients?|"
    "original-recipient|final-recipient|address(ee)?|unknown user|user unknown|"
    "invalid (recipient|user|mailbox|address)|rcpt to|mailbox|no such user|"
    "user not found|bad recipient|delivery failed for|undeliverable( to)?|"
    "destinataire|empf(ae|ä)nger|destinatario|destinat(a|á)rio|получатель|адресат)"
    "[[:space:]]*(:|=)?[[:space:]]*(rfc822;)?[[:space:]]*$";
static const char re_lead_src[] =
    "((deliver|delivering|delivered|delivery|send|sending|sent|mail|message|"
    "e-?mail|reach|relay|forward|forwarding)( (to|for))?|"
    "(not|n't|cannot|unable to) (be )?(delivered|reached|delivered)( to)?|"
    "(failed|failure|undeliverable|rejected|error|bounced)( (to|for))?)"
    "[[:space:]]*:?[[:space:]]*$";

/* A notice that only warns (the message is still queued). */
static const char re_delay_src[] =
    "has been delayed|delivery (is |has been )?delayed|delay(ed)? (notification|notice)|"
    "warning: message .*(delayed|still undelivered)|this is a warning message only|"
    "will (continue to |keep )?(be )?retr(y|ied|ying)|will keep trying|"
    "still (being )?(tr(y|ies|ying)|retried)|transient non-fatal errors|"
    "(has )?not yet been delivered|\\(delay\\)|message is delayed|delayed mail|"
    "not been delivered yet";
/* ... unless it also says the message was given up on. */
static const char re_final_src[] =
    "gave up|giving up|given up|retry time(out)? (exceeded|expired|reached)|"
    "too long in the queue|in the queue too long|permanent(ly)? (error|fail)|"
    "failed permanently|could not be delivered within|has expired|expired after|"
    "permanent fatal errors|this is a permanent error";
/* Sendmail-style section headings that set the status of what follows. */
static const char re_sec_delay_src[] =
    "^[[:space:]]*-+.*(transient|delayed|will be retried|non-fatal).*-+[[:space:]]*$";
static const char re_sec_perm_src[] = "^[[:space:]]*-+.*(permanent|fatal|failed).*-+[[:space:]]*$";
/* The receiving host: "host mx.example.org [192.0.2.1]", "while talking
 * to mx.example.org.:", "... by mx.example.org. [192.0.2.1]". */
static const char re_host_src[] =
    "(host|by|talking to|from|server)[[:space:]]+([a-z0-9][-a-z0-9.]*[a-z0-9])\\.?"
    "[[:space:]]*(\\[([0-9a-f.:]+)\\])?";
/* Failure phrases and subjects that make a message a notice. */
static const char re_notice_src[] =
    "could ?n[o']t be delivered|undeliver|delivery (has )?failed|failed permanently|"
    "permanent (fatal )?error|was not delivered|did not reach|unable to deliver|"
    "not be delivered|delivery to the following|has been delayed|error delivering|"
    "returned mail|mail delivery (failed|failure|system|subsystem)|failure notice|"
    "non-?delivery|delivery status notification|nicht zugestellt|unzustellbar|"
    "non remis|no (se )?(pudo|ha podido) (ser )?entregar|n(ã|a)o (foi )?entregue|"
    "не (может быть |был[оа]? )?доставлен|delivery (notification|problem|report)|"
    "message not delivered|delayed mail|warning: .*delayed";
static const char re_lead_label_src[] =
    "^[[:space:]]*(reason|error|cause|diagnostic|diagnostic-code|problem|details?)"
    "[[:space:]]*:[[:space:]]*";

regex_t btext_re_fam[NFAMILIES], btext_re_cut, btext_re_label, btext_re_lead, btext_re_delay,
    btext_re_final, btext_re_sec_delay, btext_re_sec_perm, btext_re_host, btext_re_notice,
    btext_re_lead_label;
const size_t btext_nfamilies = NFAMILIES;

static void compile(regex_t *re, const char *src, int flags)
{
	int rc = regcomp(re, src, REG_EXTENDED | REG_ICASE | flags);
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof msg);
		panic("bounce_text pattern '%s': %s", src, msg);
	}
}

void btext_init_patterns(void)
{
	static gsize done = 0;
	if (g_once_init_enter(&done)) {
		for (size_t i = 0; i < NFAMILIES; i++)
			compile(&btext_re_fam[i], btext_families[i].re, REG_NOSUB | REG_NEWLINE);
		compile(&btext_re_cut, re_cut_src, REG_NOSUB);
		compile(&btext_re_label, re_label_src, REG_NOSUB);
		compile(&btext_re_lead, re_lead_src, REG_NOSUB);
		compile(&btext_re_delay, re_delay_src, REG_NOSUB | REG_NEWLINE);
		compile(&btext_re_final, re_final_src, REG_NOSUB | REG_NEWLINE);
		compile(&btext_re_sec_delay, re_sec_delay_src, REG_NOSUB);
		compile(&btext_re_sec_perm, re_sec_perm_src, REG_NOSUB);
		compile(&btext_re_host, re_host_src, 0);
		compile(&btext_re_notice, re_notice_src, REG_NOSUB | REG_NEWLINE);
		compile(&btext_re_lead_label, re_lead_label_src, 0);
		g_once_init_leave(&done, 1);
	}
}
