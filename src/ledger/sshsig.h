/* Signed decisions: OpenSSH signatures (`ssh-keygen -Y sign|verify`, namespace "uatrun")
 * over a decision's canonical bytes. ssh-keygen runs as a child process, never through a
 * shell. Ownership: *sig is the caller's. */
#ifndef UAT_SSHSIG_H
#define UAT_SSHSIG_H

#include "gate/gate.h"
#include "util/error.h"

#include <stddef.h>

#define UAT_SSHSIG_NAMESPACE "uatrun"

/* Signs data with the private key at key_path; *sig receives the armored signature. */
int uat_sshsig_sign(const char *key_path, const char *data, size_t len, char **sig,
                    struct uat_error *err);

/* 0 when sig is a valid signature of data by principal per allowed_signers (OpenSSH
 * allowed_signers format); -1 with err saying why not. */
int uat_sshsig_verify(const char *allowed_signers, const char *principal, const char *data,
                      size_t len, const char *sig, struct uat_error *err);

/* Signs d's canonical bytes (uat_ledger_canonical_decision) with key_path and sets
 * d->signature (the caller frees it). */
int uat_sshsig_sign_decision(const char *key_path, struct uat_decision *d, struct uat_error *err);

/* Checks one recorded decision: signed, and by its signer. 0, or -1 with err naming the
 * decision (row, item, signer) and what is wrong. */
int uat_sshsig_verify_decision(const char *allowed_signers, const struct uat_decision *d,
                               struct uat_error *err);

#endif
