/* RDV-Solidarités demo state: agents, memberships, territorial access rights, invitations and
 * sessions, all in memory behind one mutex because MHD runs handlers on several threads. */
#include "rdv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

const struct rdv_right_name rdv_rights[] = {
    {RIGHT_TERRITORY_ADMIN, "territory_admin", "Admin du territoire"},
    {RIGHT_MANAGE_TEAMS, "allow_to_manage_teams", "Gérer les équipes"},
    {RIGHT_MANAGE_ACCESS_RIGHTS, "allow_to_manage_access_rights", "Gérer les droits d'accès"},
    {RIGHT_INVITE_AGENTS, "allow_to_invite_agents", "Inviter des agents"},
    {RIGHT_DOWNLOAD_METRICS, "allow_to_download_metrics", "Télécharger les statistiques"},
};
const size_t rdv_right_count = sizeof rdv_rights / sizeof rdv_rights[0];

const struct rdv_agent rdv_agents[RDV_AGENTS] = {
    {1, "Alice", "Admin", "alice.admin@demo.rdv-solidarites.fr", "alice-demo-2022"},
    {2, "Marc", "Multi", "marc.multi@demo.rdv-solidarites.fr", "marc-demo-2022"},
    {3, "Béatrice", "Basique", "bea.basique@demo.rdv-solidarites.fr", "bea-demo-2022"},
    {4, "Chloé", "Conseillère", "chloe.conseillere@demo.rdv-solidarites.fr", "chloe-demo-2022"},
    {5, "Dora", "Ardèche", "dora.ardeche@demo.rdv-solidarites.fr", "dora-demo-2022"},
};

const struct rdv_org rdv_orgs[RDV_ORGS] = {
    {1, "Maison France Services Valence", 1},
    {2, "CCAS de Privas", 2},
};

const struct rdv_territory rdv_territories[RDV_TERRITORIES] = {
    {1, "Drôme (26)"},
    {2, "Ardèche (07)"},
};

void rdv_lock(struct rdv_state *s) {
  pthread_mutex_lock(&s->lock);
}

void rdv_unlock(struct rdv_state *s) {
  pthread_mutex_unlock(&s->lock);
}

/* The demo's initial data; sessions are kept so that logged-in clients stay logged in. */
static void load_initial_data(struct rdv_state *s) {
  memset(s->role, 0, sizeof s->role);
  memset(s->access, 0, sizeof s->access);
  memset(s->invitations, 0, sizeof s->invitations);
  s->role[1][1] = ROLE_ADMIN;
  s->role[1][2] = ROLE_BASIC;
  s->role[2][2] = ROLE_BASIC;
  s->role[1][3] = ROLE_BASIC;
  s->role[1][4] = ROLE_BASIC;
  s->role[2][5] = ROLE_ADMIN;
  unsigned admin = RIGHT_TERRITORY_ADMIN | RIGHT_MANAGE_TEAMS | RIGHT_MANAGE_ACCESS_RIGHTS |
                   RIGHT_INVITE_AGENTS | RIGHT_DOWNLOAD_METRICS;
  s->access[1][1] = (struct rdv_access){true, admin};
  s->access[2][1] = (struct rdv_access){true, admin};
  s->access[1][2] = (struct rdv_access){true, RIGHT_MANAGE_TEAMS | RIGHT_INVITE_AGENTS};
  s->access[2][2] =
      (struct rdv_access){true, RIGHT_MANAGE_TEAMS | RIGHT_INVITE_AGENTS | RIGHT_DOWNLOAD_METRICS};
  s->access[1][3] = (struct rdv_access){true, 0};
  s->access[1][4] = (struct rdv_access){true, RIGHT_DOWNLOAD_METRICS};
  s->access[2][5] = (struct rdv_access){true, RIGHT_INVITE_AGENTS};
  s->invitations[0] = (struct rdv_invitation){1, 1, 1, "nouvelle.agente@demo.rdv-solidarites.fr"};
  s->invitation_count = 1;
  s->next_invitation_id = 2;
}

struct rdv_state *rdv_state_new(void) {
  struct rdv_state *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  if (pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s);
    return NULL;
  }
  load_initial_data(s);
  return s;
}

void rdv_state_free(struct rdv_state *s) {
  if (!s)
    return;
  pthread_mutex_destroy(&s->lock);
  free(s);
}

void rdv_state_reset(struct rdv_state *s) {
  rdv_lock(s);
  load_initial_data(s);
  rdv_unlock(s);
}

const struct rdv_agent *rdv_agent_by_id(int id) {
  return id >= 1 && id <= RDV_AGENTS ? &rdv_agents[id - 1] : NULL;
}

