/* RDV-Solidarités demo: fixed agents, the mutable admin state, and Rails-like sessions.
 * Every function below except rdv_lock itself must be called with the state locked. */
#ifndef UAT_DEMO_RDV_H
#define UAT_DEMO_RDV_H

#include "demo.h"

#include <pthread.h>

#define RDV_AGENTS 5
#define RDV_ORGS 2
#define RDV_TERRITORIES 2
#define RDV_MAX_INVITATIONS 50
#define RDV_MAX_SESSIONS 1024
#define RDV_TOKEN_LEN 64

enum rdv_role { ROLE_NONE = 0, ROLE_BASIC = 1, ROLE_ADMIN = 2 };

/* Territorial access rights (agent_territorial_access_rights columns) and the admin role. */
enum rdv_right {
  RIGHT_TERRITORY_ADMIN = 1u << 0,
  RIGHT_MANAGE_TEAMS = 1u << 1,
  RIGHT_MANAGE_ACCESS_RIGHTS = 1u << 2,
  RIGHT_INVITE_AGENTS = 1u << 3,
  RIGHT_DOWNLOAD_METRICS = 1u << 4,
};

struct rdv_right_name {
  unsigned bit;
  const char *key;
  const char *label;
};
extern const struct rdv_right_name rdv_rights[];
extern const size_t rdv_right_count;

struct rdv_agent {
  int id;
  const char *first_name;
  const char *last_name;
  const char *email;
  const char *password;
};

struct rdv_org {
  int id;
  const char *name;
  int territory;
};

struct rdv_territory {
  int id;
  const char *name;
};

extern const struct rdv_agent rdv_agents[RDV_AGENTS];
extern const struct rdv_org rdv_orgs[RDV_ORGS];
extern const struct rdv_territory rdv_territories[RDV_TERRITORIES];

/* An access-rights record: present means the agent belongs to the territory. */
struct rdv_access {
  bool present;
  unsigned rights;
};

struct rdv_invitation {
  int id;
  int org;
  int territory;
  char email[128];
};

struct rdv_session {
  char id[RDV_TOKEN_LEN + 1]; /* empty: free slot */
  char csrf[RDV_TOKEN_LEN + 1];
  int agent; /* 0: anonymous */
  char notice[256];
  char alert[256];
  unsigned long long used;
};

struct rdv_state {
  pthread_mutex_t lock;
  int role[RDV_ORGS + 1][RDV_AGENTS + 1];
  struct rdv_access access[RDV_TERRITORIES + 1][RDV_AGENTS + 1];
  struct rdv_invitation invitations[RDV_MAX_INVITATIONS];
  size_t invitation_count;
  int next_invitation_id;
  struct rdv_session sessions[RDV_MAX_SESSIONS];
  unsigned long long clock;
};

void rdv_lock(struct rdv_state *s);
void rdv_unlock(struct rdv_state *s);

const struct rdv_agent *rdv_agent_by_id(int id);
const struct rdv_agent *rdv_agent_by_email(const char *email);
const struct rdv_org *rdv_org_by_id(long id);
const struct rdv_territory *rdv_territory_by_id(long id);
/* The organisation an agent lands on: the first one they belong to, 0 if none. */
int rdv_home_org(const struct rdv_state *s, int agent);

/* The session named by a cookie value, or NULL. */
struct rdv_session *rdv_session_find(struct rdv_state *s, const char *id);
/* A fresh anonymous session (evicting the least recently used); NULL if randomness failed. */
struct rdv_session *rdv_session_create(struct rdv_state *s);
/* New id and CSRF token for a session, as Rails does on log-in (no session fixation). */
bool rdv_session_rotate(struct rdv_session *sess);

/* Invites email to territory within org; sets message to the flash text. Returns false with
 * message set when the invitation is refused. */
bool rdv_invite(struct rdv_state *s, int org, int territory, const char *email,
                bool drop_other_rights, char *message, size_t message_size);

#endif
