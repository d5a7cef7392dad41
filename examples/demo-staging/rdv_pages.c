/* RDV-Solidarités agent sign-in and admin screens, with Rails/Devise behaviour: CSRF tokens,
 * a session cookie, redirects (never 403) for anonymous or unauthorised agents. */
#include "rdv.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#define SESSION_COOKIE "_rdv_session"

/* Everything a RDV handler needs; the state is locked for the handler's whole run. */
struct rdv_ctx {
  const struct demo *d;
  struct rdv_state *s;
  const struct request *r;
  struct reply *rep;
  struct rdv_session *sess;
  const struct rdv_agent *agent;
};

static void send_session_cookie(struct rdv_ctx *c) {
  char cookie[160];
  snprintf(cookie, sizeof cookie, SESSION_COOKIE "=%s; path=/; HttpOnly; SameSite=Lax",
           c->sess->id);
  reply_set_cookie(c->rep, cookie);
}

/* The request's session, created (and sent as a cookie) when missing. */
static bool ensure_session(struct rdv_ctx *c) {
  if (c->sess)
    return true;
  c->sess = rdv_session_create(c->s);
  if (!c->sess)
    return false;
  send_session_cookie(c);
  return true;
}

static bool csrf_ok(const struct rdv_ctx *c) {
  const char *token = form_get(c->r->form, "authenticity_token");
  if (!c->sess || !token || strlen(token) != RDV_TOKEN_LEN)
    return false;
  return CRYPTO_memcmp(token, c->sess->csrf, RDV_TOKEN_LEN) == 0;
}

static void set_flash(char *slot, size_t size, const char *text) {
  snprintf(slot, size, "%s", text);
}

static void full_name(struct buf *b, const struct rdv_agent *a) {
  buf_add_html(b, a->first_name);
  buf_add(b, " ");
  buf_add_html(b, a->last_name);
}

static void hidden_csrf(struct buf *b, const struct rdv_ctx *c) {
  buf_add(b, "<input type=\"hidden\" name=\"authenticity_token\" value=\"");
  buf_add_html(b, c->sess ? c->sess->csrf : "");
  buf_add(b, "\" autocomplete=\"off\">\n");
}

static void navbar(struct buf *b, const struct rdv_ctx *c) {
  buf_add(b, "<nav id=\"rdv-navbar\" class=\"navbar navbar-expand navbar-dark bg-primary\">\n"
             "<a class=\"navbar-brand\" href=\"/\">RDV Solidarités</a>\n");
  if (c->agent) {
    buf_add(b, "<span id=\"current-agent\" class=\"navbar-text\">");
    full_name(b, c->agent);
    buf_add(b, "</span>\n<form class=\"d-inline\" action=\"/agents/sign_out\" method=\"post\">\n"
               "<input type=\"hidden\" name=\"_method\" value=\"delete\">\n");
    hidden_csrf(b, c);
    buf_add(b, "<button id=\"sign-out\" type=\"submit\" class=\"btn btn-link\">Se déconnecter"
               "</button>\n</form>\n");
  }
  buf_add(b, "</nav>\n");
}

static void menu_link(struct buf *b, const char *id, const char *href, const char *label) {
  buf_addf(b, "<li class=\"nav-item\"><a id=\"%s\" class=\"nav-link\" href=\"%s\">", id, href);
  buf_add_html(b, label);
  buf_add(b, "</a></li>\n");
}