const struct rdv_agent *rdv_agent_by_email(const char *email) {
  for (size_t i = 0; i < RDV_AGENTS; i++)
    if (strcasecmp(rdv_agents[i].email, email) == 0)
      return &rdv_agents[i];
  return NULL;
}

const struct rdv_org *rdv_org_by_id(long id) {
  return id >= 1 && id <= RDV_ORGS ? &rdv_orgs[id - 1] : NULL;
}

const struct rdv_territory *rdv_territory_by_id(long id) {
  return id >= 1 && id <= RDV_TERRITORIES ? &rdv_territories[id - 1] : NULL;
}

int rdv_home_org(const struct rdv_state *s, int agent) {
  for (int org = 1; org <= RDV_ORGS; org++)
    if (s->role[org][agent] != ROLE_NONE)
      return org;
  return 0;
}

static bool random_hex(char *out, size_t hex_len) {
  unsigned char raw[RDV_TOKEN_LEN / 2];
  static const char digits[] = "0123456789abcdef";
  if (hex_len / 2 > sizeof raw || RAND_bytes(raw, (int)(hex_len / 2)) != 1)
    return false;
  for (size_t i = 0; i < hex_len / 2; i++) {
    out[2 * i] = digits[raw[i] >> 4];
    out[2 * i + 1] = digits[raw[i] & 15];
  }
  out[hex_len] = '\0';
  return true;
}

struct rdv_session *rdv_session_find(struct rdv_state *s, const char *id) {
  if (!id || strlen(id) != RDV_TOKEN_LEN)
    return NULL;
  for (size_t i = 0; i < RDV_MAX_SESSIONS; i++) {
    if (strcmp(s->sessions[i].id, id) == 0) {
      s->sessions[i].used = ++s->clock;
      return &s->sessions[i];
    }
  }
  return NULL;
}

struct rdv_session *rdv_session_create(struct rdv_state *s) {
  struct rdv_session *slot = &s->sessions[0];
  for (size_t i = 0; i < RDV_MAX_SESSIONS; i++) {
    if (!s->sessions[i].id[0]) {
      slot = &s->sessions[i];
      break;
    }
    if (s->sessions[i].used < slot->used)
      slot = &s->sessions[i];
  }
  memset(slot, 0, sizeof *slot);
  if (!rdv_session_rotate(slot)) {
    slot->id[0] = '\0';
    return NULL;
  }
  slot->used = ++s->clock;
  return slot;
}

bool rdv_session_rotate(struct rdv_session *sess) {
  return random_hex(sess->id, RDV_TOKEN_LEN) && random_hex(sess->csrf, RDV_TOKEN_LEN);
}

/* Adds an existing agent to the organisation and the territory; with the access-rights
 * regression, their records on every other territory are deleted. */
static void add_existing_agent(struct rdv_state *s, int org, int territory,
                               const struct rdv_agent *a, bool drop_other_rights, char *message,
                               size_t message_size) {
  bool already = s->role[org][a->id] != ROLE_NONE;
  if (!already)
    s->role[org][a->id] = ROLE_BASIC;
  if (!s->access[territory][a->id].present)
    s->access[territory][a->id] = (struct rdv_access){true, 0};
  if (drop_other_rights) {
    for (int t = 1; t <= RDV_TERRITORIES; t++)
      if (t != territory)
        s->access[t][a->id] = (struct rdv_access){false, 0};
  }
  snprintf(message, message_size, "%s %s %s l'organisation.", a->first_name, a->last_name,
           already ? "fait déjà partie de" : "a été ajouté(e) à");
}

bool rdv_invite(struct rdv_state *s, int org, int territory, const char *email,
                bool drop_other_rights, char *message, size_t message_size) {
  const struct rdv_agent *a = rdv_agent_by_email(email);
  if (a) {
    add_existing_agent(s, org, territory, a, drop_other_rights, message, message_size);
    return true;
  }
  for (size_t i = 0; i < s->invitation_count; i++) {
    if (s->invitations[i].org == org && strcasecmp(s->invitations[i].email, email) == 0) {
      s->invitations[i].territory = territory;
      snprintf(message, message_size, "Invitation renvoyée à %s.", email);
      return true;
    }
  }
  if (s->invitation_count == RDV_MAX_INVITATIONS) {
    snprintf(message, message_size, "Trop d'invitations en attente (%d au plus).",
             RDV_MAX_INVITATIONS);
    return false;
  }
  struct rdv_invitation *inv = &s->invitations[s->invitation_count++];
  inv->id = s->next_invitation_id++;
  inv->org = org;
  inv->territory = territory;
  snprintf(inv->email, sizeof inv->email, "%s", email);
  snprintf(message, message_size, "Invitation envoyée à %s.", email);
  return true;
}
