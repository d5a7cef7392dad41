/* The playbook digest: SHA-256 over the playbook file and every Lua file its
 * checks may load (their scripts, the playbook's checklists/ folder, and every
 * bundled module). A changed check means a changed digest, and so new sign-offs. */
#ifndef UAT_DIGEST_H
#define UAT_DIGEST_H

#include "util/error.h"
#include "playbook/playbook.h"

#define UAT_DIGEST_HEX 65

/* bundled_dir: the bundled checklists folder (may be NULL). Returns 0 or -1 with err set. */
int uat_playbook_digest(const struct uat_playbook *pb, const char *bundled_dir,
                        char out[UAT_DIGEST_HEX], struct uat_error *err);

/* SHA-256 of data as 64 lowercase hex digits. */
void uat_sha256_hex(const void *data, size_t len, char out[UAT_DIGEST_HEX]);

#endif