/* The settings side menu of an organisation; the menu regression removes two entries. */
static void settings_menu(struct buf *b, const struct rdv_ctx *c, const struct rdv_org *org) {
  char href[96];
  buf_add(b, "<aside id=\"sidebar\" class=\"left-side-menu\">\n<p class=\"menu-title\">"
             "Paramètres</p>\n<ul id=\"left-submenu-settings\" class=\"left-submenu-settings\">\n");
  snprintf(href, sizeof href, "/admin/organisations/%d", org->id);
  menu_link(b, "menu-organisation", href, "Organisation");
  snprintf(href, sizeof href, "/admin/organisations/%d/lieux", org->id);
  menu_link(b, "menu-lieux", href, "Lieux");
  snprintf(href, sizeof href, "/admin/organisations/%d/motifs", org->id);
  menu_link(b, "menu-motifs", href, "Motifs");
  bool admin = c->s->role[org->id][c->agent->id] == ROLE_ADMIN;
  if (admin && !demo_broken(c->d, BREAK_MENU)) {
    snprintf(href, sizeof href, "/admin/organisations/%d/agents", org->id);
    menu_link(b, "menu-agents", href, "Vos agents");
    snprintf(href, sizeof href, "/admin/organisations/%d/invitations", org->id);
    menu_link(b, "menu-invitations", href, "Vos invitations");
  }
  if (c->s->access[org->territory][c->agent->id].rights & RIGHT_TERRITORY_ADMIN) {
    const struct rdv_territory *t = rdv_territory_by_id(org->territory);
    snprintf(href, sizeof href, "/admin/territories/%d/agents", t->id);
    char label[96];
    snprintf(label, sizeof label, "Territoire %s", t->name);
    menu_link(b, "menu-territory", href, label);
  }
  buf_add(b, "</ul>\n</aside>\n");
}

static void flashes(struct buf *b, struct rdv_ctx *c) {
  if (!c->sess)
    return;
  if (c->sess->notice[0]) {
    buf_add(b, "<div id=\"flash-notice\" class=\"alert alert-success\" role=\"alert\">");
    buf_add_html(b, c->sess->notice);
    buf_add(b, "</div>\n");
    c->sess->notice[0] = '\0';
  }
  if (c->sess->alert[0]) {
    buf_add(b, "<div id=\"flash-alert\" class=\"alert alert-danger\" role=\"alert\">");
    buf_add_html(b, c->sess->alert);
    buf_add(b, "</div>\n");
    c->sess->alert[0] = '\0';
  }
}

static void page_open(struct rdv_ctx *c, unsigned status, const char *title,
                      const struct rdv_org *org) {
  struct buf *b = &c->rep->body;
  reply_html_start(c->rep, status);
  html_open(b, title, "rdv", c->sess ? c->sess->csrf : NULL);
  navbar(b, c);
  buf_add(b, "<div class=\"wrapper\">\n");
  if (org && c->agent)
    settings_menu(b, c, org);
  buf_add(b, "<main class=\"content-page\">\n");
  flashes(b, c);
}

static void page_close(struct rdv_ctx *c) {
  buf_add(&c->rep->body, "</main>\n</div>\n");
  html_close(&c->rep->body, c->d);
}

static void rails_error(struct rdv_ctx *c, unsigned status) {
  reply_html_start(c->rep, status);
  struct buf *b = &c->rep->body;
  html_open(b,
            status == 422 ? "The change you wanted was rejected (422)"
                          : "The page you were looking for doesn't exist (404)",
            "rdv", NULL);
  if (status == 422)
    buf_add(b, "<div class=\"dialog\"><h1>The change you wanted was rejected.</h1>\n"
               "<p>Maybe you tried to change something you didn't have access to.</p></div>\n");
  else
    buf_add(b, "<div class=\"dialog\"><h1>The page you were looking for doesn't exist.</h1>\n"
               "<p>You may have mistyped the address or the page may have moved.</p></div>\n");
  html_close(b, c->d);
}

static void sign_in_form(struct rdv_ctx *c, unsigned status, const char *email, const char *error) {
  page_open(c, status, "Connexion", NULL);
  struct buf *b = &c->rep->body;
  buf_add(b, "<div id=\"sign-in-page\" class=\"container\">\n<h1>Connexion agent</h1>\n");
  if (error) {
    buf_add(b, "<div id=\"flash-alert\" class=\"alert alert-danger\" role=\"alert\">");
    buf_add_html(b, error);
    buf_add(b, "</div>\n");
  }
  buf_add(b, "<form id=\"new_agent\" class=\"new_agent\" action=\"/agents/sign_in\" "
             "accept-charset=\"UTF-8\" method=\"post\">\n");
  hidden_csrf(b, c);
  buf_add(b, "<div class=\"form-group\"><label for=\"agent_email\">Email</label>"
             "<input class=\"form-control\" type=\"email\" name=\"agent[email]\" "
             "id=\"agent_email\" autocomplete=\"email\" value=\"");
  buf_add_html(b, email ? email : "");
  buf_add(b, "\"></div>\n<div class=\"form-group\"><label for=\"agent_password\">Mot de passe"
             "</label><input class=\"form-control\" type=\"password\" name=\"agent[password]\" "
             "id=\"agent_password\" autocomplete=\"current-password\"></div>\n"
             "<input type=\"submit\" name=\"commit\" value=\"Se connecter\" "
             "class=\"btn btn-primary\">\n</form>\n</div>\n");
  page_close(c);
}

/* Where an agent lands after signing in: their organisation's agents screen when they
 * administer it, else its dashboard. */
static void redirect_home(struct rdv_ctx *c) {
  int org = rdv_home_org(c->s, c->agent->id);
  char location[96];
  if (org && c->s->role[org][c->agent->id] == ROLE_ADMIN)
    snprintf(location, sizeof location, "/admin/organisations/%d/agents", org);
  else
    snprintf(location, sizeof location, "/admin/organisations/%d", org);
  reply_redirect(c->rep, 302, location);
}

static void get_sign_in(struct rdv_ctx *c) {
  if (c->agent) {
    set_flash(c->sess->alert, sizeof c->sess->alert, "Vous êtes déjà connecté(e).");
    redirect_home(c);
    return;
  }
  if (!ensure_session(c)) {
    c->rep->body.failed = true;
    return;
  }
  sign_in_form(c, 200, NULL, NULL);
}

static bool password_matches(const struct rdv_agent *a, const char *password) {
  size_t n = strlen(a->password);
  return password && strlen(password) == n && CRYPTO_memcmp(password, a->password, n) == 0;
}

static void post_sign_in(struct rdv_ctx *c) {
  if (!csrf_ok(c)) {
    rails_error(c, 422);
    return;
  }
  const char *email = form_get(c->r->form, "agent[email]");
  const struct rdv_agent *a = email ? rdv_agent_by_email(email) : NULL;
  if (!a || !password_matches(a, form_get(c->r->form, "agent[password]")) ||
      !rdv_home_org(c->s, a->id)) {
    sign_in_form(c, 200, email, "Email ou mot de passe incorrect.");
    return;
  }
  if (!rdv_session_rotate(c->sess)) {
    c->rep->body.failed = true;
    return;
  }
  c->sess->agent = a->id;
  c->agent = a;
  set_flash(c->sess->notice, sizeof c->sess->notice, "Connecté(e).");
  send_session_cookie(c);
  redirect_home(c);
}

static void sign_out(struct rdv_ctx *c) {
  if (c->sess) {
    c->sess->agent = 0;
    if (!rdv_session_rotate(c->sess)) {
      c->rep->body.failed = true;
      return;
    }
    set_flash(c->sess->notice, sizeof c->sess->notice, "Déconnecté(e).");
    send_session_cookie(c);
  }
  reply_redirect(c->rep, 302, "/agents/sign_in");
}

/* Rails' answer to a logged-in agent without the right: back home with an alert, not 403. */
static void not_authorized(struct rdv_ctx *c) {
  set_flash(c->sess->alert, sizeof c->sess->alert, "Vous ne pouvez pas effectuer cette action.");
  char location[64];
  snprintf(location, sizeof location, "/admin/organisations/%d", rdv_home_org(c->s, c->agent->id));
  reply_redirect(c->rep, 302, location);
}

static void dashboard(struct rdv_ctx *c, const struct rdv_org *org) {
  page_open(c, 200, org->name, org);
  struct buf *b = &c->rep->body;
  buf_add(b, "<h1 id=\"organisation-name\">");
  buf_add_html(b, org->name);
  buf_add(b, "</h1>\n<p>Bienvenue ");
  full_name(b, c->agent);
  buf_add(b, ". Retrouvez les paramètres de votre organisation dans le menu.</p>\n");
  page_close(c);
}

static void static_list(struct rdv_ctx *c, const struct rdv_org *org, const char *title,
                        const char *id, const char *const *items, size_t n) {
  page_open(c, 200, title, org);
  struct buf *b = &c->rep->body;
  buf_add(b, "<h1>");
  buf_add_html(b, title);
  buf_addf(b, "</h1>\n<table id=\"%s\" class=\"table\">\n<tbody>\n", id);
  for (size_t i = 0; i < n; i++) {
    buf_add(b, "<tr><td>");
    buf_add_html(b, items[i]);
    buf_add(b, "</td></tr>\n");
  }
  buf_add(b, "</tbody>\n</table>\n");
  page_close(c);
}

static void invitation_form(struct buf *b, const struct rdv_ctx *c, const struct rdv_org *org) {
  buf_addf(b,
           "<h2>Inviter un agent</h2>\n<form id=\"new_agent_invitation\" "
           "action=\"/admin/organisations/%d/invitations\" method=\"post\">\n",
           org->id);
  hidden_csrf(b, c);
  buf_add(b, "<div class=\"form-group\"><label for=\"invitation_email\">Email</label>"
             "<input class=\"form-control\" type=\"email\" id=\"invitation_email\" name=\"email\" "
             "required></div>\n<div class=\"form-group\"><label for=\"invitation_territory\">"
             "Territoire</label><select class=\"form-control\" id=\"invitation_territory\" "
             "name=\"territory\">\n");
  for (size_t i = 0; i < RDV_TERRITORIES; i++) {
    buf_addf(b, "<option value=\"%d\"%s>", rdv_territories[i].id,
             rdv_territories[i].id == org->territory ? " selected" : "");
    buf_add_html(b, rdv_territories[i].name);
    buf_add(b, "</option>\n");
  }
  buf_add(b, "</select></div>\n<button type=\"submit\" class=\"btn btn-primary\">"
             "Envoyer une invitation</button>\n</form>\n");
}

static size_t pending_count(const struct rdv_state *s, int org) {
  size_t n = 0;
  for (size_t i = 0; i < s->invitation_count; i++)
    if (s->invitations[i].org == org)
      n++;
  return n;
}

static void agents_page(struct rdv_ctx *c, const struct rdv_org *org, unsigned status,
                        const char *error) {
  page_open(c, status, "Agents", org);
  struct buf *b = &c->rep->body;
  buf_add(b, "<h1>Agents de ");
  buf_add_html(b, org->name);
  buf_add(b, "</h1>\n");
  if (error) {
    buf_add(b, "<div id=\"error_explanation\" class=\"alert alert-danger\">");
    buf_add_html(b, error);
    buf_add(b, "</div>\n");
  }
  size_t pending = pending_count(c->s, org->id);
  buf_addf(b,
           "<p id=\"pending-invitations\" class=\"pending-invitations\" data-count=\"%zu\">"
           "<a href=\"/admin/organisations/%d/invitations\">",
           pending, org->id);
  if (pending == 0)
    buf_add(b, "Aucune invitation en attente");
  else
    buf_addf(b, "%zu invitation%s en attente", pending, pending > 1 ? "s" : "");
  buf_add(b, "</a></p>\n<table id=\"agents\" class=\"table\">\n<thead><tr><th>Nom</th>"
             "<th>Email</th><th>Rôle</th></tr></thead>\n<tbody>\n");
  for (int id = 1; id <= RDV_AGENTS; id++) {
    int role = c->s->role[org->id][id];
    if (role == ROLE_NONE)
      continue;
    const struct rdv_agent *a = rdv_agent_by_id(id);
    buf_addf(b, "<tr id=\"agent_%d\"><td class=\"agent-name\">", id);
    full_name(b, a);
    buf_add(b, "</td><td class=\"agent-email\">");
    buf_add_html(b, a->email);
    buf_addf(b, "</td><td class=\"agent-role\">%s</td></tr>\n",
             role == ROLE_ADMIN ? "Admin" : "Basique");
  }
  buf_add(b, "</tbody>\n</table>\n");
  invitation_form(b, c, org);
  page_close(c);
}

static void invitations_page(struct rdv_ctx *c, const struct rdv_org *org) {
  page_open(c, 200, "Invitations", org);
  struct buf *b = &c->rep->body;
  buf_add(b, "<h1>Invitations en attente</h1>\n<table id=\"invitations\" class=\"table\">\n"
             "<thead><tr><th>Email</th><th>Territoire</th></tr></thead>\n<tbody>\n");
  for (size_t i = 0; i < c->s->invitation_count; i++) {
    const struct rdv_invitation *inv = &c->s->invitations[i];
    if (inv->org != org->id)
      continue;
    buf_addf(b, "<tr id=\"invitation_%d\"><td class=\"invitation-email\">", inv->id);
    buf_add_html(b, inv->email);
    buf_add(b, "</td><td class=\"invitation-territory\">");
    buf_add_html(b, rdv_territory_by_id(inv->territory)->name);
    buf_add(b, "</td></tr>\n");
  }
  buf_add(b, "</tbody>\n</table>\n");
  invitation_form(b, c, org);
  page_close(c);
}

static bool email_valid(const char *email) {
  size_t n = strlen(email);
  const char *at = strchr(email, '@');
  if (n < 3 || n >= sizeof((struct rdv_invitation *)0)->email || !at || at == email || !at[1])
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)email[i] <= ' ' || email[i] == '<' || email[i] == '>')
      return false;
  return strchr(at + 1, '@') == NULL;
}

static void post_invitation(struct rdv_ctx *c, const struct rdv_org *org) {
  if (!csrf_ok(c)) {
    rails_error(c, 422);
    return;
  }
  const char *email = form_get(c->r->form, "email");
  const char *territory = form_get(c->r->form, "territory");
  const struct rdv_territory *t = NULL;
  if (territory && territory[0] >= '1' && territory[0] <= '9' && !territory[1])
    t = rdv_territory_by_id(territory[0] - '0');
  if (!email || !email_valid(email)) {
    agents_page(c, org, 422, "Email n'est pas valide");
    return;
  }
  if (!t) {
    agents_page(c, org, 422, "Territoire doit exister");
    return;
  }
  char message[256];
  if (!rdv_invite(c->s, org->id, t->id, email, demo_broken(c->d, BREAK_ACCESS_RIGHTS), message,
                  sizeof message)) {
    agents_page(c, org, 422, message);
    return;
  }
  set_flash(c->sess->notice, sizeof c->sess->notice, message);
  char location[96];
  snprintf(location, sizeof location, "/admin/organisations/%d/agents", org->id);
  reply_redirect(c->rep, 302, location);
}

static void territory_agents(struct rdv_ctx *c, const struct rdv_territory *t) {
  int home = rdv_home_org(c->s, c->agent->id);
  page_open(c, 200, "Agents du territoire", rdv_org_by_id(home));
  struct buf *b = &c->rep->body;
  buf_add(b, "<h1>Agents du territoire ");
  buf_add_html(b, t->name);
  buf_addf(b,
           "</h1>\n<table id=\"territory-agents\" class=\"table\" data-territory-id=\"%d\">\n"
           "<thead><tr><th>Nom</th><th>Email</th><th>Droits d'accès</th></tr></thead>\n"
           "<tbody>\n",
           t->id);
  for (int id = 1; id <= RDV_AGENTS; id++) {
    const struct rdv_access *acc = &c->s->access[t->id][id];
    if (!acc->present)
      continue;
    const struct rdv_agent *a = rdv_agent_by_id(id);
    buf_addf(b, "<tr id=\"agent_%d\"><td class=\"agent-name\">", id);
    full_name(b, a);
    buf_add(b, "</td><td class=\"agent-email\">");
    buf_add_html(b, a->email);
    buf_add(b, "</td><td class=\"access-rights\">");
    if (!acc->rights)
      buf_add(b, "<span class=\"no-rights\">Aucun droit particulier</span>");
    else
      buf_add(b, "<ul>");
    for (size_t i = 0; i < rdv_right_count; i++)
      if (acc->rights & rdv_rights[i].bit)
        buf_addf(b, "<li class=\"access-right\" data-right=\"%s\">%s</li>", rdv_rights[i].key,
                 rdv_rights[i].label);
    buf_add(b, acc->rights ? "</ul></td></tr>\n" : "</td></tr>\n");
  }
  buf_add(b, "</tbody>\n</table>\n");
  page_close(c);
}

static void organisation_routes(struct rdv_ctx *c, const struct rdv_org *org) {
  const struct request *r = c->r;
  int role = c->s->role[org->id][c->agent->id];
  bool is_get = req_is(r, "GET");
  static const char *const lieux[] = {"France Services Valence centre, 12 rue Madier de Montjau",
                                      "Antenne de Fontbarlettes, 4 place Paul Bert"};
  static const char *const motifs[] = {"Accompagnement RSA (sur place)",
                                       "Aide aux démarches en ligne (téléphone)",
                                       "Premier rendez-vous d'orientation"};
  if (r->nseg == 3 && is_get) {
    if (role == ROLE_NONE)
      not_authorized(c);
    else
      dashboard(c, org);
  } else if (r->nseg == 4 && is_get && (req_seg(r, 3, "lieux") || req_seg(r, 3, "motifs"))) {
    bool l = req_seg(r, 3, "lieux");
    if (role == ROLE_NONE)
      not_authorized(c);
    else
      static_list(c, org, l ? "Lieux" : "Motifs", l ? "lieux" : "motifs", l ? lieux : motifs,
                  l ? 2 : 3);
  } else if (r->nseg == 4 && req_seg(r, 3, "agents") && is_get) {
    if (role != ROLE_ADMIN)
      not_authorized(c);
    else
      agents_page(c, org, 200, NULL);
  } else if (r->nseg == 4 && req_seg(r, 3, "invitations") && (is_get || req_is(r, "POST"))) {
    if (role != ROLE_ADMIN)
      not_authorized(c);
    else if (is_get)
      invitations_page(c, org);
    else
      post_invitation(c, org);
  } else {
    rails_error(c, 404);
  }
}

static void admin_routes(struct rdv_ctx *c) {
  const struct request *r = c->r;
  long id;
  if (!c->agent) {
    reply_redirect(c->rep, 302, "/agents/sign_in");
    return;
  }
  if (r->nseg >= 3 && req_seg(r, 1, "organisations") && req_id(r, 2, &id) && rdv_org_by_id(id)) {
    organisation_routes(c, rdv_org_by_id(id));
  } else if (r->nseg == 4 && req_seg(r, 1, "territories") && req_id(r, 2, &id) &&
             rdv_territory_by_id(id) && req_seg(r, 3, "agents") && req_is(r, "GET")) {
    if (c->s->access[id][c->agent->id].rights & RIGHT_TERRITORY_ADMIN)
      territory_agents(c, rdv_territory_by_id(id));
    else
      not_authorized(c);
  } else {
    rails_error(c, 404);
  }
}

static void agents_routes(struct rdv_ctx *c) {
  const struct request *r = c->r;
  if (r->nseg == 2 && req_seg(r, 1, "sign_in") && req_is(r, "GET"))
    get_sign_in(c);
  else if (r->nseg == 2 && req_seg(r, 1, "sign_in") && req_is(r, "POST"))
    post_sign_in(c);
  else if (r->nseg == 2 && req_seg(r, 1, "sign_out") && (req_is(r, "POST") || req_is(r, "DELETE")))
    sign_out(c);
  else
    rails_error(c, 404);
}

bool rdv_route(const struct demo *d, const struct request *r, struct reply *rep) {
  if (!req_seg(r, 0, "agents") && !req_seg(r, 0, "admin"))
    return false;
  struct rdv_ctx c = {.d = d, .s = d->rdv, .r = r, .rep = rep};
  rdv_lock(c.s);
  c.sess = rdv_session_find(c.s, req_cookie(r, SESSION_COOKIE));
  if (c.sess && c.sess->agent)
    c.agent = rdv_agent_by_id(c.sess->agent);
  if (req_seg(r, 0, "agents"))
    agents_routes(&c);
  else
    admin_routes(&c);
  rdv_unlock(c.s);
  return true;
}
